"""The SQL store: SQLite (WAL, one writer) or PostgreSQL, through SQLAlchemy Core async."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..domain.grouping import ClassifiedAlert, GroupState, NearMiss, Outcome
from ..domain.incident import Incident, TimelineEntry, TrackedAlert
from ..errors import NotFoundError, StoreUnavailable
from . import rows
from .migrate import upgrade_to_head
from .ports import IncidentFilter, StoredEntry
from .tables import alert_events, groups, incident_alerts, incidents, near_misses, timeline

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALERTS_SHOWN = 1000  # alerts per incident the read API returns


def async_url(url: str) -> str:
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    return url


def event_key(event: ClassifiedAlert) -> str:
    alert = event.alert
    return f"{alert.fingerprint}|{alert.starts_at.isoformat()}|{alert.status.value}"


@contextlib.asynccontextmanager
async def translate_errors() -> AsyncIterator[None]:
    """An unreachable or overloaded database becomes StoreUnavailable (503, retried),
    without the URL (it may hold a password). Data and programming errors are bugs and
    stay what they are: retrying them would not help.
    """
    try:
        yield
    except (
        OperationalError,
        InterfaceError,
        DisconnectionError,
        PoolTimeout,
        OSError,
        TimeoutError,
    ) as exc:
        raise StoreUnavailable(f"store unavailable: {type(exc).__name__}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable(f"store unavailable: {type(exc).__name__}") from exc
        raise


class SqlUnitOfWork:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert

    async def record_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        if not events:
            return []
        by_key: dict[str, ClassifiedAlert] = {}
        for item in events:
            by_key.setdefault(event_key(item), item)
        stmt = (
            self._insert(alert_events)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(alert_events.c.event_key)
        )
        params = [_event_values(key, item, receiver, now) for key, item in by_key.items()]
        result = await self._conn.execute(stmt, params)
        fresh = {row[0] for row in result}
        return [item for key, item in by_key.items() if key in fresh]

    async def load_group(
        self, group_key: str, fingerprints: Collection[str] | None = None
    ) -> GroupState:
        # One statement creates the group row if needed, locks it and returns it.
        upsert = self._insert(groups).values(
            group_key=group_key, pending={}, next_declare_at=None, updated_at=_EPOCH
        )
        locked = upsert.on_conflict_do_update(
            index_elements=["group_key"], set_={"group_key": upsert.excluded.group_key}
        ).returning(groups.c.pending)
        pending = (await self._conn.execute(locked)).scalar_one()
        found = (
            (
                await self._conn.execute(
                    # Locked too: an API change (lock_incident) racing this ingest must
                    # not be overwritten by the stale copy save_group writes back.
                    select(incidents)
                    .where(incidents.c.group_key == group_key, incidents.c.state != "resolved")
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        incident = None
        if found is not None:
            alerts = await self._alerts(int(found["id"]), fingerprints)
            incident = rows.incident_from_row(found, alerts)
        return GroupState(group_key, incident, rows.pending_from_row(pending))

    async def _alerts(
        self, incident_id: int, fingerprints: Collection[str] | None
    ) -> dict[str, TrackedAlert]:
        if fingerprints is not None and not fingerprints:
            return {}
        stmt = select(incident_alerts.c.data).where(incident_alerts.c.incident_id == incident_id)
        if fingerprints is not None:
            stmt = stmt.where(incident_alerts.c.fingerprint.in_(list(fingerprints)))
        found = [TrackedAlert.from_dict(row[0]) for row in await self._conn.execute(stmt)]
        return {a.fingerprint: a for a in found}

    async def save_group(
        self, state: GroupState, outcome: Outcome, now: datetime
    ) -> Incident | None:
        if outcome.pending_changed:
            due = [p.declare_at for p in state.pending.values() if p.declare_at is not None]
            await self._conn.execute(
                update(groups)
                .where(groups.c.group_key == state.group_key)
                .values(
                    pending=rows.pending_values(state.pending),
                    next_declare_at=min(due) if due else None,
                    updated_at=now,
                )
            )
        if outcome.near_misses:
            await self._conn.execute(
                insert(near_misses), [rows.near_miss_values(m) for m in outcome.near_misses]
            )
        incident = state.incident
        if incident is None:
            return None
        if outcome.declared:
            result = await self._conn.execute(
                insert(incidents).values(rows.incident_values(incident)).returning(incidents.c.id)
            )
            incident.id = int(result.scalar_one())
        elif outcome.incident_changed or incident.changed_alerts:
            await self._write_incident(incident)
        await self._write_alerts(incident)
        await self._write_entries(incident.id, outcome.timeline)
        return incident

    async def lock_incident(self, incident_id: int) -> Incident:
        found = (
            (
                await self._conn.execute(
                    select(incidents).where(incidents.c.id == incident_id).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if found is None:
            raise NotFoundError(f"incident {incident_id} not found")
        return rows.incident_from_row(found, await self._alerts(incident_id, None))

    async def save_incident(self, incident: Incident, entries: Sequence[TimelineEntry]) -> None:
        await self._write_incident(incident)
        await self._write_alerts(incident)
        await self._write_entries(incident.id, entries)

    async def _write_alerts(self, incident: Incident) -> None:
        if not incident.changed_alerts:
            return
        stmt = self._insert(incident_alerts)
        stmt = stmt.on_conflict_do_update(
            index_elements=["incident_id", "fingerprint"],
            set_={"starts_at": stmt.excluded.starts_at, "data": stmt.excluded.data},
        )
        values = [
            rows.alert_values(incident.id, incident.alerts[fp])
            for fp in sorted(incident.changed_alerts)
        ]
        await self._conn.execute(stmt, values)
        incident.changed_alerts.clear()

    async def _write_incident(self, incident: Incident) -> None:
        await self._conn.execute(
            update(incidents)
            .where(incidents.c.id == incident.id)
            .values(rows.incident_values(incident))
        )

    async def _write_entries(self, incident_id: int, entries: Sequence[TimelineEntry]) -> None:
        if entries:
            await self._conn.execute(
                insert(timeline), [rows.entry_values(incident_id, e) for e in entries]
            )


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
    }


class SqlStore:
    """Implements `Store` and `IncidentReader`."""

    def __init__(self, url: str, *, pool_size: int = 5, busy_timeout_s: float = 5.0) -> None:
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            self._engine = create_async_engine(
                async_url(url), connect_args={"timeout": busy_timeout_s}
            )
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_s))
        else:
            self._engine = create_async_engine(
                async_url(url), pool_size=pool_size, pool_pre_ping=True
            )
        # SQLite has one writer: serialise writers here rather than spin on SQLITE_BUSY.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def migrate(self) -> None:
        async with translate_errors(), self._engine.begin() as conn:
            await conn.run_sync(upgrade_to_head)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, translate_errors(), self._engine.begin() as conn:
            yield SqlUnitOfWork(conn)

    async def ping(self) -> None:
        async with translate_errors(), self._engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self._engine.dispose()

    async def groups_due(self, now: datetime, limit: int = 100) -> list[str]:
        stmt = (
            select(groups.c.group_key)
            .where(groups.c.next_declare_at <= now)
            .order_by(groups.c.next_declare_at)
            .limit(limit)
        )
        return [row[0] for row in await self._read(stmt)]

    async def list_incidents(self, query: IncidentFilter) -> list[Incident]:
        stmt = select(incidents).order_by(incidents.c.id.desc()).limit(query.limit)
        if query.state is not None:
            stmt = stmt.where(incidents.c.state == query.state.value)
        if query.open_only:
            stmt = stmt.where(incidents.c.state != "resolved")
        if query.service is not None:
            stmt = stmt.where(incidents.c.service == query.service)
        if query.severity is not None:
            stmt = stmt.where(incidents.c.severity == query.severity.value)
        if query.before_id is not None:
            stmt = stmt.where(incidents.c.id < query.before_id)
        found = await self._read_mappings(stmt)
        alerts = await self._alerts_of([int(r["id"]) for r in found])
        return [rows.incident_from_row(r, alerts.get(int(r["id"]))) for r in found]

    async def get_incident(self, incident_id: int) -> Incident:
        found = await self._read_mappings(select(incidents).where(incidents.c.id == incident_id))
        if not found:
            raise NotFoundError(f"incident {incident_id} not found")
        alerts = await self._alerts_of([incident_id])
        return rows.incident_from_row(found[0], alerts.get(incident_id))

    async def _alerts_of(self, ids: list[int]) -> dict[int, dict[str, TrackedAlert]]:
        """The alerts of these incidents, earliest first, at most ALERTS_SHOWN each."""
        if not ids:
            return {}
        stmt = (
            select(incident_alerts.c.incident_id, incident_alerts.c.data)
            .where(incident_alerts.c.incident_id.in_(ids))
            .order_by(incident_alerts.c.incident_id, incident_alerts.c.starts_at)
        )
        out: dict[int, dict[str, TrackedAlert]] = {}
        for incident_id, data in await self._read(stmt):
            shown = out.setdefault(int(incident_id), {})
            if len(shown) < ALERTS_SHOWN:
                alert = TrackedAlert.from_dict(data)
                shown[alert.fingerprint] = alert
        return out

    async def timeline(self, incident_id: int) -> list[StoredEntry]:
        await self.get_incident(incident_id)
        stmt = select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
        return [
            StoredEntry(int(r["id"]), incident_id, rows.entry_from_row(r))
            for r in await self._read_mappings(stmt)
        ]

    async def near_misses(self, limit: int = 100) -> list[NearMiss]:
        stmt = select(near_misses).order_by(near_misses.c.id.desc()).limit(limit)
        return [rows.near_miss_from_row(r) for r in await self._read_mappings(stmt)]

    async def open_counts(self) -> dict[str, int]:
        stmt = (
            select(incidents.c.severity, func.count())
            .where(incidents.c.state != "resolved")
            .group_by(incidents.c.severity)
        )
        return {row[0]: int(row[1]) for row in await self._read(stmt)}

    async def _read(self, stmt: Any) -> list[Any]:
        async with translate_errors(), self._engine.connect() as conn:
            return list(await conn.execute(stmt))

    async def _read_mappings(self, stmt: Any) -> list[Any]:
        async with translate_errors(), self._engine.connect() as conn:
            return list((await conn.execute(stmt)).mappings())


def _sqlite_pragmas(busy_timeout_s: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return on_connect
