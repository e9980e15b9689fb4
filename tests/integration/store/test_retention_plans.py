"""Every query a retention batch runs is served by an index (EXPLAIN), on both stores.

SQLite: EXPLAIN QUERY PLAN names the index (or the integer primary key) for each table it
reads. PostgreSQL: with sequential scans priced out (`enable_seqscan = off`) the plan
reads each table through an index; a plan that still scans one has no index to use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Connection

from firstresponder.store import retention_sql as r
from firstresponder.store.sql import SqlStore

from .test_store_contract import NOW

KEYS = ["fp|2026-11-23T03:00:00+00:00|firing", "fp|2026-11-23T03:00:00+00:00|resolved"]
QUERIES = {
    "outbox sweep": r.prune_outbox_query(NOW, (NOW, 7), 500),
    "outbox incidents": r.resolved_at_query([1, 2]),
    "webhook_deliveries": r.prune_deliveries_query(NOW, 500),
    "near_misses": r.prune_near_misses_query(NOW, 500),
    "alert_events sweep": r.alert_events_after_query(0, 500),
    "alert_events resolutions": r.events_query(KEYS),
    "alert_events open references": r.open_references_query(KEYS),
    "alert_events copies": r.uncopied_references_query(KEYS),
}


def _plan(conn: Connection, stmt: Any) -> list[str]:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    names = compiled.positiontup or []
    sqlite = conn.dialect.name == "sqlite"

    def bound(value: Any) -> Any:  # times as the store keeps them on SQLite
        if sqlite and isinstance(value, datetime):
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    values = tuple(bound(params[name]) for name in names)
    if sqlite:
        found = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
        return [str(row[-1]) for row in found]
    conn.exec_driver_sql("SET enable_seqscan = off")
    try:
        return [str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", values)]
    finally:
        conn.exec_driver_sql("RESET enable_seqscan")


# The index each query must use: (SQLite's name, PostgreSQL's name).
EXPECTED = {
    "outbox sweep": ("ix_outbox_finished", "ix_outbox_finished"),
    "outbox incidents": ("INTEGER PRIMARY KEY", "incidents_pkey"),
    "webhook_deliveries": ("ix_webhook_deliveries_received", "ix_webhook_deliveries_received"),
    "near_misses": ("ix_near_misses_recovered", "ix_near_misses_recovered"),
    "alert_events sweep": ("INTEGER PRIMARY KEY", "alert_events_pkey"),
    "alert_events resolutions": ("sqlite_autoindex_alert_events_1", "alert_events_event_key_key"),
    "alert_events open references": ("ix_incident_alerts_event", "ix_incident_alerts_event"),
    "alert_events copies": ("ix_incident_alerts_event", "ix_incident_alerts_event"),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_each_retention_query_reads_through_an_index(store: SqlStore, name: str) -> None:
    plan = await store._read(lambda conn: _plan(conn, QUERIES[name]))
    text = "\n".join(plan)
    expected = EXPECTED[name][0 if store.dialect == "sqlite" else 1]
    assert expected in text, f"{name} does not use {expected}:\n{text}"
    if store.dialect == "sqlite":
        scans = [line for line in plan if line.startswith("SCAN") and "USING" not in line]
        assert not scans, f"{name} scans a table without an index:\n{text}"
        assert "USING" in text, text
    else:
        assert "Seq Scan" not in text, f"{name} scans a table without an index:\n{text}"
        assert "Index" in text, text
