"""An incident's alert names the event it was built from instead of copying it.

Revision ID: 0004

`alert_events.evidence` keeps the classification's evidence with the event (the rest of
the classification, impact and reason, is there already), so the event alone rebuilds the
alert; `incident_alerts.event_key` names that event and `data`, the copy, is left NULL
by new rows. Rows written before keep their copy and are read from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.rows import ALERT_EVENT_JOIN, EVENT_COLUMNS, tracked_from_row
from firstresponder.store.tables import alert_events, incident_alerts

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column(
        "alert_events",
        sa.Column("evidence", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    with op.batch_alter_table("incident_alerts") as batch:
        batch.add_column(sa.Column("event_key", sa.String(200)))
        batch.alter_column("data", existing_type=sa.JSON, nullable=True)


def downgrade() -> None:
    # Rows that only name their event get their copy back before the name goes.
    bind = op.get_bind()
    referenced = (
        sa.select(incident_alerts.c.incident_id, incident_alerts.c.fingerprint, *EVENT_COLUMNS)
        .select_from(incident_alerts.join(alert_events, ALERT_EVENT_JOIN.onclause))
        .where(incident_alerts.c.data.is_(None))
    )
    for row in list(bind.execute(referenced).mappings()):
        alert = tracked_from_row({**row, "data": None})
        assert alert is not None  # the inner join found its event
        bind.execute(
            sa.update(incident_alerts)
            .where(
                incident_alerts.c.incident_id == row["incident_id"],
                incident_alerts.c.fingerprint == row["fingerprint"],
            )
            .values(data=alert.as_dict())
        )
    # An alert whose event is gone cannot be rebuilt: it goes with its reference.
    bind.execute(sa.delete(incident_alerts).where(incident_alerts.c.data.is_(None)))
    with op.batch_alter_table("incident_alerts") as batch:
        batch.drop_column("event_key")
        batch.alter_column("data", existing_type=sa.JSON, nullable=False)
    op.drop_column("alert_events", "evidence")
