"""Revision 0004: incident alerts name their event instead of copying it.

A database from before keeps its copies and reads them; a downgrade writes the copies
back from the events. On both backends.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import Classification
from firstresponder.domain.grouping import ClassifiedAlert, GroupEngine
from firstresponder.domain.incident import Incident, TrackedAlert
from firstresponder.domain.vocabulary import DEFAULT_SEVERITY_MAP, Impact, IncidentState, Severity
from firstresponder.store import rows
from firstresponder.store.migrate import alembic_config
from firstresponder.store.sql import SqlStore
from firstresponder.store.tables import UtcDateTime, incidents
from firstresponder.store.unit_of_work import SqlUnitOfWork

from ...factories import T0

CHECKOUT = "service=checkout"
# incident_alerts as revision 0003 made it.
OLD_ALERTS = sa.table(
    "incident_alerts",
    sa.column("incident_id", sa.Integer),
    sa.column("fingerprint", sa.String),
    sa.column("starts_at", UtcDateTime()),
    sa.column("data", sa.JSON),
)


def classified(fingerprint: str, evidence: tuple[dict[str, object], ...] = ()) -> ClassifiedAlert:
    alert = Alert(
        AlertStatus.FIRING,
        {"alertname": "HighErrorRate", "service": "checkout", "instance": fingerprint},
        {"summary": "errors", "runbook_url": "http://rb/1"},
        T0,
        None,
        "http://prometheus:9090/graph",
        fingerprint,
    )
    impact = Impact.OUTAGE
    c = Classification(
        "checkout", CHECKOUT, impact, "label", Impact.DEGRADED, timedelta(0), evidence
    )
    return ClassifiedAlert(alert, c)


def tracked(item: ClassifiedAlert) -> TrackedAlert:
    c = item.classification
    return TrackedAlert.of(item.alert, c.impact, c.reason, c.evidence)


OLD = tracked(classified("fp-old"))
NEW = classified("fp-new", evidence=({"kind": "burn_rate", "value": 14.4},))


def at_0003_with_an_old_alert(conn: Connection) -> None:
    command.upgrade(alembic_config(conn), "0003")
    incident = Incident(
        0,
        CHECKOUT,
        "checkout",
        "old",
        Impact.OUTAGE,
        Severity.S1,
        IncidentState.INVESTIGATING,
        T0,
        T0,
        firing_count=1,
    )
    conn.execute(sa.insert(incidents).values(rows.incident_values(incident)))
    conn.execute(
        sa.insert(OLD_ALERTS).values(
            incident_id=1, fingerprint="fp-old", starts_at=T0, data=OLD.as_dict()
        )
    )


def ingest_new(conn: Connection) -> None:
    uow = SqlUnitOfWork(conn)
    now = T0 + timedelta(minutes=1)
    uow.record_events([NEW], "firstresponder", now)
    state = uow.load_group(CHECKOUT, {"fp-new"})
    uow.save_groups(
        [(state, GroupEngine(DEFAULT_SEVERITY_MAP).apply_events(state, [NEW], now))], now
    )


def downgrade_to_0003(conn: Connection) -> list[tuple[str, dict[str, object]]]:
    command.downgrade(alembic_config(conn), "0003")
    columns = {c["name"] for c in sa.inspect(conn).get_columns("incident_alerts")}
    assert "event_key" not in columns
    stmt = sa.select(OLD_ALERTS.c.fingerprint, OLD_ALERTS.c.data).order_by("fingerprint")
    return [(fp, data) for fp, data in conn.execute(stmt)]


async def test_old_copies_are_read_new_alerts_name_events_and_a_downgrade_copies_back(
    blank_url: str,
) -> None:
    store = SqlStore(blank_url)
    try:
        await store._backend.write(at_0003_with_an_old_alert)
        await store.migrate()
        assert (await store.get_incident(1)).alerts == {"fp-old": OLD}

        await store._backend.write(ingest_new)
        assert (await store.get_incident(1)).alerts == {"fp-old": OLD, "fp-new": tracked(NEW)}

        copies = await store._backend.write(downgrade_to_0003)
        assert copies == [("fp-new", tracked(NEW).as_dict()), ("fp-old", OLD.as_dict())]
    finally:
        await store.close()
