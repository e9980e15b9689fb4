"""Rule unit tests, as `promtool test rules` does for alerting rules: `firstresponder test-rules`.

Each test drives the real SloEvaluator against an in-process Prometheus that answers every
query the rule renders from the test's input series, evaluating every evaluation_interval
from 0 to the last expected time. Each evaluation gets the previous evaluation's impact
as `previous`, so the hysteresis applies; when there is no verdict (no data) the previous
impact is kept, as the daemon keeps an incident's severity. (The daemon passes an open
incident's impact, which only rises; a test follows the readings down too, so a recovery
through the hysteresis band can be tested.) The file format: rules/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO, cast

from .domain.vocabulary import Impact
from .durations import format_duration
from .errors import ConfigError
from .metrics import Metrics
from .prometheus import PrometheusClient, Sample
from .rule_tests_file import RuleTest, RuleTestFile, load_test_file
from .rule_tests_format import NO_DATA, Feed
from .slo_eval import SloEvaluator

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_QUERY_TIMEOUT_S = 10.0


class UnexpectedQuery(Exception):
    """The evaluator sent a query the test did not prepare an answer for (a bug here)."""


class _StepClock:
    """The evaluator's clock: moves one evaluation_interval per step."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self.step = 0

    def now(self) -> datetime:
        return EPOCH + self.step * self.interval

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class FakePrometheus:
    """Answers each rendered query from the test's input at the clock's current step."""

    def __init__(self, answers: Mapping[str, Feed], clock: _StepClock) -> None:
        self._answers = answers
        self._clock = clock

    async def query(self, promql: str, at: datetime | None = None) -> list[Sample]:
        feed = self._answers.get(promql)
        if feed is None:
            raise UnexpectedQuery(f"no input answers the query {promql!r}")
        return feed.samples(self._clock.step)


@dataclass(frozen=True)
class Mismatch:
    at: timedelta
    expected: str
    reason_contains: str | None
    got: str
    reason: str

    def lines(self) -> list[str]:
        want = self.expected
        if self.reason_contains is not None:
            want += f", reason containing {self.reason_contains!r}"
        return [
            f"at {format_duration(self.at)}:",
            f"  expected: {want}",
            f"       got: {self.got}, reason: {self.reason}",
        ]


@dataclass(frozen=True)
class CaseResult:
    name: str
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


async def run_test(test: RuleTest, interval: timedelta) -> CaseResult:
    """Evaluate the rule at every step up to the last expected time; compare."""
    clock = _StepClock(interval)
    client = FakePrometheus(test.answers, clock)
    # The evaluator only calls `query`; the fake stands in for the real client.
    evaluator = SloEvaluator(cast(PrometheusClient, client), clock, Metrics(), _QUERY_TIMEOUT_S)
    by_step: dict[int, list[int]] = {}
    for i, expectation in enumerate(test.expect):
        by_step.setdefault(expectation.step, []).append(i)
    previous: Impact | None = None
    mismatches: list[Mismatch] = []
    for step in range(test.last_step + 1):
        clock.step = step
        outcome = await evaluator.evaluate(test.rule, previous)
        verdict = outcome.verdict
        got = verdict.impact.value if verdict else NO_DATA
        reason = verdict.reason if verdict else outcome.failure or ""
        if verdict is not None:
            previous = verdict.impact
        for i in by_step.get(step, []):
            want = test.expect[i]
            wanted_reason = want.reason_contains is None or want.reason_contains in reason
            if got != want.impact or not wanted_reason:
                mismatches.append(Mismatch(want.at, want.impact, want.reason_contains, got, reason))
    return CaseResult(test.name, tuple(mismatches))


async def run_file(loaded: RuleTestFile) -> list[CaseResult]:
    return [await run_test(test, loaded.interval) for test in loaded.tests]


def report(path: Path, results: Sequence[CaseResult], out: TextIO) -> None:
    print(f"Unit testing: {path}", file=out)
    for result in results:
        print(f"  {'PASS' if result.passed else 'FAIL'}  {result.name}", file=out)
        for mismatch in result.mismatches:
            for line in mismatch.lines():
                print(f"        {line}", file=out)
    failed = sum(not r.passed for r in results)
    print(f"  {len(results) - failed} passed, {failed} failed", file=out)


def run_test_files(
    paths: Sequence[str | Path], out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run every test of every file; 0 when all pass, 1 on any failure or bad file."""
    out = out or sys.stdout
    err = err or sys.stderr
    code = 0
    for name in paths:
        path = Path(name)
        try:
            loaded = load_test_file(path)
        except ConfigError as exc:
            for problem in exc.problems:  # each names the file and the key
                print(problem, file=err)
            code = 1
            continue
        try:
            with _quiet_evaluator():
                results = asyncio.run(run_file(loaded))
        except UnexpectedQuery as exc:
            print(f"{path}: {exc}", file=err)
            code = 1
            continue
        report(path, results, out)
        if not all(r.passed for r in results):
            code = 1
    print("SUCCESS" if code == 0 else "FAILED", file=out)
    return code


@contextlib.contextmanager
def _quiet_evaluator() -> Iterator[None]:
    """No data is a case under test here, not something to warn about on stderr."""
    logger = logging.getLogger("firstresponder.slo_eval")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


__all__ = ["FakePrometheus", "Mismatch", "CaseResult", "run_test", "run_test_files"]
