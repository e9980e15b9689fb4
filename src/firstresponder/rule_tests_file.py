"""Read a rule unit-test file (`rules/*_test.yaml`) into cases the runner can drive.

Each test's input becomes the answer to each query the rule renders (the same
`render_query` calls the evaluator makes), keyed by the PromQL text. Every problem is
reported with the file and the dotted key, all at once. The format: rule_tests_format.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from .domain.rules import ServiceRule, SloRule
from .domain.slo_queries import format_window, render_query
from .durations import parse_duration
from .errors import ConfigError
from .rule_tests_format import DEFAULT_KEY, Feed, Series, parse_series, schema_problems
from .rules_file import load_rules_file
from .slo_eval import CACHE_TTL

MAX_STEPS = 100_000


@dataclass(frozen=True)
class Expectation:
    at: timedelta
    step: int
    impact: str  # an Impact value or NO_DATA
    reason_contains: str | None = None


@dataclass(frozen=True)
class RuleTest:
    name: str
    rule: ServiceRule
    answers: Mapping[str, Feed]  # rendered PromQL -> its answer over time
    expect: tuple[Expectation, ...]

    @property
    def last_step(self) -> int:
        return max(e.step for e in self.expect)


@dataclass(frozen=True)
class RuleTestFile:
    path: Path
    interval: timedelta
    tests: tuple[RuleTest, ...]


def load_test_file(path: Path) -> RuleTestFile:
    """The file's tests, or ConfigError listing every problem as `FILE: key: message`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path}: cannot load: {exc}"]) from exc
    problems = schema_problems(raw)
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    interval = parse_duration(raw.get("evaluation_interval", "1m"))
    if interval < CACHE_TTL:
        problems.append(
            f"evaluation_interval: bad value {raw['evaluation_interval']!r}: at least 5s, "
            "the evaluator's cache time"
        )
    rules: dict[str, ServiceRule] = {}
    for i, name in enumerate(raw["rule_files"]):
        try:
            for rule in load_rules_file(path.parent / name):
                rules.setdefault(rule.service, rule)
        except ConfigError as exc:
            problems += [f"rule_files[{i}]: {p}" for p in exc.problems]
    tests = []
    if not problems:
        for i, item in enumerate(raw["tests"]):
            tests.append(_test(f"tests[{i}]", item, rules, interval, problems))
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    return RuleTestFile(path, interval, tuple(t for t in tests if t is not None))


def _test(
    key: str,
    item: dict[str, Any],
    rules: Mapping[str, ServiceRule],
    interval: timedelta,
    problems: list[str],
) -> RuleTest | None:
    rule = rules.get(item["service"])
    if rule is None or rule.slo is None:
        why = "has no slo block" if rule else f"is not in the rule files ({', '.join(rules)})"
        problems.append(f"{key}.service: service {item['service']!r} {why}")
        return None
    before = len(problems)
    answers = _answers(f"{key}.input", item["input"], rule.slo, problems)
    expect = tuple(
        _expectation(f"{key}.expect[{j}]", e, interval, problems)
        for j, e in enumerate(item["expect"])
    )
    if len(problems) > before:
        return None
    return RuleTest(item["name"], rule, answers, expect)


def _expectation(
    key: str, raw: dict[str, Any], interval: timedelta, problems: list[str]
) -> Expectation:
    at = parse_duration(raw["at"])
    step, rest = divmod(at, interval)
    if rest:
        problems.append(
            f"{key}.at: {raw['at']} is not a multiple of evaluation_interval {format_window(interval)}"
        )
    elif step > MAX_STEPS:
        problems.append(f"{key}.at: {raw['at']} is more than {MAX_STEPS} evaluations away")
    return Expectation(at, step, raw["impact"], raw.get("reason_contains"))


def _answers(key: str, raw: dict[str, Any], slo: SloRule, problems: list[str]) -> dict[str, Feed]:
    """Each query the evaluator will send, and what the input says it answers."""
    spec, answers = slo.spec, {}
    parts_raw: dict[str, str] = raw.get("error_ratio_by_part", {})
    if spec.parts_label:
        promql = render_query(slo.source, spec.sustain, spec.parts_label).promql
        parts = {
            str(n): _series(f"{key}.error_ratio_by_part.{n}", s, problems)
            for n, s in parts_raw.items()
        }
        answers[promql] = Feed(f"{key}.error_ratio_by_part", parts=parts, label=spec.parts_label)
    elif parts_raw:
        problems.append(f"{key}.error_ratio_by_part: the rule has no parts_label")
    windows = _window_inputs(f"{key}.error_ratio", raw.get("error_ratio", {}), slo, problems)
    for window in spec.windows:
        rendered = render_query(slo.source, window)
        name = format_window(rendered.window)
        given = windows.get(rendered.window)
        if (
            rendered.promql in answers
            and answers[rendered.promql].key != f"{key}.error_ratio.{name}"
        ):
            if given is not None:  # a template without {{by}}: one query for both
                problems.append(
                    f"{key}.error_ratio.{name}: the rule's query for {name} is also its parts "
                    "query (no {{by}} in the template); give error_ratio_by_part instead"
                )
            continue
        series = given if given is not None else windows.get(None, ())
        answers[rendered.promql] = Feed(f"{key}.error_ratio.{name}", series)
    if slo.apdex_query is not None:
        promql = slo.apdex_query.replace("{{window}}", format_window(spec.sustain))
        apdex = _series(f"{key}.apdex", raw["apdex"], problems) if "apdex" in raw else ()
        answers[promql] = Feed(f"{key}.apdex", apdex)
    elif "apdex" in raw:
        problems.append(f"{key}.apdex: the rule has no apdex_query")
    return answers


def _window_inputs(
    key: str, raw: dict[str, str], slo: SloRule, problems: list[str]
) -> dict[timedelta | None, Series]:
    """Input series by the window the rule's query really reads; None is the default."""
    queried = {render_query(slo.source, w).window for w in slo.spec.windows}
    out: dict[timedelta | None, Series] = {}
    for key_name, text in raw.items():
        name = str(key_name)  # YAML reads `60: ...` as a number
        series = _series(f"{key}.{name}", text, problems)
        if name == DEFAULT_KEY:
            out[None] = series
            continue
        try:
            window = parse_duration(name)
        except ValueError as exc:
            problems.append(f"{key}.{name}: {exc}")
            continue
        if window not in queried:
            listed = ", ".join(format_window(w) for w in sorted(queried))
            problems.append(
                f"{key}.{name}: the rule queries no {name} window (it queries {listed})"
            )
        elif window in out:
            problems.append(f"{key}.{name}: {format_window(window)} is given twice")
        out[window] = series
    return out


def _series(key: str, text: str, problems: list[str]) -> Series:
    try:
        return parse_series(text)
    except ValueError as exc:
        problems.append(f"{key}: {exc}")
        return ()


__all__ = ["Expectation", "RuleTest", "RuleTestFile", "load_test_file"]
