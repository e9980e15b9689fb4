"""The SQL unit of work: the write path, synchronous, inside one transaction.

Groups are loaded and saved many at a time, in a few statements whatever their number:
on SQLite a statement costs far more in SQLAlchemy than the rows it carries.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.grouping import ClassifiedAlert, GroupState, Outcome
from ..domain.incident import Incident, TimelineEntry, TrackedAlert
from ..errors import NotFoundError
from . import rows
from .action_items_sql import SqlActionItemStatements
from .heartbeat_sql import SqlHeartbeatStatements
from .paging_sql import SqlPagingStatements
from .retention_sql import SqlRetentionStatements
from .sqlite_writes import SqliteWrites
from .tables import (
    alert_events,
    groups,
    incident_alerts,
    incidents,
    near_misses,
    outbox,
    timeline,
)

_IN_CHUNK = 1000  # values per IN list: both databases cap a statement's parameters


@dataclass(frozen=True)
class _Statements:
    """The write path's statements, built once per dialect: building a statement costs
    more than running it, and a statement built once keeps its cache key."""

    record_events: Any
    lock_groups: Any
    update_group: Any
    open_incidents: Any
    lock_incident: Any
    alerts: Any
    some_alerts: Any
    insert_incident: Any
    update_incident: Any
    write_alerts: Any
    insert_entries: Any
    insert_near_misses: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    group = dialect_insert(groups)
    alert = dialect_insert(incident_alerts)
    alerts = (
        select(incident_alerts.c.incident_id, incident_alerts.c.data, *rows.EVENT_COLUMNS)
        .select_from(rows.ALERT_EVENT_JOIN)
        .where(incident_alerts.c.incident_id.in_(bindparam("incident_ids", expanding=True)))
    )
    return _Statements(
        record_events=dialect_insert(alert_events)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(alert_events.c.event_key),
        # One statement creates the group rows if needed, locks them and returns them.
        lock_groups=group.on_conflict_do_update(
            index_elements=["group_key"], set_={"group_key": group.excluded.group_key}
        ).returning(groups.c.group_key, groups.c.pending),
        update_group=update(groups).where(groups.c.group_key == bindparam("key")),
        # Locked too: an API change (lock_incident) racing an ingest must not be
        # overwritten by the stale copy save_group writes back. In id order, as
        # lock_incident's callers might hold one.
        open_incidents=select(incidents)
        .where(
            incidents.c.group_key.in_(bindparam("group_keys", expanding=True)),
            incidents.c.state != "resolved",
        )
        .order_by(incidents.c.id)
        .with_for_update(),
        lock_incident=select(incidents)
        .where(incidents.c.id == bindparam("incident_id"))
        .with_for_update(),
        alerts=alerts,
        some_alerts=alerts.where(
            incident_alerts.c.fingerprint.in_(bindparam("fingerprints", expanding=True))
        ),
        insert_incident=insert(incidents).returning(incidents.c.id),
        update_incident=update(incidents).where(incidents.c.id == bindparam("incident_id")),
        write_alerts=alert.on_conflict_do_update(
            index_elements=["incident_id", "fingerprint"],
            set_={
                "starts_at": alert.excluded.starts_at,
                "event_key": alert.excluded.event_key,
                "data": alert.excluded.data,
            },
        ),
        insert_entries=insert(timeline),
        insert_near_misses=insert(near_misses),
    )


class _BulkWrites(Protocol):
    """The ingest path's statements: Core on PostgreSQL, the driver on SQLite."""

    def lock_groups(self, keys: Sequence[str]) -> dict[str, Any]: ...

    def open_incidents(self, keys: Sequence[str]) -> Sequence[Mapping[Any, Any]]: ...

    def update_incidents(self, values: Sequence[Mapping[str, Any]]) -> None: ...

    def insert_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]: ...

    def some_alerts(
        self, wanted: Mapping[int, Collection[str]]
    ) -> list[tuple[int, TrackedAlert | None]]: ...

    def write_alerts(self, alerts: Sequence[tuple[int, TrackedAlert]]) -> None: ...

    def insert_entries(self, entries: Sequence[tuple[int, TimelineEntry]]) -> None: ...

    def insert_outbox(self, values: Sequence[Mapping[str, Any]]) -> None:
        """New outbox messages, every column but the id given (pages, Slack calls...)."""


class CoreWrites:
    """`_BulkWrites` through SQLAlchemy Core and its column types (PostgreSQL)."""

    def __init__(self, conn: Connection, sql: _Statements) -> None:
        self._conn = conn
        self._sql = sql

    def lock_groups(self, keys: Sequence[str]) -> dict[str, Any]:
        new = [rows.new_group_values(key) for key in keys]
        return {key: raw for key, raw in self._conn.execute(self._sql.lock_groups, new)}

    def open_incidents(self, keys: Sequence[str]) -> Sequence[Mapping[Any, Any]]:
        return list(self._conn.execute(self._sql.open_incidents, {"group_keys": keys}).mappings())

    def update_incidents(self, values: Sequence[Mapping[str, Any]]) -> None:
        if values:
            self._conn.execute(self._sql.update_incident, values)

    def insert_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        by_key: dict[str, ClassifiedAlert] = {}
        for item in events:
            by_key.setdefault(rows.event_key(item.alert), item)
        params = [_event_values(key, item, receiver, now) for key, item in by_key.items()]
        fresh = {row[0] for row in self._conn.execute(self._sql.record_events, params)}
        return [item for key, item in by_key.items() if key in fresh]

    def some_alerts(
        self, wanted: Mapping[int, Collection[str]]
    ) -> list[tuple[int, TrackedAlert | None]]:
        """Every wanted incident crossed with every wanted fingerprint, in a few
        statements; the caller drops the pairs it did not want."""
        found = []
        fingerprints = sorted(set().union(*wanted.values()))
        for start in range(0, len(fingerprints), _IN_CHUNK):
            chunk = fingerprints[start : start + _IN_CHUNK]
            params = {"incident_ids": list(wanted), "fingerprints": chunk}
            for row in self._conn.execute(self._sql.some_alerts, params).mappings():
                found.append((int(row["incident_id"]), rows.tracked_from_row(row)))
        return found

    def write_alerts(self, alerts: Sequence[tuple[int, TrackedAlert]]) -> None:
        if alerts:
            values = [rows.alert_values(incident_id, alert) for incident_id, alert in alerts]
            self._conn.execute(self._sql.write_alerts, values)

    def insert_entries(self, entries: Sequence[tuple[int, TimelineEntry]]) -> None:
        if entries:
            values = [rows.entry_values(incident_id, e) for incident_id, e in entries]
            self._conn.execute(self._sql.insert_entries, values)

    def insert_outbox(self, values: Sequence[Mapping[str, Any]]) -> None:
        if values:
            self._conn.execute(insert(outbox), values)


class SqlUnitOfWork(
    SqlPagingStatements, SqlActionItemStatements, SqlRetentionStatements, SqlHeartbeatStatements
):
    """Implements `UnitOfWork` on one connection, inside the transaction `transact` began."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # The dialect's insert (for ON CONFLICT), for statements that cannot be built once.
        self._insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        self._sql = _statements(conn.dialect.name)
        self._writes: _BulkWrites = (
            SqliteWrites(conn) if conn.dialect.name == "sqlite" else CoreWrites(conn, self._sql)
        )

    def record_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        if not events:
            return []
        return self._writes.insert_events(events, receiver, now)

    def load_group(self, group_key: str, fingerprints: Collection[str] | None = None) -> GroupState:
        return self.load_groups({group_key: fingerprints})[group_key]

    def load_groups(self, wanted: Mapping[str, Collection[str] | None]) -> dict[str, GroupState]:
        if not wanted:
            return {}
        keys = sorted(wanted)  # every transaction locks groups in one order: no deadlock
        pending = self._writes.lock_groups(keys)
        found = {row["group_key"]: row for row in self._writes.open_incidents(keys)}
        alerts = self._alerts({int(row["id"]): wanted[key] for key, row in found.items()})
        states = {}
        for key in keys:
            row = found.get(key)
            incident = None if row is None else rows.incident_from_row(row, alerts[int(row["id"])])
            states[key] = GroupState(key, incident, rows.pending_from_row(pending[key]))
        return states

    def _alerts(
        self, wanted: Mapping[int, Collection[str] | None]
    ) -> dict[int, dict[str, TrackedAlert]]:
        """Each incident's alerts with the fingerprints wanted for it (all for None)."""
        out: dict[int, dict[str, TrackedAlert]] = {incident_id: {} for incident_id in wanted}
        every = [incident_id for incident_id, fps in wanted.items() if fps is None]
        some = {incident_id: fps for incident_id, fps in wanted.items() if fps}
        found: list[tuple[int, TrackedAlert | None]] = []
        if every:
            params = {"incident_ids": every}
            for row in self._conn.execute(self._sql.alerts, params).mappings():
                found.append((int(row["incident_id"]), rows.tracked_from_row(row)))
        if some:
            found += self._writes.some_alerts(some)
        for incident_id, alert in found:
            fps = wanted[incident_id]
            if alert is not None and (fps is None or alert.fingerprint in fps):
                out[incident_id][alert.fingerprint] = alert
        return out

    def save_group(self, state: GroupState, outcome: Outcome, now: datetime) -> Incident | None:
        return self.save_groups([(state, outcome)], now)[0]

    def save_groups(
        self, changes: Sequence[tuple[GroupState, Outcome]], now: datetime
    ) -> list[Incident | None]:
        self._write_groups([state for state, outcome in changes if outcome.pending_changed], now)
        misses = [rows.near_miss_values(m) for _, outcome in changes for m in outcome.near_misses]
        if misses:
            self._conn.execute(self._sql.insert_near_misses, misses)
        kept = [(s.incident, outcome) for s, outcome in changes if s.incident is not None]
        for incident, outcome in kept:
            if outcome.declared:
                values = rows.incident_values(incident)
                result = self._conn.execute(self._sql.insert_incident, values)
                incident.id = int(result.scalar_one())
        self._write_incidents(
            [
                incident
                for incident, outcome in kept
                if not outcome.declared and (outcome.incident_changed or incident.changed_alerts)
            ]
        )
        self._write_alerts([incident for incident, _ in kept])
        self._write_entries([(incident.id, outcome.timeline) for incident, outcome in kept])
        return [state.incident for state, _ in changes]

    def lock_incident(self, incident_id: int) -> Incident:
        found = (
            self._conn.execute(self._sql.lock_incident, {"incident_id": incident_id})
            .mappings()
            .first()
        )
        if found is None:
            raise NotFoundError(f"incident {incident_id} not found")
        return rows.incident_from_row(found, self._alerts({incident_id: None})[incident_id])

    def save_incident(self, incident: Incident, entries: Sequence[TimelineEntry]) -> None:
        self._write_incidents([incident])
        self._write_alerts([incident])
        self._write_entries([(incident.id, entries)])

    def _write_groups(self, states: Sequence[GroupState], now: datetime) -> None:
        if states:
            self._conn.execute(self._sql.update_group, [_group_values(s, now) for s in states])

    def _write_incidents(self, changed: Sequence[Incident]) -> None:
        self._writes.update_incidents(
            [{**rows.incident_values(i), "incident_id": i.id} for i in changed]
        )

    def _write_alerts(self, incidents: Sequence[Incident]) -> None:
        self._writes.write_alerts(
            [
                (incident.id, incident.alerts[fp])
                for incident in incidents
                for fp in sorted(incident.changed_alerts)
            ]
        )
        for incident in incidents:
            incident.changed_alerts.clear()

    def _write_entries(self, entries: Sequence[tuple[int, Sequence[TimelineEntry]]]) -> None:
        self._writes.insert_entries(
            [(incident_id, e) for incident_id, some in entries for e in some]
        )


def _group_values(state: GroupState, now: datetime) -> dict[str, Any]:
    due = [p.declare_at for p in state.pending.values() if p.declare_at is not None]
    return {
        "key": state.group_key,
        "pending": rows.pending_values(state.pending),
        "next_declare_at": min(due) if due else None,
        "updated_at": now,
    }


def _event_values(key: str, item: ClassifiedAlert, receiver: str, now: datetime) -> dict[str, Any]:
    alert, c = item.alert, item.classification
    return {
        "event_key": key,
        "fingerprint": alert.fingerprint,
        "status": alert.status.value,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "received_at": now,
        "receiver": receiver,
        "group_key": c.group_key,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "generator_url": alert.generator_url,
        "impact": c.impact.value,
        "reason": c.reason,
        "evidence": [dict(e) for e in c.evidence],
    }
