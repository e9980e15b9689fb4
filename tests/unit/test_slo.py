"""SLO classification from live readings, and the PromQL that fetches them.

Boundaries: the outage line and burn factors are `>=` (DESIGN: "at or above"); the
error-ratio SLO and Apdex are strict (the seeds: "above its error ratio SLO", "below its
Apdex SLO"), so a service exactly at its SLO is operational.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta

import pytest

from firstresponder.domain.slo import (
    DEFAULT_BURN_WINDOWS,
    BurnWindow,
    Readings,
    SloSpec,
    classify,
)
from firstresponder.domain.slo_queries import (
    PromqlSource,
    PyrraSource,
    SloSource,
    SlothSource,
    format_window,
    render_query,
)
from firstresponder.domain.vocabulary import Impact

M5, M30, H1, H2, H6, D1, D3 = (
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
)
NAN, INF = math.nan, math.inf
OPS, DEG, PART, OUT = (
    Impact.OPERATIONAL,
    Impact.DEGRADED,
    Impact.PARTIAL_DISRUPTION,
    Impact.OUTAGE,
)
SPEC = SloSpec(objective=0.999, outage_line=0.05, apdex_objective=0.9, parts_label="region")
UNSPLIT = SloSpec(objective=0.999, outage_line=0.05)


def regions(eu: float, us: float, ap: float) -> dict[str, float]:
    return {"eu": eu, "us": us, "ap": ap}


def read(
    parts: Mapping[str, float] | None = None,
    windows: Mapping[timedelta, float] | None = None,
    apdex: float | None = None,
) -> Readings:
    return Readings(dict(parts or {}), dict(windows or {}), apdex)


QUIET = regions(0.0005, 0.0002, 0.0001)

CASES = [
    # (id, readings, previous, impact, words the reason must contain)
    ("operational", read(QUIET, {M5: 0.0004}, 0.97), None, OPS, "error ratio 0.04% ≤ SLO 0.1%"),
    (
        "degraded-slo",
        read(QUIET, {M5: 0.002}),
        None,
        DEG,
        "error ratio 0.2% > SLO 0.1% (99.9% objective) over 5m",
    ),
    (
        "partial-some-parts",
        read(regions(0.072, 0.01, 0.0)),
        None,
        PART,
        "error ratio 7.2% ≥ outage line 5% in 1 of 3 regions (eu) over 5m",
    ),
    (
        "outage-all-parts",
        read(regions(0.072, 0.08, 0.06)),
        None,
        OUT,
        "error ratio 6%–8% ≥ outage line 5% in all 3 regions (eu, us, ap) over 5m",
    ),
    ("no-part-crosses", read(regions(0.04, 0.03, 0.02)), None, DEG, "error ratio 3% > SLO 0.1%"),
    # boundaries
    (
        "at-outage-line-is-outage",
        read(regions(0.05, 0.05, 0.05)),
        None,
        OUT,
        "error ratio 5% ≥ outage line 5% in all 3 regions",
    ),
    (
        "just-under-outage-line",
        read(regions(0.0499, 0.0499, 0.0499)),
        None,
        DEG,
        "error ratio 4.99% > SLO",
    ),
    ("at-slo-is-operational", read(QUIET, {M5: 0.001}), None, OPS, "error ratio 0.1% ≤ SLO 0.1%"),
    ("just-over-slo", read(QUIET, {M5: 0.0011}), None, DEG, "error ratio 0.11% > SLO 0.1%"),
    ("at-apdex-objective", read(QUIET, {M5: 0.0}, 0.9), None, OPS, "Apdex 0.9 ≥ objective 0.9"),
    (
        "under-apdex-objective",
        read(QUIET, {M5: 0.0}, 0.85),
        None,
        DEG,
        "Apdex 0.85 < objective 0.9 over 5m",
    ),
    (
        "at-page-factor",
        read(QUIET, {H1: 0.0144, M5: 0.0144}),
        None,
        PART,
        "page burn: error budget burning at 14.4× over 1h and 14.4× over 5m (≥ 14.4×)",
    ),
    # burn windows: both must fire; the 6h/30m pair keeps the 5m sustain reading quiet
    (
        "burn-long-only",
        read(QUIET, {H6: 0.01, M30: 0.001, M5: 0.0005}),
        None,
        OPS,
        "error ratio 0.05% ≤ SLO",
    ),
    (
        "burn-short-only",
        read(QUIET, {H6: 0.001, M30: 0.01, M5: 0.0005}),
        None,
        OPS,
        "error ratio 0.05% ≤ SLO",
    ),
    (
        "burn-both",
        read(QUIET, {H6: 0.007, M30: 0.007, M5: 0.0005}),
        None,
        PART,
        "page burn: error budget burning at 7× over 6h and 7× over 30m (≥ 6×)",
    ),
    (
        "ticket-burn-is-degraded",
        read(QUIET, {D1: 0.004, H2: 0.004, M5: 0.0005}),
        None,
        DEG,
        "ticket burn: error budget burning at 4× over 1d and 4× over 2h (≥ 3×)",
    ),
    (
        "slow-ticket-burn",
        read(QUIET, {D3: 0.0012, H6: 0.0012, M5: 0.0005}),
        None,
        DEG,
        "ticket burn: error budget burning at 1.2× over 3d",
    ),
    # hysteresis: a level's thresholds drop by 10% while the previous impact is at it
    (
        "outage-holds-near-line",
        read(regions(0.047, 0.048, 0.049)),
        OUT,
        OUT,
        "≥ outage line 4.5% (5% less 10% hysteresis) in all 3 regions",
    ),
    ("outage-ends-well-below", read(regions(0.04, 0.04, 0.04)), OUT, DEG, "error ratio 4% > SLO"),
    (
        "partial-holds-near-line",
        read(regions(0.046, 0.01, 0.0)),
        PART,
        PART,
        "error ratio 4.6% ≥ outage line 4.5% (5% less 10% hysteresis) in 1 of 3 regions (eu)",
    ),
    (
        "no-hold-without-previous",
        read(regions(0.046, 0.01, 0.0)),
        None,
        DEG,
        "error ratio 1.867% > SLO",
    ),
    (
        "no-hold-from-lower-level",
        read(regions(0.047, 0.048, 0.049)),
        DEG,
        DEG,
        "> SLO 0.09% (0.1% less 10% hysteresis)",
    ),
    (
        "outage-drop-holds-partial",
        read(regions(0.047, 0.01, 0.0)),
        OUT,
        PART,
        "4.7% ≥ outage line 4.5% (5% less 10% hysteresis) in 1 of 3 regions (eu)",
    ),
    (
        "degraded-holds-near-slo",
        read(QUIET, {M5: 0.00095}),
        DEG,
        DEG,
        "error ratio 0.095% > SLO 0.09% (0.1% less 10% hysteresis)",
    ),
    (
        "degraded-ends-well-below",
        read(QUIET, {M5: 0.0008}),
        DEG,
        OPS,
        "error ratio 0.08% ≤ SLO 0.09%",
    ),
    ("page-burn-holds", read(QUIET, {H1: 0.0135, M5: 0.0005}), PART, OPS, "error ratio 0.05%"),
    (
        "page-burn-holds-both",
        read(QUIET, {H1: 0.0135, M5: 0.0135}),
        PART,
        PART,
        "(≥ 13× (14.4× less 10% hysteresis))",
    ),
    (
        "apdex-holds",
        read(QUIET, {M5: 0.0}, 0.905),
        DEG,
        DEG,
        "Apdex 0.905 < objective 0.91 (0.9 less 10% hysteresis)",
    ),
    ("apdex-recovers", read(QUIET, {M5: 0.0}, 0.92), DEG, OPS, "Apdex 0.92 ≥ objective 0.91"),
    # no data and infinities
    ("empty", read(), None, OPS, "no data"),
    (
        "all-parts-nan",
        read(regions(NAN, NAN, NAN)),
        None,
        OPS,
        "no data for region eu, region us, region ap",
    ),
    (
        "nan-part-ignored",
        read(regions(0.07, 0.06, NAN)),
        None,
        OUT,
        "in all 2 regions (eu, us) over 5m; no data for region ap",
    ),
    (
        "nan-burn-window",
        read(QUIET, {H1: NAN, M5: 0.02}),
        None,
        DEG,
        "error ratio 2% > SLO 0.1% (99.9% objective) over 5m; no data for 1h",
    ),
    ("nan-apdex", read(QUIET, {M5: 0.0}, NAN), None, OPS, "no data for Apdex"),
    (
        "inf-in-one-part",
        read(regions(INF, 0.0, 0.0)),
        None,
        PART,
        "error ratio +Inf ≥ outage line 5% in 1 of 3 regions (eu)",
    ),
    (
        "inf-everywhere",
        read(regions(INF, INF, INF)),
        None,
        OUT,
        "error ratio +Inf ≥ outage line 5% in all 3 regions",
    ),
    (
        "inf-burn",
        read(QUIET, {H1: INF, M5: INF}),
        None,
        PART,
        "burning at +Inf over 1h and +Inf over 5m",
    ),
]


@pytest.mark.parametrize(
    ("readings", "previous", "impact", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_classify(readings: Readings, previous: Impact | None, impact: Impact, words: str) -> None:
    verdict = classify(SPEC, readings, previous)
    assert (verdict.impact, words in verdict.reason) == (impact, True), verdict.reason


@pytest.mark.parametrize(
    ("readings", "impact", "reason"),
    [
        (read({"": 0.07}), OUT, "error ratio 7% ≥ outage line 5% over 5m"),
        (read(windows={M5: 0.07}), OUT, "error ratio 7% ≥ outage line 5% over 5m"),
        (
            read({"": NAN}, {M5: 0.002}),
            DEG,
            "error ratio 0.2% > SLO 0.1% (99.9% objective) over 5m",
        ),
        (read({"": NAN}), OPS, "no data for the error ratio"),
    ],
    ids=["one-part", "sustain-window-only", "nan-part-uses-service-window", "nan-unsplit"],
)
def test_unsplit_service(readings: Readings, impact: Impact, reason: str) -> None:
    verdict = classify(UNSPLIT, readings)
    assert (verdict.impact, verdict.reason) == (impact, reason)


def test_service_wide_ratio_prefers_the_sustain_window_over_the_mean_of_parts() -> None:
    # Parts are quiet but the service-wide 5m ratio (one busy region dominates) is not.
    assert classify(SPEC, read(QUIET, {M5: 0.002})).impact is DEG
    mean = classify(SPEC, read(regions(0.006, 0.0, 0.0)))
    assert mean.impact is DEG
    slo = next(e for e in mean.evidence if e.kind == "error_ratio")
    assert slo.value == pytest.approx(0.002)
    assert slo.note == "mean of 3 region values"


def test_no_hysteresis_means_a_line_is_a_line() -> None:
    spec = SloSpec(objective=0.999, outage_line=0.05, parts_label="region", hysteresis=0.0)
    assert classify(spec, read(regions(0.049, 0.049, 0.049)), OUT).impact is DEG


def test_evidence_names_the_threshold_applied_and_the_parts() -> None:
    verdict = classify(SPEC, read(regions(0.047, 0.01, NAN), {H1: 0.02, M5: 0.02}), PART)
    rows = [e.as_dict() for e in verdict.evidence]
    assert rows[0] == {
        "kind": "outage_line",
        "value": 0.047,
        "threshold": pytest.approx(0.045),
        "window": "5m",
        "parts": ["eu"],
        "crossed": True,
        "note": "",
        "query": "",
    }
    assert (rows[1]["kind"], rows[1]["value"], rows[1]["parts"]) == ("outage_line", "NaN", ["ap"])
    burns = [(r["window"], r["value"], r["crossed"]) for r in rows if r["kind"] == "burn_rate"]
    assert burns == [("1h", pytest.approx(20.0), True), ("5m", pytest.approx(20.0), True)]
    assert verdict.reason.endswith("; no data for region ap")


def test_evidence_spells_infinity_like_prometheus() -> None:
    verdict = classify(SPEC, read(regions(INF, INF, INF)))
    assert verdict.evidence[0].as_dict()["value"] == "+Inf"


def test_windows_to_query_cover_sustain_and_every_burn_window() -> None:
    assert SPEC.windows == (M5, M30, H1, H2, H6, D1, D3)
    assert SloSpec(0.99, 0.1, sustain=timedelta(minutes=10), burn_windows=()).windows == (
        timedelta(minutes=10),
    )


def test_default_burn_windows_are_the_sre_workbook_table() -> None:
    table = [
        (b.severity, b.factor, format_window(b.long), format_window(b.short))
        for b in DEFAULT_BURN_WINDOWS
    ]
    assert table == [
        ("page", 14.4, "1h", "5m"),
        ("page", 6.0, "6h", "30m"),
        ("ticket", 3.0, "1d", "2h"),
        ("ticket", 1.0, "3d", "6h"),
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SloSpec(objective=1.0, outage_line=0.05),
        lambda: SloSpec(objective=0.999, outage_line=0.0),
        lambda: SloSpec(objective=0.999, outage_line=0.05, hysteresis=1.0),
        lambda: SloSpec(objective=0.999, outage_line=0.05, apdex_objective=1.5),
        lambda: BurnWindow("page", 14.4, M5, H1),
        lambda: BurnWindow("page", 0.0, H1, M5),
    ],
    ids=[
        "objective-1",
        "outage-line-0",
        "hysteresis-1",
        "apdex-over-1",
        "short-longer",
        "factor-0",
    ],
)
def test_bad_specs_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    ("window", "text"),
    [
        (M5, "5m"),
        (H1, "1h"),
        (D1, "1d"),
        (D3, "3d"),
        (timedelta(hours=1, minutes=30), "90m"),
        (timedelta(hours=36), "36h"),
        (timedelta(seconds=30), "30s"),
        (timedelta(milliseconds=1500), "1500ms"),
    ],
)
def test_format_window_the_prometheus_way(window: timedelta, text: str) -> None:
    assert format_window(window) == text


def test_format_window_refuses_zero() -> None:
    with pytest.raises(ValueError):
        format_window(timedelta(0))


SLOTH = SlothSource(service="checkout", slo="requests-availability")
PYRRA = PyrraSource(slo="checkout-errors", metric="http_requests")
SLOTH_SELECTOR = '{sloth_service="checkout",sloth_slo="requests-availability"}'
TEMPLATE = (
    'sum {{by}} (rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}])) '
    '/ sum {{by}} (rate(http_requests_total{job="checkout"}[{{window}}]))'
)


@pytest.mark.parametrize(
    ("source", "window", "parts", "promql"),
    [
        (SLOTH, M5, None, f"slo:sli_error:ratio_rate5m{SLOTH_SELECTOR}"),
        (SLOTH, D3, "region", f"max by (region) (slo:sli_error:ratio_rate3d{SLOTH_SELECTOR})"),
        (PYRRA, H1, None, 'http_requests:burnrate1h{slo="checkout-errors"}'),
        (PYRRA, M5, "region", 'max by (region) (http_requests:burnrate5m{slo="checkout-errors"})'),
        (
            PromqlSource(TEMPLATE),
            M5,
            "region",
            'sum by (region) (rate(http_requests_total{job="checkout",code=~"5.."}[5m])) '
            '/ sum by (region) (rate(http_requests_total{job="checkout"}[5m]))',
        ),
        (
            PromqlSource(TEMPLATE),
            timedelta(hours=1, minutes=30),
            None,
            'sum  (rate(http_requests_total{job="checkout",code=~"5.."}[90m])) '
            '/ sum  (rate(http_requests_total{job="checkout"}[90m]))',
        ),
        (
            PromqlSource("job:errors:ratio_rate{{window}}"),
            H6,
            "region",
            "job:errors:ratio_rate6h",
        ),
    ],
    ids=[
        "sloth",
        "sloth-parts",
        "pyrra",
        "pyrra-parts",
        "promql-parts",
        "promql-service",
        "promql-as-is",
    ],
)
def test_render_query(source: SloSource, window: timedelta, parts: str | None, promql: str) -> None:
    rendered = render_query(source, window, parts)
    assert (rendered.promql, rendered.window, rendered.note) == (promql, window, "")


@pytest.mark.parametrize(
    ("asked", "used"),
    [
        (timedelta(days=4), "3d"),
        (timedelta(minutes=15), "5m"),
        (timedelta(hours=12), "6h"),
        (timedelta(hours=15), "1d"),
        (timedelta(minutes=1), "5m"),
    ],
)
def test_sloth_falls_back_to_the_nearest_recorded_window_and_says_so(
    asked: timedelta, used: str
) -> None:
    rendered = render_query(SLOTH, asked, None)
    assert rendered.promql == f"slo:sli_error:ratio_rate{used}{SLOTH_SELECTOR}"
    assert rendered.note == (
        f"Sloth records no {format_window(asked)} error ratio; using its {used} rule instead"
    )


def test_label_values_are_quoted_for_promql() -> None:
    rendered = render_query(SlothSource(service='a"b', slo="c\\d"), M5)
    assert rendered.promql == 'slo:sli_error:ratio_rate5m{sloth_service="a\\"b",sloth_slo="c\\\\d"}'


def test_promql_template_needs_a_window() -> None:
    with pytest.raises(ValueError, match="window"):
        PromqlSource("sum(rate(errors[5m]))")
