"""The dead-man's switch: declare an incident for the alerting pipeline when its heartbeat
alert stops arriving, and move it to monitoring when the heartbeat comes back.

Ingest refreshes the heartbeat's last-seen time (`ingest.Ingestor`); this watch runs in
every scheduler tick. The check, the declaration (through `IncidentCommands.declare_in`,
so the EOC is paged and Slack told as for any incident) and the mark that it was declared
commit in one transaction that holds the heartbeat's row locked: on several replicas one
declares and the others, waiting for the row, find it declared. The times are stored, so
an absence that began while the daemon was down counts from the last time seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from .clock import Clock
from .commands import IncidentCommands
from .config_heartbeat import HeartbeatConfig
from .domain.heartbeat import HeartbeatState, HeartbeatVerdict, absence_text, verdict
from .domain.incident import Incident, TimelineEntry
from .domain.vocabulary import IncidentState
from .errors import ConflictError, NotFoundError
from .ingest import HEARTBEAT
from .metrics import Metrics
from .store.ports import Database, UnitOfWork

log = logging.getLogger(__name__)

ACTOR = "dead-man's switch"


@dataclass
class _Checked:
    state: HeartbeatState
    verdict: HeartbeatVerdict
    declared: Incident | None = None
    changed: Incident | None = None
    entries: list[TimelineEntry] = field(default_factory=list)


class HeartbeatWatch:
    def __init__(
        self,
        store: Database,
        commands: IncidentCommands,
        clock: Clock,
        metrics: Metrics,
        config: HeartbeatConfig,
    ) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._metrics = metrics
        self._config = config

    async def check(self) -> HeartbeatVerdict:
        """One pass: declare, or answer a declared absence, if it is time to."""
        now = self._clock.now()
        checked = await self._store.transact(partial(self._check, now=now), background=True)
        self._metrics.heartbeat_age.set(checked.state.age(now).total_seconds())
        if checked.declared is not None:
            await self._commands.after_declared(checked.declared)
            log.error(
                "heartbeat missing: incident declared",
                extra={
                    "incident_id": checked.declared.id,
                    "last_seen_at": _iso(checked.state.last_seen_at),
                    "age_s": round(checked.state.age(now).total_seconds()),
                },
            )
        if checked.changed is not None:
            await self._commands.after_change(checked.changed, checked.entries)
        if checked.verdict is HeartbeatVerdict.RETURNED:
            log.warning("heartbeat returned", extra={"incident_id": checked.state.incident_id})
        return checked.verdict

    def _check(self, uow: UnitOfWork, now: datetime) -> _Checked:
        state = uow.lock_heartbeat(HEARTBEAT, now)
        found = verdict(state, now, self._config.timeout)
        checked = _Checked(state, found)
        if found is HeartbeatVerdict.DECLARE:
            self._declare(uow, checked, now)
        elif found is HeartbeatVerdict.RETURNED:
            self._returned(uow, checked, now)
        return checked

    def _declare(self, uow: UnitOfWork, checked: _Checked, now: datetime) -> None:
        text = absence_text(checked.state, now, self._config.timeout)
        try:
            incident = self._commands.declare_in(
                uow,
                now,
                service=self._config.service,
                title="Alerting pipeline heartbeat missing",
                impact=self._config.impact,
                severity=self._config.severity,
                description=text,
                labels={},
                actor=ACTOR,
                source="heartbeat",
            )
        except ConflictError:
            # An earlier absence's incident is still open (monitoring): it is this
            # absence's incident too, back to investigating.
            incident_id = self._open_incident_id(uow)
            if incident_id is None:
                raise
            reopen = partial(_back_to_investigating, cause=text)
            checked.changed, checked.entries = self._commands.change_in(
                uow, incident_id, reopen, now
            )
            uow.heartbeat_fired(HEARTBEAT, now, incident_id)
            return
        uow.add_entries(incident.id, [TimelineEntry(now, "heartbeat_missing", text, ACTOR)])
        uow.heartbeat_fired(HEARTBEAT, now, incident.id)
        checked.declared = incident

    def _open_incident_id(self, uow: UnitOfWork) -> int | None:
        key = self._commands.group_key(self._config.service, {})
        state = uow.load_group(key)
        return state.incident.id if state.incident is not None else None

    def _returned(self, uow: UnitOfWork, checked: _Checked, now: datetime) -> None:
        uow.heartbeat_answered(HEARTBEAT)
        if checked.state.incident_id is None:
            return
        seen = checked.state.last_seen_at
        cause = f"the heartbeat alert arrived again at {_iso(seen)}"
        try:
            checked.changed, checked.entries = self._commands.change_in(
                uow, checked.state.incident_id, partial(_to_monitoring, cause=cause), now
            )
        except NotFoundError:
            log.warning("heartbeat incident gone", extra={"incident_id": checked.state.incident_id})


def _to_monitoring(incident: Incident, now: datetime, *, cause: str) -> list[TimelineEntry]:
    if not incident.is_open or incident.state is IncidentState.MONITORING:
        return []
    return incident.set_state(IncidentState.MONITORING, ACTOR, now, cause)


def _back_to_investigating(incident: Incident, now: datetime, *, cause: str) -> list[TimelineEntry]:
    entries = [TimelineEntry(now, "heartbeat_missing", cause, ACTOR)]
    if incident.is_open and incident.state is not IncidentState.INVESTIGATING:
        entries += incident.set_state(
            IncidentState.INVESTIGATING, ACTOR, now, "heartbeat missing again"
        )
    return entries


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
