"""PromQL for the error ratios the SLO classifier reads, from Sloth, Pyrra or a template.

Sloth records `slo:sli_error:ratio_rate<window>{sloth_service=..., sloth_slo=...}` for a
fixed set of windows; a window it does not record falls back to the nearest one it does,
and the rendered query says so. Pyrra records `<metric>:burnrate<window>{slo=...}`, which
despite the name is an error ratio, not a burn rate. A `promql` template is the team's own
query with `{{window}}` where the range goes and, optionally, `{{by}}` where a
`by (<parts label>)` clause goes (empty for the service-wide query); without `{{by}}` the
template is used as written for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SLOTH_WINDOWS: tuple[timedelta, ...] = tuple(
    timedelta(minutes=m) for m in (5, 30, 60, 120, 360, 1440, 4320)
)
WINDOW_PLACEHOLDER = "{{window}}"
BY_PLACEHOLDER = "{{by}}"

_UNITS = (
    ("d", timedelta(days=1)),
    ("h", timedelta(hours=1)),
    ("m", timedelta(minutes=1)),
    ("s", timedelta(seconds=1)),
    ("ms", timedelta(milliseconds=1)),
)


@dataclass(frozen=True)
class SlothSource:
    """Sloth's recording rules for one SLO (`sloth_service`, `sloth_slo` labels)."""

    service: str
    slo: str


@dataclass(frozen=True)
class PyrraSource:
    """Pyrra's recording rules: `metric` is the prefix, e.g. `http_requests`."""

    slo: str
    metric: str


@dataclass(frozen=True)
class PromqlSource:
    """A team's own error-ratio query with `{{window}}` (and optionally `{{by}}`)."""

    template: str

    def __post_init__(self) -> None:
        if WINDOW_PLACEHOLDER not in self.template:
            raise ValueError(
                f"promql template must contain {WINDOW_PLACEHOLDER}: {self.template!r}"
            )


SloSource = SlothSource | PyrraSource | PromqlSource


@dataclass(frozen=True)
class RenderedQuery:
    """The PromQL for one window; `window` is what it really reads (see `note`)."""

    promql: str
    requested: timedelta
    window: timedelta
    note: str = ""


def format_window(value: timedelta) -> str:
    """Prometheus range syntax in one unit: 5m, 1h, 1d, 3d; 1h30m becomes 90m."""
    if value <= timedelta(0):
        raise ValueError(f"window must be positive, got {value}")
    for unit, size in _UNITS:
        count, rest = divmod(value, size)
        if not rest:
            return f"{count}{unit}"
    raise ValueError(f"window {value} is finer than a millisecond")


def nearest_sloth_window(window: timedelta) -> timedelta:
    """The recorded Sloth window closest to `window`; on a tie, the longer (less noisy) one."""
    return min(SLOTH_WINDOWS, key=lambda w: (abs(w - window), -w))


def render_query(
    source: SloSource, window: timedelta, parts_label: str | None = None
) -> RenderedQuery:
    """The error-ratio query over `window`, split `by (parts_label)` when one is given."""
    if isinstance(source, SlothSource):
        return _sloth(source, window, parts_label)
    if isinstance(source, PyrraSource):
        selector = f"{source.metric}:burnrate{format_window(window)}{{slo={_quote(source.slo)}}}"
        return RenderedQuery(_split(selector, parts_label), window, window)
    by = f"by ({parts_label})" if parts_label else ""
    promql = source.template.replace(WINDOW_PLACEHOLDER, format_window(window))
    return RenderedQuery(promql.replace(BY_PLACEHOLDER, by), window, window)


def _sloth(source: SlothSource, window: timedelta, parts_label: str | None) -> RenderedQuery:
    used = nearest_sloth_window(window)
    note = ""
    if used != window:
        note = (
            f"Sloth records no {format_window(window)} error ratio; "
            f"using its {format_window(used)} rule instead"
        )
    labels = f"sloth_service={_quote(source.service)},sloth_slo={_quote(source.slo)}"
    selector = f"slo:sli_error:ratio_rate{format_window(used)}{{{labels}}}"
    return RenderedQuery(_split(selector, parts_label), window, used, note)


def _split(selector: str, parts_label: str | None) -> str:
    return f"max by ({parts_label}) ({selector})" if parts_label else selector


def _quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
