"""Ingestion: persist alert events idempotently and apply them to incidents, with group commit.

Requests that arrive while a transaction is running are gathered into the next one, so
SQLite's single writer commits many webhooks at once instead of one fsync each. A batch is
one unit of work, run whole in one call to `Store.transact` (on SQLite, one hop to the
writer thread). A caller gets its answer only after the transaction holding its alerts
has committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from .clock import Clock
from .domain.alerts import Alert, Notification
from .domain.classify import LabelClassifier, with_slo
from .domain.grouping import ClassifiedAlert, GroupEngine, Outcome
from .domain.heartbeat import is_heartbeat
from .domain.incident import Incident
from .domain.matchers import Matcher
from .errors import StoreUnavailable
from .metrics import Metrics
from .reactions import ChangeHook
from .slo_eval import SloEvaluator, SloOutcome
from .store.ports import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_BATCH = 200
ATTEMPTS = 3
COMMIT_WINDOW_S = 0.001  # the longest a batch waits for more webhooks to join it
HEARTBEAT = "watchdog"  # the name of the dead-man's switch's row


@dataclass
class IngestReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    incidents: list[int] = field(default_factory=list)


@dataclass
class _Applied:
    """What one ingest transaction did: a report per job, the incidents it touched."""

    reports: list[IngestReport] = field(default_factory=list)
    touched: list[tuple[Incident, Outcome]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class _Job:
    notification: Notification
    events: list[ClassifiedAlert]
    done: asyncio.Future[IngestReport]
    heartbeat: bool = False  # a firing heartbeat alert came with it


class Ingestor:
    def __init__(
        self,
        store: Database,
        classifier: LabelClassifier,
        engine: GroupEngine,
        clock: Clock,
        metrics: Metrics,
        slo: SloEvaluator | None = None,
        paging: ChangeHook | None = None,
        heartbeat: Sequence[Matcher] = (),
        on_paged: Callable[[], None] | None = None,
    ) -> None:
        """`heartbeat`: the dead-man's switch's matchers (none: off). Its alerts refresh
        the heartbeat's last-seen time and never become incidents. `on_paged`: called
        after a commit that declared or changed an incident (it may have enqueued pages),
        so the pages' dispatcher goes now rather than at its next interval."""
        self._heartbeat = tuple(heartbeat)
        self._on_paged = on_paged
        self._store = store
        self._classifier = classifier
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        self._slo = slo
        self._paging = paging
        self._queue: list[_Job] = []
        self._flusher: asyncio.Task[None] | None = None
        self._expected = 1  # how many jobs the last batch held
        self._enough: asyncio.Future[None] | None = None  # set once that many are queued

    async def submit(self, notification: Notification) -> IngestReport:
        alerts, beat = self._without_heartbeat(notification.alerts)
        events = [ClassifiedAlert(a, self._classifier.classify(a)) for a in alerts]
        if self._slo is not None and self._slo.enabled:
            events = await self._with_live_numbers(events)
        job = _Job(notification, events, asyncio.get_running_loop().create_future(), beat)
        self._queue.append(job)
        if self._enough is not None and len(self._queue) >= self._expected:
            if not self._enough.done():
                self._enough.set_result(None)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # Not shielded: a caller that goes away cancels only its wait; the job stays queued
        # (its events are stored all the same) and the flusher skips answering it.
        return await job.done

    def _without_heartbeat(self, alerts: Sequence[Alert]) -> tuple[Sequence[Alert], bool]:
        """The alerts that are not the heartbeat, and whether a firing heartbeat came."""
        if not self._heartbeat:
            return alerts, False
        kept: list[Alert] = []
        beat = False
        for alert in alerts:
            if is_heartbeat(self._heartbeat, alert.labels):
                beat = beat or alert.is_firing
            else:
                kept.append(alert)
        return kept, beat

    async def _with_live_numbers(self, events: list[ClassifiedAlert]) -> list[ClassifiedAlert]:
        """Firing alerts of services with an SLO: let Prometheus's numbers decide (fail open)."""
        assert self._slo is not None
        rules = {}
        for event in events:
            rule = self._classifier.rule_for(event.classification.service)
            if event.alert.is_firing and rule is not None and rule.slo is not None:
                rules[rule.service] = rule
        if not rules:
            return events
        found = await asyncio.gather(
            *(self._slo.evaluate(r) for r in rules.values()), return_exceptions=True
        )
        outcomes: dict[str, SloOutcome] = {}
        for service, result in zip(rules, found, strict=True):
            if isinstance(result, Exception):  # a bug must never cost an alert: fail open
                outcomes[service] = self._slo.crashed(service, result)
            elif isinstance(result, BaseException):
                raise result  # cancellation
            else:
                outcomes[service] = result
        refined = []
        for event in events:
            outcome = outcomes.get(event.classification.service)
            if outcome is not None and event.alert.is_firing:
                event = ClassifiedAlert(
                    event.alert, with_slo(event.classification, outcome.verdict, outcome.failure)
                )
            refined.append(event)
        return refined

    async def drain(self) -> None:
        """Finish every accepted job (shutdown)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _gather(self) -> None:
        """Wait, at most COMMIT_WINDOW_S, until as many jobs are queued as the last batch held.

        Webhooks answered together tend to come back together (a busy Alertmanager, or a
        load generator): waiting for them makes one transaction of what would be two, and a
        transaction costs far more than the webhooks in it. When the load falls, the
        batches shrink and so does the wait: a lone webhook waits once, then never.
        """
        if len(self._queue) >= self._expected:
            return
        self._enough = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._enough], timeout=COMMIT_WINDOW_S)
        finally:
            self._enough = None

    async def _flush(self) -> None:
        while self._queue:
            await self._gather()
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._expected = len(batch)
            log.debug("committing ingest batch", extra={"notifications": len(batch)})
            try:
                reports, touched = await self._commit_with_retry(batch)
            except Exception as exc:  # every job of the batch learns why; the loop goes on
                for job in batch:
                    if not job.done.done():
                        job.done.set_exception(exc)
                continue
            for job, report in zip(batch, reports, strict=True):
                if not job.done.done():
                    job.done.set_result(report)
            await self._after_commit(touched)

    async def _commit_with_retry(
        self, batch: Sequence[_Job]
    ) -> tuple[list[IngestReport], list[tuple[Incident, Outcome]]]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._commit(batch)
            except IntegrityError:
                # Another replica declared the same group's incident first: read it and apply again.
                if attempt == ATTEMPTS:
                    raise
                log.info("ingest conflict, retrying", extra={"attempt": attempt})
        raise AssertionError("unreachable")

    async def _commit(
        self, batch: Sequence[_Job]
    ) -> tuple[list[IngestReport], list[tuple[Incident, Outcome]]]:
        now = self._clock.now()
        applied = await self._store.transact(lambda uow: self._apply(uow, batch, now))
        for outcome in applied.outcomes:
            self._count_near_misses(outcome)
        self._note_incidents(batch, applied.reports, applied.touched)
        return applied.reports, applied.touched

    def _apply(self, uow: UnitOfWork, batch: Sequence[_Job], now: datetime) -> _Applied:
        """The whole batch in one transaction: record every event, then apply the new ones."""
        applied = _Applied()
        if any(job.heartbeat for job in batch):
            # First: the heartbeat checker locks this row before a group, so must we.
            uow.heartbeat_seen(HEARTBEAT, now)
        by_group = _record(uow, batch, now, applied.reports)
        states = uow.load_groups(
            {key: {e.alert.fingerprint for e in events} for key, events in by_group.items()}
        )
        changes = [
            (state, self._engine.apply_events(state, by_group[key], now))
            for key, state in states.items()
        ]
        for incident, (_, outcome) in zip(uow.save_groups(changes, now), changes, strict=True):
            applied.outcomes.append(outcome)
            if incident is not None:
                applied.touched.append((incident, outcome))
                self._page(uow, incident, outcome, now)
        return applied

    def _page(self, uow: UnitOfWork, incident: Incident, outcome: Outcome, now: datetime) -> None:
        """Pages and deadlines for what the batch did, in the same transaction."""
        if self._paging is not None and outcome.timeline:
            self._paging.after_change(uow, incident, outcome.timeline, now)

    def _note_incidents(
        self,
        batch: Sequence[_Job],
        reports: list[IngestReport],
        touched: list[tuple[Incident, Outcome]],
    ) -> None:
        keys = {incident.group_key: incident.id for incident, _ in touched}
        for job, report in zip(batch, reports, strict=True):
            groups = {e.classification.group_key for e in job.events}
            report.incidents = sorted({keys[g] for g in groups if g in keys})

    def _count_near_misses(self, outcome: Outcome) -> None:
        for miss in outcome.near_misses:
            self._metrics.near_misses.labels(miss.service).inc()
            log.info(
                "near miss",
                extra={"service": miss.service, "alert": miss.alert.name, "reason": miss.reason},
            )

    async def _after_commit(self, touched: list[tuple[Incident, Outcome]]) -> None:
        if self._on_paged is not None and any(
            outcome.declared or outcome.incident_changed for _, outcome in touched
        ):
            self._on_paged()
        for incident, outcome in touched:
            if outcome.declared:
                self._metrics.incidents_declared.labels(
                    incident.service, incident.severity.value, incident.impact.value
                ).inc()
                first = min(
                    (a.starts_at for a in incident.alerts.values()), default=incident.declared_at
                )
                self._metrics.declaration_delay.observe(
                    max(0.0, (incident.declared_at - first).total_seconds())
                )
                log.warning(
                    "incident declared",
                    extra={
                        "incident_id": incident.id,
                        "service": incident.service,
                        "severity": incident.severity.value,
                        "impact": incident.impact.value,
                    },
                )
        if any(outcome.declared or _moves_counts(outcome) for _, outcome in touched):
            try:
                await refresh_open_counts(self._store, self._metrics)
            except StoreUnavailable as exc:
                # The batch is committed and answered; a gauge can wait for the next tick.
                # Raising here would end the flusher and strand the webhooks queued behind it.
                log.warning("open incident counts not refreshed", extra={"error": str(exc)})

    async def promote_due(self) -> int:
        """Declare for groups whose pending alerts waited `declare_after` (scheduler tick)."""
        now = self._clock.now()
        declared = 0
        for group_key in await self._store.groups_due(now):
            incident, outcome = await self._store.transact(
                functools.partial(self._promote, group_key=group_key, now=now), background=True
            )
            if incident is not None:
                await self._after_commit([(incident, outcome)])
                declared += int(outcome.declared)
        return declared

    def _promote(
        self, uow: UnitOfWork, *, group_key: str, now: datetime
    ) -> tuple[Incident | None, Outcome]:
        state = uow.load_group(group_key)
        outcome = self._engine.promote_due(state, now)
        incident = uow.save_group(state, outcome, now)
        if incident is not None:
            self._page(uow, incident, outcome, now)
        return incident, outcome


def _record(
    uow: UnitOfWork, batch: Sequence[_Job], now: datetime, reports: list[IngestReport]
) -> dict[str, list[ClassifiedAlert]]:
    """Persist every event of the batch, report per job; the never-seen events by group."""
    by_receiver: dict[str, list[ClassifiedAlert]] = defaultdict(list)
    for job in batch:
        by_receiver[job.notification.receiver] += job.events
    fresh: set[int] = set()
    for receiver, events in by_receiver.items():
        fresh.update(id(e) for e in uow.record_events(events, receiver, now))
    by_group: dict[str, list[ClassifiedAlert]] = defaultdict(list)
    for job in batch:
        new = [e for e in job.events if id(e) in fresh]
        reports.append(IngestReport(len(job.events), len(new), len(job.events) - len(new)))
        for event in new:
            by_group[event.classification.group_key].append(event)
    return by_group


_COUNTED_KINDS = frozenset({"state_changed", "resolved", "severity_raised", "severity_set"})


def _moves_counts(outcome: Outcome) -> bool:
    """Open incidents by severity change only when one is declared, resolved or re-graded."""
    return any(entry.kind in _COUNTED_KINDS for entry in outcome.timeline)


async def refresh_open_counts(store: Database, metrics: Metrics) -> None:
    metrics.set_open_counts(await store.open_counts())
