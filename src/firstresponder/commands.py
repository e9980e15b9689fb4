"""What people do to incidents (REST API today, Slack and PagerDuty later): declare, ack, …"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from .clock import Clock
from .domain.classify import LabelClassifier
from .domain.grouping import GroupEngine
from .domain.incident import Incident, TimelineEntry
from .domain.vocabulary import Impact, IncidentState, Severity
from .errors import ConflictError
from .ingest import refresh_open_counts
from .metrics import Metrics
from .reactions import ChangeHook
from .store.ports import Database, UnitOfWork

Change = Callable[[Incident, datetime], list[TimelineEntry]]


class IncidentCommands:
    def __init__(
        self,
        store: Database,
        classifier: LabelClassifier,
        severity_map: Mapping[Impact, Severity],
        clock: Clock,
        metrics: Metrics,
        paging: ChangeHook | None = None,
    ) -> None:
        self._store = store
        self._paging = paging
        self._classifier = classifier
        self._severity_map = severity_map
        self._clock = clock
        self._metrics = metrics

    def group_key(self, service: str, labels: Mapping[str, str]) -> str:
        return self._classifier.group_key(service, labels)

    async def declare(
        self,
        *,
        service: str,
        title: str,
        impact: Impact,
        severity: Severity | None,
        description: str,
        labels: Mapping[str, str],
        actor: str,
    ) -> Incident:
        """Declare by hand: "no alerts is not the same as no problem"."""
        now = self._clock.now()

        def adopt(uow: UnitOfWork) -> Incident:
            return self.declare_in(
                uow,
                now,
                service=service,
                title=title,
                impact=impact,
                severity=severity,
                description=description,
                labels=labels,
                actor=actor,
            )

        incident = await self._store.transact(adopt)
        await self.after_declared(incident)
        return incident

    def declare_in(
        self,
        uow: UnitOfWork,
        now: datetime,
        *,
        service: str,
        title: str,
        impact: Impact,
        severity: Severity | None,
        description: str,
        labels: Mapping[str, str],
        actor: str,
        source: str = "manual",
    ) -> Incident:
        """`declare` inside the caller's transaction (pages and Slack enqueued with it);
        ConflictError, before anything is written, when the group has an open incident."""
        group_key = self._classifier.group_key(service, labels)
        chosen = severity or self._severity_map[impact]
        incident = Incident(
            id=0,
            group_key=group_key,
            service=service,
            title=title,
            impact=impact,
            severity=chosen,
            state=IncidentState.INVESTIGATING,
            declared_at=now,
            updated_at=now,
            source=source,
            description=description,
            classification={"impact": impact.value, "reason": f"declared by {actor}"},
        )
        entry = TimelineEntry(
            now,
            "declared",
            f"Incident declared by {actor}: {impact.value} ({chosen.value})",
            actor=actor,
            data={"impact": impact.value, "severity": chosen.value},
        )
        state = uow.load_group(group_key)
        if state.incident is not None:
            raise ConflictError(
                f"incident {state.incident.id} is already open for {group_key}; add to it instead"
            )
        outcome = GroupEngine(self._severity_map).adopt(state, incident, entry, now)
        saved = uow.save_group(state, outcome, now)
        if self._paging is not None and saved is not None:
            self._paging.after_change(uow, saved, outcome.timeline, now)
        return incident

    async def after_declared(self, incident: Incident) -> None:
        """Metrics for an incident `declare_in` declared, once committed."""
        self._metrics.incidents_declared.labels(
            incident.service, incident.severity.value, incident.impact.value
        ).inc()
        await refresh_open_counts(self._store, self._metrics)

    async def change(
        self, incident_id: int, change: Change
    ) -> tuple[Incident, list[TimelineEntry]]:
        incident, entries, _ = await self.change_once(incident_id, change, None)
        return incident, entries

    async def change_once(
        self, incident_id: int, change: Change, delivery_id: str | None
    ) -> tuple[Incident, list[TimelineEntry], bool]:
        """Apply `change`; with a `delivery_id` (an at-least-once sender's), only the first
        time: the delivery is recorded in the same transaction. The bool says it was new."""
        now = self._clock.now()

        def apply(uow: UnitOfWork) -> tuple[Incident, list[TimelineEntry], bool]:
            if delivery_id is not None:
                incident = uow.lock_incident(incident_id)  # locked before the delivery row
                if not uow.first_delivery(delivery_id, now):
                    return incident, [], False
            return (*self.change_in(uow, incident_id, change, now), True)

        incident, entries, fresh = await self._store.transact(apply)
        await self.after_change(incident, entries)
        return incident, entries, fresh

    def change_in(
        self, uow: UnitOfWork, incident_id: int, change: Change, now: datetime
    ) -> tuple[Incident, list[TimelineEntry]]:
        """`change` inside the caller's transaction, the incident locked; pages, Slack
        calls and deadlines enqueued with it."""
        incident = uow.lock_incident(incident_id)
        entries = change(incident, now)
        if entries:
            uow.save_incident(incident, entries)
            if self._paging is not None:
                self._paging.after_change(uow, incident, entries, now)
        return incident, entries

    async def after_change(self, incident: Incident, entries: list[TimelineEntry]) -> None:
        """Metrics for a committed change."""
        self._observe(incident, entries)
        if entries:
            await refresh_open_counts(self._store, self._metrics)

    def _observe(self, incident: Incident, entries: list[TimelineEntry]) -> None:
        """Time to acknowledge and to resolve (MTTA, MTTR), by severity."""
        severity = incident.severity.value
        for entry in entries:
            if entry.kind == "acknowledged":
                seconds = (entry.at - incident.declared_at).total_seconds()
                self._metrics.time_to_acknowledge.labels(severity).observe(max(0.0, seconds))
            elif entry.kind == "resolved":
                seconds = (entry.at - incident.declared_at).total_seconds()
                self._metrics.time_to_resolve.labels(severity).observe(max(0.0, seconds))
