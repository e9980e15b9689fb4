"""Fixtures for the store contract suite: one migrated `SqlStore` per backend.

SQLite gets a fresh file per test. PostgreSQL gets one fresh database per test run
(tests/databases.py makes it), emptied before each test; when the server cannot be reached
the PostgreSQL cases are skipped with the address in the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from firstresponder.store.sql import SqlStore

from ...databases import NewDatabase

__all__ = ["NewDatabase"]  # the e2e replica tests import it from here
TABLES = (
    "alert_events, alert_groups, incidents, timeline, near_misses, webhook_deliveries, heartbeats"
)
Backend = str


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
