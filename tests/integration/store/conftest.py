"""Fixtures for the store contract suite: one migrated `SqlStore` per backend.

SQLite gets a fresh file per test. PostgreSQL gets one fresh database per test run
(`fr_test_<pid>_<random>`), emptied before each test and dropped at session end; when the
server cannot be reached the PostgreSQL cases are skipped with the address in the reason.
Point the suite elsewhere with FR_TEST_POSTGRES (an admin URL, e.g. `postgresql://postgres@db:5432/postgres`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from firstresponder.store.sql import SqlStore

ADMIN_URL = os.environ.get("FR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Tried in order to issue CREATE/DROP DATABASE; `test` exists on the CI server.
ADMIN_DATABASES = ("postgres", "test")
TABLES = (
    "alert_events, alert_groups, incidents, timeline, near_misses, webhook_deliveries, heartbeats"
)

Backend = str
NewDatabase = Callable[[], str]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"


async def _admin_connect() -> asyncpg.Connection:
    failure: BaseException | None = None
    for name in ADMIN_DATABASES:
        try:
            return await asyncpg.connect(_with_database(ADMIN_URL, name), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            failure = exc
    raise ConnectionError(f"{type(failure).__name__}: {failure}")


async def _probe() -> None:
    conn = await _admin_connect()
    await conn.close()


async def _create(name: str) -> None:
    conn = await _admin_connect()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop(names: list[str]) -> None:
    conn = await _admin_connect()
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run admin work on its own loop in a thread: callers may be inside pytest-asyncio's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def new_pg_database() -> Iterator[NewDatabase]:
    """Creates empty PostgreSQL databases on demand (each test run's own); drops them all at the end."""
    prefix = f"fr_test_{os.getpid()}_{secrets.token_hex(4)}"
    created: list[str] = []
    try:
        _run(_probe())
    except ConnectionError as exc:
        pytest.skip(f"PostgreSQL unreachable at {_address(ADMIN_URL)}: {exc}")

    def new() -> str:
        name = f"{prefix}_{len(created)}"
        _run(_create(name))
        created.append(name)
        return _with_database(ADMIN_URL, name)

    yield new
    _run(_drop(created))


@pytest.fixture(scope="session")
def pg_url(new_pg_database: NewDatabase) -> str:
    """The one database this run's contract tests share (emptied per test)."""
    return new_pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return str(request.param)


@pytest.fixture
def blank_url(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL to a database nobody has migrated yet, on the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    new: NewDatabase = request.getfixturevalue("new_pg_database")
    return new()


@pytest.fixture
def store_url(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fr.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(backend: Backend, store_url: str) -> AsyncIterator[SqlStore]:
    """A migrated, empty store on the backend under test."""
    sql_store = SqlStore(store_url)
    await sql_store.migrate()
    if backend == "postgresql":
        conn = await asyncpg.connect(store_url)
        try:
            await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()
    try:
        yield sql_store
    finally:
        await sql_store.close()
