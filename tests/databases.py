"""Fresh PostgreSQL databases for tests: the store suite, the app suites and e2e share them.

One name prefix per test run (`fr_test_<pid>_<random>`); every database made is dropped at
session end. When the server cannot be reached, tests that ask for one are skipped with
the address in the reason. Point them elsewhere with FR_TEST_POSTGRES (an admin URL, e.g.
`postgresql://postgres@db:5432/postgres`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get("FR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Tried in order to issue CREATE/DROP DATABASE; `test` exists on the CI server.
ADMIN_DATABASES = ("postgres", "test")
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


def run_async(work: Coroutine[Any, Any, None]) -> None:
    """Run admin work on its own loop in a thread: callers may be inside pytest-asyncio's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def new_pg_database() -> Iterator[NewDatabase]:
    """Creates empty PostgreSQL databases on demand (each test run's own); drops them all at the end."""
    prefix = f"fr_test_{os.getpid()}_{secrets.token_hex(4)}"
    created: list[str] = []
    try:
        run_async(_probe())
    except ConnectionError as exc:
        pytest.skip(f"PostgreSQL unreachable at {_address(ADMIN_URL)}: {exc}")

    def new() -> str:
        name = f"{prefix}_{len(created)}"
        run_async(_create(name))
        created.append(name)
        return _with_database(ADMIN_URL, name)

    yield new
    run_async(_drop(created))


@pytest.fixture(scope="session")
def pg_url(new_pg_database: NewDatabase) -> str:
    """The one database this run's contract tests share (emptied per test)."""
    return new_pg_database()
