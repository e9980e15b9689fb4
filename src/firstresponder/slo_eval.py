"""Live classification: read a service's SLO numbers from Prometheus and judge them.

Fails open: when Prometheus cannot answer (unreachable, an error, no data) the caller
keeps the classification from the alert's labels and records why. Every evaluation is
bounded by one query timeout, so an alert is never held up longer than that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .clock import Clock
from .domain.rules import ServiceRule, SloRule
from .domain.slo import Readings, classify
from .domain.slo_evidence import SloVerdict
from .domain.slo_queries import format_window, render_query
from .domain.vocabulary import Impact
from .metrics import Metrics
from .prometheus import PrometheusClient, PrometheusQueryError, Sample

log = logging.getLogger(__name__)
CACHE_TTL = timedelta(seconds=5)


@dataclass(frozen=True)
class SloOutcome:
    """A verdict from live numbers, or the reason there is none."""

    verdict: SloVerdict | None
    failure: str | None = None


class SloEvaluator:
    def __init__(
        self, client: PrometheusClient | None, clock: Clock, metrics: Metrics, timeout_s: float
    ) -> None:
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout_s
        self._cache: dict[tuple[str, Impact | None], tuple[datetime, SloOutcome]] = {}

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def evaluate(self, rule: ServiceRule, previous: Impact | None = None) -> SloOutcome:
        if rule.slo is None:
            return SloOutcome(None, "the rule has no slo block")
        if self._client is None:
            return SloOutcome(None, "prometheus.url is not configured")
        key, now = (rule.service, previous), self._clock.now()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_TTL:
            return cached[1]
        outcome = await self._evaluate(self._client, rule.slo, previous)
        self._cache[key] = (now, outcome)
        self._metrics.slo_evaluations.labels("ok" if outcome.verdict else "failed").inc()
        return outcome

    async def _evaluate(
        self, client: PrometheusClient, slo: SloRule, previous: Impact | None
    ) -> SloOutcome:
        try:
            async with asyncio.timeout(self._timeout):
                readings = await _read(client, slo)
        except TimeoutError:
            return self._failed("timeout", f"Prometheus did not answer within {self._timeout:g}s")
        except PrometheusQueryError as exc:
            return self._failed(
                "permanent" if exc.permanent else "transient", f"Prometheus query failed: {exc}"
            )
        if _no_data(readings):
            return self._failed("no_data", "Prometheus returned no data for the SLO queries")
        verdict = classify(slo.spec, readings, previous)
        return SloOutcome(_with_queries(verdict, slo))

    def crashed(self, service: str, error: Exception) -> SloOutcome:
        """For callers that must fail open whatever happened (ingestion never loses an alert)."""
        log.error(
            "SLO evaluation crashed; classifying from labels",
            exc_info=error,
            extra={"service": service},
        )
        return self._failed("internal", "internal error while evaluating the SLO")

    def _failed(self, kind: str, reason: str) -> SloOutcome:
        self._metrics.prometheus_query_errors.labels(kind).inc()
        log.warning("SLO evaluation failed; classifying from labels", extra={"reason": reason})
        return SloOutcome(None, reason)


async def _read(client: PrometheusClient, slo: SloRule) -> Readings:
    spec, source = slo.spec, slo.source
    windows = spec.windows
    queries = [render_query(source, w).promql for w in windows]
    if spec.parts_label:
        queries.append(render_query(source, spec.sustain, spec.parts_label).promql)
    if slo.apdex_query:
        queries.append(slo.apdex_query.replace("{{window}}", format_window(spec.sustain)))
    # One gather: every query runs at once, and when one fails none is left un-awaited.
    answers = await asyncio.gather(*(client.query(q) for q in queries))
    by_window = {w: _worst(samples) for w, samples in zip(windows, answers, strict=False)}
    rest = answers[len(windows) :]
    by_part = _by_part(rest.pop(0), spec.parts_label) if spec.parts_label else {}
    apdex_value = _worst(rest.pop(0), lowest=True) if slo.apdex_query else None
    return Readings(by_part, by_window, apdex_value)


def _worst(samples: list[Sample], *, lowest: bool = False) -> float:
    """Several series for one window (an SLI grouped by more labels): judge by the worst."""
    values = [s.value for s in samples if not math.isnan(s.value)]
    if not values:
        return math.nan
    return min(values) if lowest else max(values)


def _by_part(samples: list[Sample], label: str | None) -> Mapping[str, float]:
    """The worst value per part; NaN (no data) only when the part has nothing else."""
    out: dict[str, float] = {}
    for sample in samples:
        name = sample.labels.get(label or "", "")
        seen = out.get(name, math.nan)
        out[name] = sample.value if math.isnan(seen) else max(seen, sample.value)
    return out


def _no_data(readings: Readings) -> bool:
    values = [*readings.error_ratio_by_part.values(), *readings.error_ratio_by_window.values()]
    return all(math.isnan(v) for v in values)


def _with_queries(verdict: SloVerdict, slo: SloRule) -> SloVerdict:
    evidence = tuple(
        dataclasses.replace(
            ev,
            query=render_query(
                slo.source, ev.window, slo.spec.parts_label if ev.kind == "outage_line" else None
            ).promql,
        )
        for ev in verdict.evidence
    )
    return dataclasses.replace(verdict, evidence=evidence)
