"""Revision 0005: the indexes of the periodic queries, up and down, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from firstresponder.store.migrate import alembic_config
from firstresponder.store.sql import SqlStore

ADDED = {
    "ix_outbox_claim",
    "ix_outbox_backlog",
    "ix_outbox_key_pending",
    "ix_outbox_key_trigger",
    "ix_outbox_incident_action",
    "ix_deadlines_due_id",
    "ix_alert_groups_declare",
    "ix_incidents_open",
    "ix_timeline_incident_kind",
}
REPLACED = {"ix_outbox_pending", "ix_outbox_incident", "ix_deadlines_due"}


def index_names(conn: Connection) -> set[str]:
    inspector = sa.inspect(conn)
    return {
        str(index["name"])
        for table in ("outbox", "deadlines", "alert_groups", "incidents", "timeline")
        for index in inspector.get_indexes(table)
    }


def down_and_up(conn: Connection) -> tuple[set[str], set[str]]:
    command.downgrade(alembic_config(conn), "0004")
    before = index_names(conn)
    command.upgrade(alembic_config(conn), "0005")
    return before, index_names(conn)


async def test_0005_adds_the_indexes_and_a_downgrade_restores_the_old_ones(
    blank_url: str,
) -> None:
    store = SqlStore(blank_url)
    try:
        await store.migrate()
        before, after = await store._backend.write(down_and_up)
    finally:
        await store.close()
    assert REPLACED <= before and not ADDED & before
    assert ADDED <= after and not REPLACED & after
    reference = {"ix_outbox_reference", "ix_outbox_reference_c"}
    assert len(reference & after) == 1 and not reference & before
