"""Impact from live SLO readings: outage line, burn rates, error-ratio SLO and Apdex.

The rules are the seeds' "Definition of Outage vs Degraded" made exact:
- outage: the sustain-window error ratio is at or above the outage line (`>=`) in every
  part that has data;
- partial_disruption: the outage line is crossed in some parts, or a page burn window
  fires (burn rate `>=` factor over both its long and its short window);
- degraded: the service-wide sustain-window error ratio is strictly above the SLO's
  error budget (`>`, the seeds say "above"), Apdex is strictly below its objective, or a
  ticket burn window fires;
- operational otherwise.
The service-wide error ratio is `error_ratio_by_window[sustain]` when given (query it
like the burn windows; `SloSpec.windows` includes it); failing that, the unweighted
mean of the parts, which is only an estimate when parts carry unequal traffic.
NaN is "no data" (ignored, and said so); +Inf is above every threshold. Comparisons
forgive float noise (0.0144 / 0.001 is not 14.4), so a value at a threshold is exactly at
it: `>=` fires and `>` does not.
Hysteresis: when `previous` is at or above a level, that level's thresholds are relaxed
by `hysteresis` (x * (1 - h); for Apdex the shortfall 1 - apdex is relaxed the same way),
so a reading hovering at a line does not flap between levels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from .slo_evidence import (
    Evidence,
    SloVerdict,
    apdex_text,
    join_parts,
    pct,
    pct_range,
    threshold_text,
    times,
)
from .slo_queries import format_window
from .vocabulary import Impact

__all__ = [
    "DEFAULT_BURN_WINDOWS",
    "BurnWindow",
    "Evidence",
    "Readings",
    "SloSpec",
    "SloVerdict",
    "classify",
]

BurnSeverity = Literal["page", "ticket"]


@dataclass(frozen=True)
class BurnWindow:
    """Fires when the burn rate is at least `factor` over both `long` and `short`."""

    severity: BurnSeverity
    factor: float
    long: timedelta
    short: timedelta

    def __post_init__(self) -> None:
        if self.severity not in ("page", "ticket"):
            raise ValueError(f"burn window severity must be page or ticket, got {self.severity!r}")
        if self.factor <= 0:
            raise ValueError(f"burn window factor must be positive, got {self.factor}")
        if not timedelta(0) < self.short <= self.long:
            raise ValueError(
                f"burn window needs 0 < short <= long, got {self.short} and {self.long}"
            )

    @property
    def impact(self) -> Impact:
        return Impact.PARTIAL_DISRUPTION if self.severity == "page" else Impact.DEGRADED


# The SRE Workbook's multiwindow, multi-burn-rate table for a 30-day SLO.
DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
    BurnWindow("page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
    BurnWindow("ticket", 3.0, timedelta(days=1), timedelta(hours=2)),
    BurnWindow("ticket", 1.0, timedelta(days=3), timedelta(hours=6)),
)


@dataclass(frozen=True)
class SloSpec:
    objective: float
    outage_line: float
    apdex_objective: float | None = None
    parts_label: str | None = None
    sustain: timedelta = timedelta(minutes=5)
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    hysteresis: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.objective < 1:
            raise ValueError(f"objective must be between 0 and 1, got {self.objective}")
        if not 0 < self.outage_line <= 1:
            raise ValueError(f"outage_line must be in (0, 1], got {self.outage_line}")
        if self.apdex_objective is not None and not 0 < self.apdex_objective <= 1:
            raise ValueError(f"apdex_objective must be in (0, 1], got {self.apdex_objective}")
        if not 0 <= self.hysteresis < 1:
            raise ValueError(f"hysteresis must be in [0, 1), got {self.hysteresis}")

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective, 12)  # 1 - 0.999 is 0.0010000000000000009

    @property
    def windows(self) -> tuple[timedelta, ...]:
        """Every service-wide window to query: the sustain window and each burn window."""
        found = {self.sustain}
        for burn in self.burn_windows:
            found.update((burn.long, burn.short))
        return tuple(sorted(found))


@dataclass(frozen=True)
class Readings:
    """What Prometheus said over the sustain window (by part) and each window (service-wide).

    Parts are keyed by their `parts_label` value, or one part `""` when not split. NaN
    means queried but no data (an empty answer, or 0/0 with no traffic) and is reported;
    a window absent from the mapping was not queried and is skipped silently.
    """

    error_ratio_by_part: Mapping[str, float] = field(default_factory=dict)
    error_ratio_by_window: Mapping[timedelta, float] = field(default_factory=dict)
    apdex: float | None = None


@dataclass(frozen=True)
class _Check:
    evidence: tuple[Evidence, ...]
    level: Impact | None = None
    text: str = ""
    missing: tuple[str, ...] = ()


class _Thresholds:
    """A level's thresholds, relaxed by the hysteresis while `previous` is at or above it."""

    def __init__(self, spec: SloSpec, previous: Impact | None) -> None:
        self._h = spec.hysteresis
        self._previous = previous

    def relaxed(self, level: Impact) -> bool:
        return self._h > 0 and self._previous is not None and level <= self._previous

    def upper(self, base: float, level: Impact) -> float:
        return base * (1 - self._h) if self.relaxed(level) else base

    def apdex(self, base: float) -> float:
        return 1 - (1 - base) * (1 - self._h) if self.relaxed(Impact.DEGRADED) else base


def at_or_above(value: float, threshold: float) -> bool:
    return value >= threshold or math.isclose(value, threshold, rel_tol=1e-9)


def above(value: float, threshold: float) -> bool:
    return value > threshold and not math.isclose(value, threshold, rel_tol=1e-9)


def classify(spec: SloSpec, readings: Readings, previous: Impact | None = None) -> SloVerdict:
    """The impact the readings show, why (with the numbers), and the evidence."""
    limits = _Thresholds(spec, previous)
    service, service_note = _service_ratio(spec, readings)
    within = [_slo(spec, service, service_note, limits), _apdex(spec, readings.apdex, limits)]
    checks = [
        _outage_line(spec, _parts(readings, service), limits),
        *(_burn(spec, burn, readings, limits) for burn in spec.burn_windows),
        *within,
    ]
    evidence = tuple(item for check in checks for item in check.evidence)
    missing = list(dict.fromkeys(name for check in checks for name in check.missing))
    gaps = [f"no data for {', '.join(missing)}"] if missing else []
    if all(math.isnan(item.value) for item in evidence):
        return SloVerdict(Impact.OPERATIONAL, "; ".join(gaps) or "no data", evidence)
    impact = max((c.level for c in checks if c.level), default=Impact.OPERATIONAL)
    explaining = within if impact is Impact.OPERATIONAL else checks
    texts = [c.text for c in explaining if c.text and (c.level or Impact.OPERATIONAL) is impact]
    return SloVerdict(impact, "; ".join(texts + gaps) or impact.value, evidence)


def _service_ratio(spec: SloSpec, readings: Readings) -> tuple[float, str]:
    direct = readings.error_ratio_by_window.get(spec.sustain, math.nan)
    if not math.isnan(direct):
        return direct, "service-wide"
    values = [v for k, v in readings.error_ratio_by_part.items() if k and not math.isnan(v)]
    if not values:
        return readings.error_ratio_by_part.get("", math.nan), "service-wide"
    noun = spec.parts_label or "part"
    return math.fsum(values) / len(values), f"mean of {len(values)} {noun} values"


def _parts(readings: Readings, service: float) -> Mapping[str, float]:
    """The parts to hold against the outage line; the service as one part if none has data."""
    parts = dict(readings.error_ratio_by_part)
    if all(math.isnan(value) for value in parts.values()) and not math.isnan(service):
        parts.pop("", None)
        parts[""] = service
    return parts


def _outage_line(spec: SloSpec, parts: Mapping[str, float], limits: _Thresholds) -> _Check:
    window = spec.sustain
    data = {name: value for name, value in parts.items() if not math.isnan(value)}
    no_data = tuple(name for name, value in parts.items() if math.isnan(value))
    gaps = (_gap(spec, no_data, window),) if no_data else ()
    missing = tuple(_part_name(spec, name) for name in no_data)
    if not data:
        return _Check(gaps, missing=missing)
    for level in (Impact.OUTAGE, Impact.PARTIAL_DISRUPTION):
        line = limits.upper(spec.outage_line, level)
        hit = {n: v for n, v in data.items() if at_or_above(v, line)}
        if hit and (level is Impact.PARTIAL_DISRUPTION or len(hit) == len(data)):
            text = (
                f"error ratio {pct_range(hit.values())} ≥ outage line "
                f"{threshold_text(spec.outage_line, line, spec.hysteresis, pct)}"
                f"{join_parts(spec.parts_label, tuple(hit), tuple(data))} over {format_window(window)}"
            )
            found = Evidence("outage_line", min(hit.values()), line, window, tuple(hit), True)
            return _Check((found, *gaps), level, text, missing)
    line = limits.upper(spec.outage_line, Impact.PARTIAL_DISRUPTION)
    return _Check(
        (Evidence("outage_line", max(data.values()), line, window), *gaps), missing=missing
    )


def _gap(spec: SloSpec, no_data: tuple[str, ...], window: timedelta) -> Evidence:
    note = "no data for " + ", ".join(_part_name(spec, name) for name in no_data)
    return Evidence("outage_line", math.nan, spec.outage_line, window, no_data, note=note)


def _part_name(spec: SloSpec, name: str) -> str:
    return f"{spec.parts_label or 'part'} {name}" if name else "the error ratio"


def _burn(spec: SloSpec, burn: BurnWindow, readings: Readings, limits: _Thresholds) -> _Check:
    factor = limits.upper(burn.factor, burn.impact)
    label = f"{burn.severity} {times(burn.factor)} over {format_window(burn.long)} & {format_window(burn.short)}"
    found: list[Evidence] = []
    for window in (burn.long, burn.short):
        if window not in readings.error_ratio_by_window:
            continue  # not queried: nothing to show, and the pair cannot fire
        rate = readings.error_ratio_by_window[window] / spec.error_budget
        crossed = not math.isnan(rate) and at_or_above(rate, factor)
        note = f"no data for {format_window(window)}" if math.isnan(rate) else label
        found.append(Evidence("burn_rate", rate, factor, window, (), crossed, note))
    missing = tuple(format_window(e.window) for e in found if math.isnan(e.value))
    if len(found) < 2 or not all(e.crossed for e in found):
        return _Check(tuple(found), missing=missing)
    text = (
        f"{burn.severity} burn: error budget burning at {times(found[0].value)} over "
        f"{format_window(burn.long)} and {times(found[1].value)} over {format_window(burn.short)} "
        f"(≥ {threshold_text(burn.factor, factor, spec.hysteresis, times)})"
    )
    return _Check(tuple(found), burn.impact, text, missing)


def _slo(spec: SloSpec, ratio: float, note: str, limits: _Thresholds) -> _Check:
    window = spec.sustain
    limit = limits.upper(spec.error_budget, Impact.DEGRADED)
    if math.isnan(ratio):
        # Only when no part has data either, which the outage-line check already says.
        return _Check((Evidence("error_ratio", ratio, limit, window, note="no data"),))
    crossed = above(ratio, limit)
    sign = ">" if crossed else "≤"
    text = (
        f"error ratio {pct(ratio)} {sign} SLO {threshold_text(spec.error_budget, limit, spec.hysteresis, pct)} "
        f"({pct(spec.objective)} objective) over {format_window(window)}"
    )
    found = Evidence("error_ratio", ratio, limit, window, (), crossed, note)
    return _Check((found,), Impact.DEGRADED if crossed else None, text)


def _apdex(spec: SloSpec, apdex: float | None, limits: _Thresholds) -> _Check:
    if spec.apdex_objective is None or apdex is None:
        return _Check(())
    window = spec.sustain
    limit = limits.apdex(spec.apdex_objective)
    if math.isnan(apdex):
        return _Check(
            (Evidence("apdex", apdex, limit, window, note="no data for Apdex"),), missing=("Apdex",)
        )
    crossed = above(limit, apdex)
    sign = "<" if crossed else "≥"
    text = (
        f"Apdex {apdex_text(apdex)} {sign} objective "
        f"{threshold_text(spec.apdex_objective, limit, spec.hysteresis, apdex_text)} over {format_window(window)}"
    )
    found = Evidence("apdex", apdex, limit, window, (), crossed)
    return _Check((found,), Impact.DEGRADED if crossed else None, text)
