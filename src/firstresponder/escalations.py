"""Fire due deadlines, exactly once across replicas, a few per short transaction.

Escalation deadlines page (`paging.Paging.fire`); communication timers (status update
due, shift handoff) post a reminder in Slack (`slack.notices.SlackNotices.fire`); the
silence timer extends the incident's Alertmanager silences (`silences.Silences.fire`).

A deadline is a row. Taking it (select `FOR UPDATE SKIP LOCKED`, then delete), locking its
incident, escalating and enqueueing the pages all commit together; a replica that dies
half-way rolls back and the row is there for the next tick. A deadline that passed while
the daemon was down fires on the first tick after start-up.

When many fall due together (every incident of an alert storm reaches its ack timeout
in the same minute), one transaction takes deadlines until it has spent `BUDGET_S` on the
writer: a storm's escalations cost a few transactions a second instead of one each, and
a webhook still waits at most one such short transaction. Each deadline fires inside a
savepoint: one that fails (a bug, bad data) is put back a minute later and counted,
without undoing the others or blocking the deadlines behind it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from .clock import Clock
from .domain.escalation import Deadline, DeadlineKind
from .domain.incident import TimelineEntry
from .errors import NotFoundError
from .metrics import Metrics
from .paging import Paging
from .silences import Silences
from .slack.notices import SlackNotices
from .store.ports import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_PER_TICK = 200
PER_TRANSACTION = 50  # deadlines one transaction takes at the most
BUDGET_S = 0.005  # writer time after which a transaction takes no further deadline
# PostgreSQL: writers do not wait for each other, so transactions may be longer (fewer
# round trips each) and several fire at once.
POSTGRES_BUDGET_S, POSTGRES_WORKERS = 0.025, 2
RETRY_FAILED = timedelta(minutes=1)  # a deadline whose firing failed is tried again then


@dataclass(frozen=True)
class Fired:
    deadline: Deadline
    entries: list[TimelineEntry]
    failed: bool = False


class EscalationRunner:
    def __init__(
        self,
        store: Database,
        paging: Paging | None,
        clock: Clock,
        metrics: Metrics,
        slack: SlackNotices | None = None,
        silences: Silences | None = None,
        budget_s: float = BUDGET_S,
        workers: int = 1,
        on_paged: Callable[[], None] | None = None,
    ) -> None:
        """`workers` transactions fire at once: 1 where one writer serialises them anyway
        (SQLite); more on PostgreSQL, whose `SKIP LOCKED` hands each its own deadlines."""
        self._budget_s = budget_s
        self._workers = workers
        self._on_paged = on_paged  # after a commit that escalated: the pages' dispatcher
        self._silences = silences
        self._store = store
        self._paging = paging
        self._slack = slack
        self._clock = clock
        self._metrics = metrics

    async def fire_due(self) -> int:
        """Fire the deadlines due now, at most MAX_PER_TICK; returns how many it took."""
        share = -(-MAX_PER_TICK // self._workers)
        if self._workers == 1:
            return await self._fire_up_to(share)
        return sum(await asyncio.gather(*(self._fire_up_to(share) for _ in range(self._workers))))

    async def _fire_up_to(self, most: int) -> int:
        taken = 0
        while taken < most:
            now = self._clock.now()
            batch = await self._store.transact(
                partial(self._fire_some, now=now, most=min(PER_TRANSACTION, most - taken)),
                background=True,
            )
            for fired in batch:
                self._observe(fired, now)
            if self._on_paged is not None and any(f.entries for f in batch):
                self._on_paged()
            taken += len(batch)
            if not batch:
                break
        return taken

    def _observe(self, fired: Fired, now: datetime) -> None:
        lag = max(0.0, (now - fired.deadline.due_at).total_seconds())
        if fired.failed:
            self._metrics.deadline_failures.labels(fired.deadline.kind.value).inc()
            return
        if fired.deadline.kind.escalates:
            self._metrics.escalation_lag.observe(lag)
        if any(e.kind == "escalated" for e in fired.entries):
            self._metrics.escalations.labels(fired.deadline.kind.value).inc()
            log.warning(
                "escalated",
                extra={
                    "incident_id": fired.deadline.incident_id,
                    "reason": fired.deadline.kind.value,
                    "lag_s": round(lag, 3),
                },
            )

    def _fire_some(self, uow: UnitOfWork, now: datetime, most: int) -> list[Fired]:
        """Deadlines due now, one by one, until `most` or the time budget is spent."""
        started, fired = time.monotonic(), list[Fired]()
        while len(fired) < most and (not fired or time.monotonic() - started < self._budget_s):
            due = uow.take_due_deadline(now)
            if due is None:
                break
            try:
                with uow.savepoint():
                    fired.append(self._fire(uow, due.deadline, now))
            except Exception:  # only this deadline's writes were undone: the rest go on
                log.exception(
                    "deadline failed, trying again later",
                    extra={
                        "incident_id": due.deadline.incident_id,
                        "kind": due.deadline.kind.value,
                    },
                )
                retry = Deadline(
                    due.deadline.incident_id,
                    due.deadline.kind,
                    now + RETRY_FAILED,
                    due.deadline.repeat,
                )
                uow.schedule([retry])
                fired.append(Fired(due.deadline, [], failed=True))
        return fired

    def _fire(self, uow: UnitOfWork, deadline: Deadline, now: datetime) -> Fired:
        try:
            incident = uow.lock_incident(deadline.incident_id)
        except NotFoundError:
            return Fired(deadline, [])
        kind = deadline.kind
        entries: list[TimelineEntry] = []
        if kind.escalates and self._paging is not None:
            entries = self._paging.fire(uow, incident, deadline, now)
        elif kind is DeadlineKind.SILENCE:
            if self._silences is not None:
                self._silences.fire(uow, incident, deadline, now)
        elif not kind.escalates and self._slack is not None:
            self._slack.fire(uow, incident, deadline, now)
        if entries:
            uow.save_incident(incident, entries)
            if self._slack is not None:
                self._slack.after_change(uow, incident, entries, now)
        return Fired(deadline, entries)
