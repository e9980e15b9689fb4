"""What an SLO classification shows for itself: evidence rows and the numbers in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .slo_queries import format_window
from .vocabulary import Impact

EvidenceKind = str  # "outage_line" | "burn_rate" | "error_ratio" | "apdex"
_MAX_NAMED_PARTS = 8


@dataclass(frozen=True)
class Evidence:
    """One reading against one threshold.

    `value` is NaN when there was no data. For `outage_line` it is the lowest ratio among
    the crossing `parts` (all of them are at least that), or the highest ratio measured
    when none crossed. `threshold` is the one applied, after any hysteresis. `query` is
    empty here: the pure core does not know it, the caller may fill it in (`replace`).
    """

    kind: EvidenceKind
    value: float
    threshold: float
    window: timedelta
    parts: tuple[str, ...] = ()
    crossed: bool = False
    note: str = ""
    query: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: non-finite numbers are spelled the way Prometheus spells them."""
        return {
            "kind": self.kind,
            "value": _json_number(self.value),
            "threshold": _json_number(self.threshold),
            "window": format_window(self.window),
            "parts": list(self.parts),
            "crossed": self.crossed,
            "note": self.note,
            "query": self.query,
        }


@dataclass(frozen=True)
class SloVerdict:
    impact: Impact
    reason: str
    evidence: tuple[Evidence, ...] = ()


def _json_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "no data"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def pct(ratio: float) -> str:
    """0.072 -> '7.2%', 0.0010000000000000009 -> '0.1%'."""
    return _special(ratio) or f"{ratio * 100:.4g}%"


def times(rate: float) -> str:
    """A burn rate: 14.4 -> '14.4×'."""
    return _special(rate) or f"{rate:.3g}×"


def apdex_text(score: float) -> str:
    return _special(score) or f"{score:.4g}"


def pct_range(values: Iterable[float]) -> str:
    """'7.2%' for one value (or several that print alike), else '5.1%–7.2%'."""
    found = sorted(values)
    low, high = pct(found[0]), pct(found[-1])
    return low if low == high else f"{low}–{high}"


def threshold_text(base: float, used: float, hysteresis: float, fmt: Callable[[float], str]) -> str:
    """'5%', or '4.5% (5% less 10% hysteresis)' when the threshold was relaxed."""
    if used == base:
        return fmt(base)
    return f"{fmt(used)} ({fmt(base)} less {hysteresis * 100:.3g}% hysteresis)"


def join_parts(label: str | None, hit: tuple[str, ...], measured: tuple[str, ...]) -> str:
    """' in all 3 regions (eu, us, ap)', ' in 1 of 3 regions (eu)', or '' when unsplit."""
    if not any(measured):
        return ""
    noun = label or "part"
    names = _names(hit)
    if len(measured) == 1:
        return f" in {noun} {names}"
    plural = noun if noun.endswith("s") else f"{noun}s"
    if len(hit) == len(measured):
        return f" in all {len(measured)} {plural} ({names})"
    return f" in {len(hit)} of {len(measured)} {plural} ({names})"


def _names(parts: tuple[str, ...]) -> str:
    shown = ", ".join(parts[:_MAX_NAMED_PARTS])
    more = len(parts) - _MAX_NAMED_PARTS
    return f"{shown}, +{more} more" if more > 0 else shown
