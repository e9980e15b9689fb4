"""The dead-man's switch's row, as SQL on one connection (a mixin of the unit of work).

One row per heartbeat (there is one, `watchdog`). Ingest only ever runs `heartbeat_seen`,
one primary-key upsert, and only for a batch that carried the heartbeat. The checker
locks the row (`FOR UPDATE` on PostgreSQL; SQLite has one writer) for the transaction that
declares, so two replicas cannot both declare for one absence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, literal, select, update

from ..domain.heartbeat import HeartbeatState
from .tables import UtcDateTime, heartbeats


class SqlHeartbeatStatements:
    """Needs `_conn` (a sync Connection) and `_insert` (the dialect's insert)."""

    _conn: Connection
    _insert: Any

    def heartbeat_seen(self, name: str, now: datetime) -> None:
        """The heartbeat arrived (ingest's transaction); never moves the time back."""
        stmt = self._insert(heartbeats).values(name=name, since=now, last_seen_at=now)
        self._conn.execute(
            stmt.on_conflict_do_update(index_elements=["name"], set_={"last_seen_at": _later(now)})
        )

    def lock_heartbeat(self, name: str, now: datetime) -> HeartbeatState:
        """The row, created (watching begins `now`) if absent, locked until commit."""
        self._conn.execute(
            self._insert(heartbeats)
            .values(name=name, since=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = (
            self._conn.execute(
                select(heartbeats).where(heartbeats.c.name == name).with_for_update()
            )
            .mappings()
            .one()
        )
        incident_id = row["incident_id"]
        return HeartbeatState(
            since=row["since"],
            last_seen_at=row["last_seen_at"],
            fired_at=row["fired_at"],
            incident_id=int(incident_id) if incident_id is not None else None,
        )

    def heartbeat_fired(self, name: str, now: datetime, incident_id: int | None) -> None:
        self._conn.execute(
            update(heartbeats)
            .where(heartbeats.c.name == name)
            .values(fired_at=now, incident_id=incident_id)
        )

    def heartbeat_answered(self, name: str) -> None:
        self._conn.execute(
            update(heartbeats)
            .where(heartbeats.c.name == name)
            .values(fired_at=None, incident_id=None)
        )


def _later(now: datetime) -> Any:
    """max(last_seen_at, now) in SQL both databases speak (NULL counts as older)."""
    at = literal(now, UtcDateTime())
    return case((heartbeats.c.last_seen_at > at, heartbeats.c.last_seen_at), else_=at)
