"""Fixtures of the integration tests: fresh PostgreSQL databases (tests/databases.py), and
the app under test on either store for suites that must hold on both (`app_store_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from firstresponder.store.sql import SqlStore
from firstresponder.store.tables import metadata

from ..databases import NewDatabase, new_pg_database, pg_url, run_async

__all__ = ["new_pg_database", "pg_url"]
STORES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def app_pg_url(new_pg_database: NewDatabase) -> str:
    """One migrated database for the app suites of this run, emptied before each test."""
    url = new_pg_database()

    async def migrate() -> None:
        store = SqlStore(url)
        try:
            await store.migrate()
        finally:
            await store.close()

    run_async(migrate())
    return url


async def _empty(url: str) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=STORES)
def app_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL for the app under test: a fresh SQLite file, or the run's PostgreSQL
    database emptied (ids start at 1 again). Skipped, saying where, without PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fr.db'}"
        return
    url: str = request.getfixturevalue("app_pg_url")
    run_async(_empty(url))
    yield url
