"""The SQL store: SQLite (WAL, one writer) or PostgreSQL, through SQLAlchemy Core.

A unit of work is synchronous code against one `Connection`, run whole in one hop: on
SQLite in the single writer thread (SQLite has one writer; one thread serialises them
without SQLITE_BUSY), on PostgreSQL inside the asyncpg engine through `run_sync`. Reads
are synchronous functions run the same way; on SQLite they have two threads of their own
so that, with WAL, they never wait behind a write.

A database that is down, slow or out of connections costs a caller seconds, not a hang:
PostgreSQL connections are made with a connect timeout and carry `statement_timeout` and
`lock_timeout`; the pool is capped at `pool_size` and a caller waits `pool_timeout` for a
connection; every pooled connection is pinged before use, so the first request after the
database comes back gets a fresh one. All of these failures become `StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, and_, create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine

from ..config_store import StoreConfig
from ..domain.grouping import NearMiss
from ..domain.incident import Incident, TrackedAlert
from ..errors import NotFoundError, StoreUnavailable
from . import rows
from .migrate import upgrade_to_head
from .ports import IncidentFilter, StoredEntry
from .tables import OPEN, groups, incident_alerts, incidents, near_misses, timeline
from .unit_of_work import SqlUnitOfWork
from .writer import PriorityWriter

T = TypeVar("T")
# Spelled as a literal so that the planners match the partial index `ix_incidents_open`.
OPEN_INCIDENT = text(f"incidents.{OPEN}")
ALERTS_SHOWN = 1000  # alerts per incident the read API returns
_WRITER = "firstresponder_writer"  # execution option: this connection begins IMMEDIATE


def async_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    return url


_UNREACHABLE = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    TimeoutError,
)
# SQLSTATEs a retry can cure. Classes: 08 connection exception, 53 insufficient resources
# (too many connections, disk full), 57 operator intervention (statement_timeout, admin or
# crash shutdown, "the database system is starting up"). Codes: lock_timeout, deadlock,
# serialization failure. asyncpg's errors reach SQLAlchemy as plain `DBAPIError`s, so
# the code, not the class, tells them from bugs.
_RETRY_CLASSES = frozenset({"08", "53", "57"})
_RETRY_CODES = frozenset({"55P03", "40P01", "40001"})


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code of a driver error, raw or wrapped by SQLAlchemy."""
    for candidate in (exc, getattr(exc, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_unavailable(exc: BaseException) -> bool:
    """True when the database is unreachable, overloaded or timed out: a retry may work."""
    if isinstance(exc, _UNREACHABLE):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = sqlstate(exc)
    return code is not None and (code[:2] in _RETRY_CLASSES or code in _RETRY_CODES)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """An unreachable, overloaded or timed-out database becomes StoreUnavailable (503,
    retried), named by error type and SQLSTATE only: the driver's message may carry the
    URL (a password) or the statement's parameters. Data and programming errors are bugs
    and stay what they are: retrying them would not help.
    """
    try:
        yield
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        code = sqlstate(exc)
        reason = type(exc).__name__ + (f" (SQLSTATE {code})" if code else "")
        raise StoreUnavailable(f"store unavailable: {reason}") from exc


class _Backend(Protocol):
    """Where synchronous database work runs: `write` in a transaction it commits."""

    async def write(self, work: Callable[[Connection], T], *, background: bool = False) -> T: ...

    async def read(self, work: Callable[[Connection], T]) -> T: ...

    async def dispose(self) -> None: ...

    async def close(self) -> None: ...


class _Sqlite:
    """A synchronous pysqlite engine: writes in one thread, reads in two others."""

    def __init__(self, url: str, busy_timeout_s: float) -> None:
        # Pooled connections move between the threads, one thread at a time.
        args = {"timeout": busy_timeout_s, "check_same_thread": False}
        self._engine = create_engine(url, connect_args=args)
        event.listen(self._engine, "connect", _sqlite_connect(busy_timeout_s))
        event.listen(self._engine, "begin", _sqlite_begin)
        self._writes = self._engine.execution_options(**{_WRITER: True})
        self._writer = PriorityWriter(thread_name="sqlite-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")

    async def write(self, work: Callable[[Connection], T], *, background: bool = False) -> T:
        return await self._writer.submit(functools.partial(self._write_now, work), background)

    def _write_now(self, work: Callable[[Connection], T]) -> T:
        with self._writes.begin() as conn:
            return work(conn)

    async def read(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_now, work)

    def _read_now(self, work: Callable[[Connection], T]) -> T:
        with self._engine.connect() as conn:
            return work(conn)

    async def dispose(self) -> None:
        self._engine.dispose()

    async def close(self) -> None:
        await asyncio.to_thread(self._shut_down)

    def _shut_down(self) -> None:
        """Let work already handed to the threads finish, then close the connections."""
        self._writer.shutdown()
        self._readers.shutdown()
        self._engine.dispose()


def _sqlite_connect(busy_timeout_s: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented pysqlite recipe: sqlite3 emits no BEGIN of its own
        # (its legacy mode would defer it to the first write); `_sqlite_begin` does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock up front: a deferred transaction that reads first and
    # writes later fails with SQLITE_BUSY, without waiting, if another process wrote between.
    writer = conn.get_execution_options().get(_WRITER, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


class _Postgres:
    """The asyncpg engine; synchronous work runs on it through greenlets (`run_sync`)."""

    def __init__(self, url: str, config: StoreConfig) -> None:
        connect_args = {
            "timeout": config.connect_timeout.total_seconds(),
            "server_settings": {
                "application_name": "firstresponder",
                "statement_timeout": _milliseconds(config.statement_timeout),
                "lock_timeout": _milliseconds(config.lock_timeout),
            },
        }
        self._engine = create_async_engine(
            async_url(url),
            pool_size=config.pool_size,
            max_overflow=0,  # pool_size is the most connections a replica opens
            pool_timeout=config.pool_timeout.total_seconds(),
            pool_pre_ping=True,  # a connection the database dropped is replaced, not used
            connect_args=connect_args,
        )

    async def write(self, work: Callable[[Connection], T], *, background: bool = False) -> T:
        # Row locks let writers run side by side: background work takes pool connections
        # like the rest and waits for nobody's turn.
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        async with self._engine.connect() as conn:
            return await conn.run_sync(work)

    async def dispose(self) -> None:
        await self._engine.dispose()

    async def close(self) -> None:
        await self._engine.dispose()


def _milliseconds(value: timedelta) -> str:
    return str(int(value.total_seconds() * 1000))


class SqlStore:
    """Implements `Store` and `IncidentReader`."""

    def __init__(self, url: str, config: StoreConfig | None = None) -> None:
        """`config` holds the pool and the timeouts (its own `url` is not used)."""
        config = config or StoreConfig()
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        self._backend: _Backend = (
            _Sqlite(url, config.busy_timeout.total_seconds())
            if self.dialect == "sqlite"
            else _Postgres(url, config)
        )

    @classmethod
    def from_config(cls, config: StoreConfig) -> SqlStore:
        return cls(config.url, config)

    async def migrate(self) -> None:
        with translate_errors():
            await self._backend.write(upgrade_to_head)

    async def transact(self, work: Callable[[SqlUnitOfWork], T], *, background: bool = False) -> T:
        with translate_errors():
            return await self._backend.write(
                lambda conn: work(SqlUnitOfWork(conn)), background=background
            )

    async def outbox_stats(
        self, channels: Collection[str]
    ) -> dict[str, tuple[int, datetime | None]]:
        return await self._read(lambda conn: SqlUnitOfWork(conn).outbox_stats(channels))

    async def ping(self) -> None:
        await self._read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one())

    async def dispose(self) -> None:
        """Close the pooled connections; the next statement opens a new one."""
        await self._backend.dispose()

    async def close(self) -> None:
        await self._backend.close()

    async def groups_due(self, now: datetime, limit: int = 100) -> list[str]:
        stmt = (
            select(groups.c.group_key)
            .where(groups.c.next_declare_at <= now)
            .order_by(groups.c.next_declare_at)
            .limit(limit)
        )
        return [row[0] for row in await self._rows(stmt)]

    async def list_incidents(self, query: IncidentFilter) -> list[Incident]:
        stmt = select(incidents).order_by(incidents.c.id.desc()).limit(query.limit)
        if query.state is not None:
            stmt = stmt.where(incidents.c.state == query.state.value)
        if query.open_only:
            stmt = stmt.where(OPEN_INCIDENT)
        if query.service is not None:
            stmt = stmt.where(incidents.c.service == query.service)
        if query.severity is not None:
            stmt = stmt.where(incidents.c.severity == query.severity.value)
        if query.before_id is not None:
            stmt = stmt.where(incidents.c.id < query.before_id)
        if query.resolved_since is not None:
            stmt = stmt.where(incidents.c.resolved_at >= query.resolved_since)
        return await self._read(lambda conn: _incidents(conn, stmt, query.with_alerts))

    async def get_incident(self, incident_id: int) -> Incident:
        return await self._read(lambda conn: _incident(conn, incident_id))

    async def timeline(self, incident_id: int) -> list[StoredEntry]:
        return await self._read(lambda conn: _timeline(conn, incident_id))

    async def near_misses(self, limit: int = 100) -> list[NearMiss]:
        stmt = select(near_misses).order_by(near_misses.c.id.desc()).limit(limit)
        return [rows.near_miss_from_row(r) for r in await self._mappings(stmt)]

    async def open_counts(self) -> dict[str, int]:
        stmt = (
            select(incidents.c.severity, func.count())
            .where(OPEN_INCIDENT)
            .group_by(incidents.c.severity)
        )
        return {row[0]: int(row[1]) for row in await self._rows(stmt)}

    async def _read(self, work: Callable[[Connection], T]) -> T:
        with translate_errors():
            return await self._backend.read(work)

    async def _rows(self, stmt: Any) -> list[Any]:
        return await self._read(lambda conn: list(conn.execute(stmt)))

    async def _mappings(self, stmt: Any) -> list[Any]:
        return await self._read(lambda conn: list(conn.execute(stmt).mappings()))


def _incidents(conn: Connection, stmt: Any, with_alerts: bool = True) -> list[Incident]:
    found = list(conn.execute(stmt).mappings())
    alerts = _alerts_of(conn, [int(r["id"]) for r in found]) if with_alerts else {}
    return [rows.incident_from_row(r, alerts.get(int(r["id"]))) for r in found]


def _incident(conn: Connection, incident_id: int) -> Incident:
    found = _incidents(conn, select(incidents).where(incidents.c.id == incident_id))
    if not found:
        raise NotFoundError(f"incident {incident_id} not found")
    return found[0]


def _alerts_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, TrackedAlert]]:
    """The alerts of these incidents, earliest first, at most ALERTS_SHOWN each.

    The cut is made in the database (a row number per incident): an incident of an alert
    storm holds tens of thousands of alerts, and reading them all to show a thousand
    would cost every listing of incidents that much."""
    if not ids:
        return {}
    a = incident_alerts.c
    ranked = (
        select(
            a.incident_id,
            a.fingerprint,
            func.row_number()
            .over(partition_by=a.incident_id, order_by=(a.starts_at, a.fingerprint))
            .label("n"),
        )
        .where(a.incident_id.in_(ids))
        .subquery()
    )
    shown = ranked.c.n <= ALERTS_SHOWN
    on = and_(ranked.c.incident_id == a.incident_id, ranked.c.fingerprint == a.fingerprint)
    stmt = (
        select(a.incident_id, a.data, *rows.EVENT_COLUMNS)
        .select_from(rows.ALERT_EVENT_JOIN.join(ranked, and_(on, shown)))
        .order_by(a.incident_id, a.starts_at, a.fingerprint)
    )
    out: dict[int, dict[str, TrackedAlert]] = {incident_id: {} for incident_id in ids}
    for row in conn.execute(stmt).mappings():
        alert = rows.tracked_from_row(row)
        if alert is not None:
            out[int(row["incident_id"])][alert.fingerprint] = alert
    return out


def _timeline(conn: Connection, incident_id: int) -> list[StoredEntry]:
    exists = select(incidents.c.id).where(incidents.c.id == incident_id)
    if conn.execute(exists).first() is None:
        raise NotFoundError(f"incident {incident_id} not found")
    stmt = select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
    return [
        StoredEntry(int(r["id"]), incident_id, rows.entry_from_row(r))
        for r in conn.execute(stmt).mappings()
    ]
