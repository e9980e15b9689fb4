"""The ingest path's bulk statements on SQLite, run on the driver without SQLAlchemy Core.

Core processes every bound value through its column type and builds an execution context
per statement; for the rows of a webhook batch (an event, an incident alert and a timeline
entry per alert) that costs several times what SQLite takes to store them. Here each value
is serialised once, exactly as the column type would store it (`UtcDateTime`: naive UTC
text with microseconds; `JSON`: `json.dumps`), and the rows go to `executemany` through
`exec_driver_sql`, which still translates driver errors into SQLAlchemy's. Reads through
Core see the same rows: tests/integration/store/test_sqlite_writes.py compares the two.

Lists of keys travel as one JSON array (`json_each`), so a statement's text, and
SQLite's cached plan for it, does not depend on how many keys a batch has.

PostgreSQL keeps the Core statements (`unit_of_work.CoreWrites`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from ..domain.grouping import ClassifiedAlert
from ..domain.incident import TimelineEntry, TrackedAlert

_EXISTING_EVENTS = (
    "SELECT event_key FROM alert_events WHERE event_key IN (SELECT value FROM json_each(?))"
)
_INSERT_EVENT = (
    "INSERT INTO alert_events (event_key, fingerprint, status, starts_at, ends_at,"
    " received_at, receiver, group_key, labels, annotations, generator_url, impact, reason)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SOME_ALERTS = (
    "SELECT incident_id, data FROM incident_alerts"
    " WHERE incident_id IN (SELECT value FROM json_each(?))"
    " AND fingerprint IN (SELECT value FROM json_each(?))"
)
_WRITE_ALERT = (
    "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, data)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, fingerprint)"
    " DO UPDATE SET starts_at = excluded.starts_at, data = excluded.data"
)
_INSERT_ENTRY = (
    "INSERT INTO timeline (incident_id, at, kind, actor, message, data) VALUES (?, ?, ?, ?, ?, ?)"
)


def sqlite_time(value: datetime | None) -> str | None:
    """A datetime as `UtcDateTime` stores it on SQLite (SQLAlchemy's DATETIME format)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


class SqliteWrites:
    """The bulk reads and writes of one ingest transaction, on one SQLite connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert_events(
        self, events: Mapping[str, ClassifiedAlert], receiver: str, now: datetime
    ) -> set[str]:
        """Store the events not stored yet (keyed by event key); their keys.

        The writer holds SQLite's write lock for the whole transaction, so nothing can
        store a key between the look-up and the insert.
        """
        keys = json.dumps(list(events))
        known = {row[0] for row in self._conn.exec_driver_sql(_EXISTING_EVENTS, (keys,))}
        received = sqlite_time(now)
        rows = [
            _event_row(key, item, receiver, received)
            for key, item in events.items()
            if key not in known
        ]
        if rows:
            self._conn.exec_driver_sql(_INSERT_EVENT, rows)
        return set(events) - known

    def some_alerts(
        self, incident_ids: Collection[int], fingerprints: Collection[str]
    ) -> list[tuple[int, dict[str, Any]]]:
        """The stored alerts of these incidents that have one of these fingerprints."""
        params = (json.dumps(list(incident_ids)), json.dumps(list(fingerprints)))
        found = self._conn.exec_driver_sql(_SOME_ALERTS, params)
        return [(int(incident_id), json.loads(data)) for incident_id, data in found]

    def write_alerts(self, alerts: Sequence[tuple[int, TrackedAlert]]) -> None:
        rows = [
            (incident_id, alert.fingerprint, sqlite_time(alert.starts_at), _json(alert.as_dict()))
            for incident_id, alert in alerts
        ]
        if rows:
            self._conn.exec_driver_sql(_WRITE_ALERT, rows)

    def insert_entries(self, entries: Sequence[tuple[int, TimelineEntry]]) -> None:
        rows = [
            (incident_id, sqlite_time(e.at), e.kind, e.actor, e.message, _json(dict(e.data)))
            for incident_id, e in entries
        ]
        if rows:
            self._conn.exec_driver_sql(_INSERT_ENTRY, rows)


_json = json.dumps  # what SQLAlchemy's JSON type stores when no serializer is configured


def _event_row(
    key: str, item: ClassifiedAlert, receiver: str, received: str | None
) -> tuple[Any, ...]:
    alert, c = item.alert, item.classification
    return (
        key,
        alert.fingerprint,
        alert.status.value,
        sqlite_time(alert.starts_at),
        sqlite_time(alert.ends_at),
        received,
        receiver,
        c.group_key,
        _json(dict(alert.labels)),
        _json(dict(alert.annotations)),
        alert.generator_url,
        c.impact.value,
        c.reason,
    )
