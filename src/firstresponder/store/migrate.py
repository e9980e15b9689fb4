"""Run the Alembic migrations on a live connection (at start-up and by `firstresponder migrate`).

On PostgreSQL several replicas may start together: each takes a transaction-level advisory
lock first, so one migrates while the others wait, then find the schema at head and do
nothing. The commit (or the connection dying) releases the lock; no replica can leave it
held. SQLite needs no lock: its writers take the database lock (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

log = logging.getLogger(__name__)

# pg_advisory_xact_lock's key: b"frmigrat" as a big-endian int8 (shows in pg_locks).
MIGRATION_LOCK_KEY = int.from_bytes(b"frmigrat", "big")


def upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        _take_migration_lock(connection)
    command.upgrade(alembic_config(connection), "head")


def alembic_config(connection: Connection) -> AlembicConfig:
    """Alembic's configuration for the project's migrations, run on `connection`."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "firstresponder.store:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def _take_migration_lock(connection: Connection) -> None:
    # The request timeouts must not cut a long migration short, nor the wait for another's.
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
    taken = connection.exec_driver_sql(
        f"SELECT pg_try_advisory_xact_lock({MIGRATION_LOCK_KEY})"
    ).scalar_one()
    if not taken:
        log.info("another replica is migrating the store; waiting for it to finish")
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
