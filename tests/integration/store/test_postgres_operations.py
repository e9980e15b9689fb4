"""PostgreSQL in production: replicas migrating together, timeouts, a full pool, dropped
connections. Each failure must be `StoreUnavailable` (503, retried) within seconds, never a
hang or a 500, and the store must work again as soon as the cause is gone.

The tests that need a server use the local PostgreSQL (skipped, with its address, when it
cannot be reached); the error translation and the connect timeout need none.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from firstresponder.config_store import StoreConfig
from firstresponder.errors import StoreUnavailable
from firstresponder.store.ports import IncidentFilter
from firstresponder.store.sql import SqlStore, translate_errors

from .conftest import NewDatabase
from .test_store_contract import event, record, wait_for_lock_waiter

REPLICAS = 4
FAST_FAIL_S = 10.0  # far below the 30 s defaults: the configured timeout did the work


async def test_replicas_migrating_a_fresh_database_together_all_succeed(
    new_pg_database: NewDatabase,
) -> None:
    url = new_pg_database()
    stores = [SqlStore(url) for _ in range(REPLICAS)]
    try:
        results = await asyncio.gather(*(s.migrate() for s in stores), return_exceptions=True)
        assert results == [None] * REPLICAS
        assert await record(stores[0], [event()]) == [event()]
        assert await record(stores[-1], [event()]) == [], "every replica sees one schema"
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetch("SELECT version_num FROM alembic_version") != []
        assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
    finally:
        await conn.close()


@pytest.fixture
async def table_lock(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Another session holding an exclusive lock on `incidents` (reads wait behind it)."""
    await _migrated(pg_url)
    holder = await asyncpg.connect(pg_url)
    await holder.execute("BEGIN; LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
    try:
        yield holder  # `ROLLBACK` through it lets go early
    finally:
        if holder.is_in_transaction():
            await holder.execute("ROLLBACK")
        await holder.close()


async def _migrated(url: str) -> None:
    store = SqlStore(url)
    try:
        await store.migrate()
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("statement_timeout_ms", "lock_timeout_ms", "code"),
    [(300, 20_000, "57014"), (20_000, 300, "55P03")],
    ids=["statement_timeout", "lock_timeout"],
)
async def test_a_statement_stuck_behind_a_lock_is_unavailable_after_the_timeout(
    pg_url: str,
    table_lock: asyncpg.Connection,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    code: str,
) -> None:
    config = StoreConfig(
        url=pg_url,
        statement_timeout=timedelta(milliseconds=statement_timeout_ms),
        lock_timeout=timedelta(milliseconds=lock_timeout_ms),
    )
    store = SqlStore.from_config(config)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"SQLSTATE {code}"):
            await store.list_incidents(IncidentFilter())
        assert time.monotonic() - started < FAST_FAIL_S
        await store.ping()  # the connection went back to the pool usable
    finally:
        await store.close()


async def test_a_caller_waits_pool_timeout_for_a_connection_then_is_unavailable(
    pg_url: str, table_lock: asyncpg.Connection
) -> None:
    store = SqlStore.from_config(
        StoreConfig(url=pg_url, pool_size=1, pool_timeout=timedelta(milliseconds=300))
    )
    try:
        blocked = asyncio.create_task(store.list_incidents(IncidentFilter()))
        await wait_for_lock_waiter(pg_url)  # the pool's one connection is busy waiting
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            await store.ping()
        assert time.monotonic() - started < FAST_FAIL_S
        assert not blocked.done()
        await table_lock.execute("ROLLBACK")  # the lock holder lets go
        assert isinstance(await blocked, list)
        await store.ping()
    finally:
        await store.close()


async def test_connections_the_server_dropped_are_replaced_before_use(pg_url: str) -> None:
    store = SqlStore(pg_url)
    admin = await asyncpg.connect(pg_url)
    try:
        await store.migrate()
        await asyncio.gather(*(store.ping() for _ in range(3)))  # fill the pool
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'firstresponder'"
        )
        assert killed >= 1
        await store.ping()
        assert await store.list_incidents(IncidentFilter()) is not None
    finally:
        await admin.close()
        await store.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung database host)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


async def test_a_database_host_that_never_answers_is_unavailable_after_connect_timeout(
    silent_server: int,
) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{silent_server}/fr"
    store = SqlStore.from_config(StoreConfig(url=url, connect_timeout=timedelta(milliseconds=300)))
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await store.ping()
        assert time.monotonic() - started < FAST_FAIL_S
        assert "s3cret" not in str(caught.value)
    finally:
        await store.close()


class _DriverError(Exception):
    """What asyncpg's errors look like once SQLAlchemy's dialect adapted them."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said no ({sqlstate})")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "code",
    [
        "57014",  # statement_timeout
        "57P01",  # admin shutdown (pg_ctl stop -m fast)
        "57P02",  # crash shutdown
        "57P03",  # the database system is starting up
        "08006",  # connection failure
        "53300",  # too many connections
        "55P03",  # lock_timeout
        "40P01",  # deadlock detected
        "40001",  # serialization failure
    ],
)
def test_retryable_sqlstates_are_unavailable_without_the_statement(code: str) -> None:
    error = DBAPIError("SELECT secret_column", {"token": "hunter2"}, _DriverError(code))
    with pytest.raises(StoreUnavailable) as caught, translate_errors():
        raise error
    assert str(caught.value) == f"store unavailable: DBAPIError (SQLSTATE {code})"
    assert caught.value.__cause__ is error


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        (IntegrityError, "23505"),  # unique violation: the ingest retries it itself
        (ProgrammingError, "42P01"),  # undefined table: a bug, not an outage
        (DBAPIError, "22P02"),  # invalid text representation
    ],
)
def test_data_and_programming_errors_stay_what_they_are(
    error_type: type[DBAPIError], code: str
) -> None:
    error = error_type("SELECT 1", {}, _DriverError(code))
    with pytest.raises(error_type), translate_errors():
        raise error
