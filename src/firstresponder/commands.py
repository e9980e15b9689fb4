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
from .store.ports import Database

Change = Callable[[Incident, datetime], list[TimelineEntry]]


class IncidentCommands:
    def __init__(
        self,
        store: Database,
        classifier: LabelClassifier,
        severity_map: Mapping[Impact, Severity],
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._classifier = classifier
        self._severity_map = severity_map
        self._clock = clock
        self._metrics = metrics

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
        group_key = self._classifier.group_key(service, labels)
        chosen = severity or self._severity_map[impact]
        async with self._store.unit_of_work() as uow:
            state = await uow.load_group(group_key)
            if state.incident is not None:
                raise ConflictError(
                    f"incident {state.incident.id} is already open for {group_key}; add to it instead"
                )
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
                source="manual",
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
            await uow.save_group(
                state, GroupEngine(self._severity_map).adopt(state, incident, entry, now), now
            )
        self._metrics.incidents_declared.labels(service, chosen.value, impact.value).inc()
        await refresh_open_counts(self._store, self._metrics)
        return incident

    async def change(
        self, incident_id: int, change: Change
    ) -> tuple[Incident, list[TimelineEntry]]:
        now = self._clock.now()
        async with self._store.unit_of_work() as uow:
            incident = await uow.lock_incident(incident_id)
            entries = change(incident, now)
            if entries:
                await uow.save_incident(incident, entries)
        await refresh_open_counts(self._store, self._metrics)
        return incident, entries
