"""Rule unit tests (`firstresponder test-rules`): the notation, the runner, the errors."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from firstresponder.cli import main
from firstresponder.domain.rules import ServiceRule, SloRule
from firstresponder.domain.slo import SloSpec
from firstresponder.domain.slo_queries import PromqlSource
from firstresponder.domain.vocabulary import Impact
from firstresponder.errors import ConfigError
from firstresponder.metrics import Metrics
from firstresponder.prometheus import PrometheusClient, Sample
from firstresponder.rule_tests import UnexpectedQuery, run_test, run_test_files
from firstresponder.rule_tests_file import load_test_file
from firstresponder.rule_tests_format import parse_series
from firstresponder.slo_eval import SloEvaluator

REPO = Path(__file__).parent.parent.parent
SHIPPED_TESTS = sorted((REPO / "rules").glob("*_test.yaml"))
NAN = math.nan

TEMPLATE = (
    'sum {{by}} (rate(req_total{job="shop",code=~"5.."}[{{window}}]))'
    ' / sum {{by}} (rate(req_total{job="shop"}[{{window}}]))'
)
SHOP: dict[str, Any] = {
    "name": "shop",
    "match": ['job="shop"'],
    "slo": {
        "objective": 0.999,
        "outage_line": 0.05,
        "parts_label": "region",
        "source": {"promql": {"error_ratio": TEMPLATE}},
    },
}
SLOTH: dict[str, Any] = {
    "name": "pay",
    "match": ['sloth_service="pay"'],
    "slo": {"objective": 0.999, "outage_line": 0.05, "source": {"sloth": {"slo": "avail"}}},
}
LABELS_ONLY: dict[str, Any] = {"name": "legacy", "match": ['job="legacy"']}


def write_files(tmp_path: Path, tests: list[dict[str, Any]] | Any, **top: Any) -> Path:
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump({"services": [SHOP, SLOTH, LABELS_ONLY]}))
    doc = {"rule_files": ["shop.yaml"], "evaluation_interval": "1m", "tests": tests, **top}
    path = tmp_path / "shop_test.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def case(expect: list[dict[str, Any]], service: str = "shop", **inputs: Any) -> dict[str, Any]:
    return {"name": "a case", "service": service, "input": inputs, "expect": expect}


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["test-rules", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# The series notation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0.001 0.08x2", (0.001, 0.08, 0.08, 0.08)),
        ("1+1x3", (1.0, 2.0, 3.0, 4.0)),
        ("-2+4x3", (-2.0, 2.0, 6.0, 10.0)),
        ("1-2x4", (1.0, -1.0, -3.0, -5.0, -7.0)),
        ("1x0", (1.0,)),
        ("1e-3x1 .5", (0.001, 0.001, 0.5)),
        ("_ 1 _x2 stale", (None, 1.0, None, None, None)),
        ("NaN +Inf -Inf Infx1", (NAN, math.inf, -math.inf, math.inf, math.inf)),
        ("  ", ()),
    ],
)
def test_series_in_promtools_expanding_notation(
    text: str, values: tuple[float | None, ...]
) -> None:
    got = parse_series(text)
    assert len(got) == len(values)
    for g, v in zip(got, values, strict=True):
        if v is None or g is None:
            assert g is v
        elif math.isnan(v):
            assert math.isnan(g)
        else:
            assert g == pytest.approx(v)


@pytest.mark.parametrize("text", ["x4", "1x", "1_000", "abc", "1+x3", "0.1,0.2", "+Inf x4"])
def test_series_notation_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_series(text)


# Running ------------------------------------------------------------------------------

OUTAGE_THEN_RECOVERY = case(
    [
        {"at": "0m", "impact": "operational"},
        {"at": "2m", "impact": "outage", "reason_contains": "in all 2 regions (eu, us)"},
        {"at": "5m", "impact": "outage", "reason_contains": "5% less 10% hysteresis"},
        {"at": "7m", "impact": "partial_disruption", "reason_contains": "1 of 2 regions (eu)"},
        {"at": "9m", "impact": "degraded"},
        {"at": "11m", "impact": "operational"},
    ],
    error_ratio={"default": "0.0002x11", "5m": "0.0002x1 0.1x2 0.046x1 0.03x1 0.002x1 0.0005"},
    error_ratio_by_part={
        "eu": "0.0002x1 0.1x2 0.046x3 0.002x1 0.0001",
        "us": "0.0002x1 0.1x2 0.046x1 0.01x1 0.002x1 0.0001",
    },
)


def test_a_passing_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(write_files(tmp_path, [OUTAGE_THEN_RECOVERY]), capsys)
    assert (code, err) == (0, ""), out
    assert "  PASS  a case" in out
    assert out.rstrip().endswith("1 passed, 0 failed\nSUCCESS")


def test_a_failing_file_exits_1_with_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = case(
        [
            {"at": "1m", "impact": "operational"},
            {"at": "2m", "impact": "partial_disruption"},
            {"at": "3m", "impact": "outage", "reason_contains": "the moon"},
        ],
        error_ratio={"default": "0.0002x5"},
        error_ratio_by_part={"eu": "0.0002 0.0002 0.1x3", "us": "0.0002 0.0002 0.1x3"},
    )
    code, out, _ = run(write_files(tmp_path, [OUTAGE_THEN_RECOVERY, wrong]), capsys)
    assert code == 1
    assert "  PASS  a case" in out and "  FAIL  a case" in out
    assert "at 1m:" not in out
    diff = out[out.index("FAIL") :]
    assert "at 2m:\n" in diff
    assert "expected: partial_disruption\n" in diff
    assert "got: outage, reason: error ratio 10% ≥ outage line 5% in all 2 regions" in diff
    assert "at 3m:\n" in diff
    assert "expected: outage, reason containing 'the moon'\n" in diff
    assert "1 passed, 1 failed" in out and out.rstrip().endswith("FAILED")


def test_missing_data_is_no_verdict_and_the_previous_impact_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 4.7% is an outage only while the previous impact is one: the gap must not reset it.
    tests = [
        case(
            [
                {"at": "0m", "impact": "outage"},
                {"at": "1m", "impact": "no_data", "reason_contains": "returned no data"},
                {"at": "2m", "impact": "no_data"},
                {"at": "3m", "impact": "outage", "reason_contains": "4.5% (5% less"},
                {"at": "5m", "impact": "no_data"},  # after the last value: no answer
            ],
            error_ratio={"default": "0.0002 _x2 0.0002"},
            error_ratio_by_part={"eu": "0.1 _ NaN 0.047", "us": "0.1 _ NaN 0.047"},
        )
    ]
    code, out, _ = run(write_files(tmp_path, tests), capsys)
    assert code == 0, out


def test_a_region_without_traffic_is_reported_not_taken_for_minus_infinity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = [
        case(
            [
                {"at": "0m", "impact": "outage", "reason_contains": "no data for region eu"},
                {"at": "1m", "impact": "outage", "reason_contains": "in region us"},
            ],
            error_ratio={"5m": "NaNx1"},  # the sustain window has no data: the mean of parts
            error_ratio_by_part={"eu": "NaN _", "us": "0.2x1"},
        )
    ]
    code, out, _ = run(write_files(tmp_path, tests), capsys)
    assert code == 0, out
    assert "-Inf" not in out


def test_sloth_windows_are_keyed_by_the_recorded_window_they_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sloth = dict(SLOTH, slo={**SLOTH["slo"], "sustain": "10m"})  # Sloth records 5m, not 10m
    (tmp_path / "pay.yaml").write_text(yaml.safe_dump({"services": [sloth]}))
    windows = {"default": "0.0002x3", "5m": "0.1x3", "1h": "0.02x3"}
    expect = [{"at": "3m", "impact": "outage"}]
    doc = {"rule_files": ["pay.yaml"], "tests": [case(expect, "pay", error_ratio=windows)]}
    path = tmp_path / "pay_test.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert run(path, capsys)[0] == 0
    windows["10m"] = "0.1x3"
    doc["tests"] = [case(expect, "pay", error_ratio=windows)]
    path.write_text(yaml.safe_dump(doc))
    code, _, err = run(path, capsys)
    assert code == 1
    assert "tests[0].input.error_ratio.10m: the rule queries no 10m window" in err
    assert "(it queries 5m, 30m, 1h, 2h, 6h, 1d, 3d)" in err


def test_a_template_without_by_answers_both_queries_from_the_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = 'max by (region) (err:ratio_rate{{window}}{job="shop"})'
    shop = dict(SHOP, slo={**SHOP["slo"], "source": {"promql": {"error_ratio": template}}})
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump({"services": [shop]}))
    expect = [{"at": "0m", "impact": "partial_disruption", "reason_contains": "1 of 2"}]
    good = case(expect, error_ratio_by_part={"eu": "0.1", "us": "0.0002"})
    doc = {"rule_files": ["shop.yaml"], "tests": [good]}
    path = tmp_path / "shop_test.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert run(path, capsys)[0] == 0
    doc["tests"] = [dict(good, input={**good["input"], "error_ratio": {"5m": "0.1"}})]
    path.write_text(yaml.safe_dump(doc))
    code, _, err = run(path, capsys)
    assert code == 1
    assert "tests[0].input.error_ratio.5m: the rule's query for 5m is also its parts query" in err


def test_several_files_run_and_any_failure_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    good = write_files(tmp_path / "a", [OUTAGE_THEN_RECOVERY])
    bad = tmp_path / "missing_test.yaml"
    assert run_test_files([good, bad]) == 1
    captured = capsys.readouterr()
    assert "1 passed, 0 failed" in captured.out
    assert f"{bad}: cannot load" in captured.err


# Bad files: every problem names the file and the key ----------------------------------

EXPECT_OK = [{"at": "1m", "impact": "operational"}]


@pytest.mark.parametrize(
    ("tests", "top", "message"),
    [
        ([case(EXPECT_OK, colour="red")], {}, "tests[0].input: unknown key(s) 'colour'"),
        (
            [case([{"at": "1m", "impact": "sideways"}])],
            {},
            "tests[0].expect[0].impact: bad value 'sideways': 'sideways' is not one of",
        ),
        ([case([{"at": "1 minute", "impact": "outage"}])], {}, "tests[0].expect[0].at: bad value"),
        (
            [case([{"at": "90s", "impact": "outage"}])],
            {},
            "tests[0].expect[0].at: 90s is not a multiple of evaluation_interval 1m",
        ),
        ([case([{"impact": "outage"}])], {}, "tests[0].expect[0]: 'at' is a required property"),
        (
            [{"name": "x", "service": "shop", "input": {}}],
            {},
            "tests[0]: 'expect' is a required property",
        ),
        (
            [case(EXPECT_OK, error_ratio={"5m": 0.1})],
            {},
            "tests[0].input.error_ratio.5m: bad value 0.1",
        ),
        (
            [case(EXPECT_OK, error_ratio={"5m": "0.1 oops"})],
            {},
            "tests[0].input.error_ratio.5m: cannot read 'oops'",
        ),
        (
            [case(EXPECT_OK, error_ratio={"five": "0"})],
            {},
            "tests[0].input.error_ratio.five: bad duration 'five'",
        ),
        (
            [case(EXPECT_OK, error_ratio={"5m": "0", "300s": "0"})],
            {},
            "tests[0].input.error_ratio.5m: 5m is given twice",
        ),
        (
            [case(EXPECT_OK, error_ratio_by_part={"eu": "x"})],
            {},
            "tests[0].input.error_ratio_by_part.eu: cannot read 'x'",
        ),
        (
            [case(EXPECT_OK, "pay", error_ratio_by_part={"eu": "0"})],
            {},
            "tests[0].input.error_ratio_by_part: the rule has no parts_label",
        ),
        ([case(EXPECT_OK, apdex="0.9")], {}, "tests[0].input.apdex: the rule has no apdex_query"),
        (
            [case(EXPECT_OK, "nope")],
            {},
            "tests[0].service: service 'nope' is not in the rule files (shop, pay, legacy)",
        ),
        ([case(EXPECT_OK, "legacy")], {}, "tests[0].service: service 'legacy' has no slo block"),
        (
            [case(EXPECT_OK)],
            {"evaluation_interval": "1s"},
            "evaluation_interval: bad value '1s': at least 5s",
        ),
        ([case(EXPECT_OK)], {"rule_files": ["gone.yaml"]}, "rule_files[0]: gone.yaml: cannot load"),
        ([case(EXPECT_OK)], {"rule_files": []}, "rule_files: [] should be non-empty"),
        (
            [case(EXPECT_OK)],
            {"evaluation_interval": "soon"},
            "evaluation_interval: bad value 'soon'",
        ),
        ([case(EXPECT_OK)], {"extra": 1}, "(top level): unknown key(s) 'extra'"),
        ({"name": "x"}, {}, "tests: {'name': 'x'} is not of type 'array'"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tests: Any,
    top: dict[str, Any],
    message: str,
) -> None:
    path = write_files(tmp_path, tests, **top)
    code, out, err = run(path, capsys)
    assert code == 1
    assert f"{path}: {message}" in err, err
    assert "PASS" not in out and out.rstrip().endswith("FAILED")


def test_a_broken_rule_file_is_reported_through_the_test_file(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text("services: [{name: shop}]\n")
    path = tmp_path / "shop_test.yaml"
    path.write_text("rule_files: [shop.yaml]\ntests: []\n")
    with pytest.raises(ConfigError) as caught:
        load_test_file(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}: rule_files[0]: shop.yaml: services[0]")
    assert "'match' is a required property" in caught.value.problems[0]


def test_not_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x_test.yaml"
    path.write_text("tests: [unclosed\n")
    code, _, err = run(path, capsys)
    assert code == 1 and err.startswith(f"{path}: cannot load:")


async def test_a_query_the_test_did_not_prepare_for_is_a_bug_not_no_data(
    tmp_path: Path,
) -> None:
    loaded = load_test_file(write_files(tmp_path, [OUTAGE_THEN_RECOVERY]))
    unprepared = dataclasses.replace(loaded.tests[0], answers={})
    with pytest.raises(UnexpectedQuery, match="no input answers the query"):
        await run_test(unprepared, loaded.interval)


# The evaluator's per-part reduction ---------------------------------------------------


class _Answers:
    def __init__(self, by_query: dict[str, list[Sample]]) -> None:
        self.by_query = by_query

    async def query(self, promql: str, at: datetime | None = None) -> list[Sample]:
        return self.by_query.get(promql, [])


class _Clock:
    def now(self) -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC)

    async def sleep(self, seconds: float) -> None:
        return None


async def test_a_part_with_only_nan_samples_is_no_data_not_minus_infinity() -> None:
    source = PromqlSource("max by (region) (err{{window}})")  # one query for both
    spec = SloSpec(0.999, 0.05, parts_label="region")
    rule = ServiceRule("shop", (), slo=SloRule(spec, source))
    answers = _Answers(
        {
            "max by (region) (err5m)": [
                Sample({"region": "eu"}, NAN),
                Sample({"region": "us"}, 0.2),
                Sample({"region": "us"}, NAN),
            ]
        }
    )
    evaluator = SloEvaluator(cast(PrometheusClient, answers), _Clock(), Metrics(), 5)
    outcome = await evaluator.evaluate(rule)
    assert outcome.verdict is not None
    assert outcome.verdict.impact is Impact.OUTAGE
    assert "no data for region eu" in outcome.verdict.reason
    assert "in region us" in outcome.verdict.reason


# The shipped rules pass their own tests (this is how `make test` runs them) -------------


def test_every_shipped_rule_file_has_tests() -> None:
    rule_files = {p.stem for p in (REPO / "rules").glob("*.yaml") if not p.stem.endswith("_test")}
    assert rule_files == {"checkout", "payments", "search"}
    assert {p.stem.removesuffix("_test") for p in SHIPPED_TESTS} == rule_files


@pytest.mark.parametrize("path", SHIPPED_TESTS, ids=lambda p: p.name)
def test_shipped_rule_tests_pass(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(path, capsys)
    assert (code, err) == (0, ""), out + err
    assert "FAIL" not in out and out.rstrip().endswith("SUCCESS")
