"""Fire due deadlines: one transaction per deadline, exactly once across replicas.

Escalation deadlines page (`paging.Paging.fire`); communication timers (status update
due, shift handoff) post a reminder in Slack (`slack.notices.SlackNotices.fire`); the
silence timer extends the incident's Alertmanager silences (`silences.Silences.fire`).

A deadline is a row. Taking it (select `FOR UPDATE SKIP LOCKED`, then delete), locking its
incident, escalating and enqueueing the pages all commit together; a replica that dies
half-way rolls back and the row is there for the next tick. A deadline that passed while
the daemon was down fires on the first tick after start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class Fired:
    deadline: Deadline
    entries: list[TimelineEntry]


class EscalationRunner:
    def __init__(
        self,
        store: Database,
        paging: Paging | None,
        clock: Clock,
        metrics: Metrics,
        slack: SlackNotices | None = None,
        silences: Silences | None = None,
    ) -> None:
        self._silences = silences
        self._store = store
        self._paging = paging
        self._slack = slack
        self._clock = clock
        self._metrics = metrics

    async def fire_due(self) -> int:
        """Fire the deadlines due now, at most MAX_PER_TICK; returns how many it took."""
        taken = 0
        for _ in range(MAX_PER_TICK):
            now = self._clock.now()
            fired = await self._store.transact(partial(self._fire_one, now=now), background=True)
            if fired is None:
                break
            taken += 1
            lag = max(0.0, (now - fired.deadline.due_at).total_seconds())
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
        return taken

    def _fire_one(self, uow: UnitOfWork, now: datetime) -> Fired | None:
        due = uow.take_due_deadline(now)
        if due is None:
            return None
        try:
            incident = uow.lock_incident(due.deadline.incident_id)
        except NotFoundError:
            return Fired(due.deadline, [])
        kind = due.deadline.kind
        entries: list[TimelineEntry] = []
        if kind.escalates and self._paging is not None:
            entries = self._paging.fire(uow, incident, due.deadline, now)
        elif kind is DeadlineKind.SILENCE:
            if self._silences is not None:
                self._silences.fire(uow, incident, due.deadline, now)
        elif not kind.escalates and self._slack is not None:
            self._slack.fire(uow, incident, due.deadline, now)
        if entries:
            uow.save_incident(incident, entries)
            if self._slack is not None:
                self._slack.after_change(uow, incident, entries, now)
        return Fired(due.deadline, entries)
