"""Indexes for retention: each prune query reads only the rows it may delete.

Revision ID: 0006

`incident_alerts.event_key` finds the incidents that still name an alert event; the
outbox is read in the order its messages finished, without the delivered triggers that
are kept; inbound delivery ids and near misses in the order they arrived or recovered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

# As store/tables.py declares it (frozen here: a migration must not change with the code).
OUTBOX_PRUNABLE = "finished_at IS NOT NULL AND (action != 'trigger' OR reference IS NULL)"


def upgrade() -> None:
    op.create_index("ix_incident_alerts_event", "incident_alerts", ["event_key"])
    op.create_index(
        "ix_outbox_finished",
        "outbox",
        ["finished_at"],
        sqlite_where=sa.text(OUTBOX_PRUNABLE),
        postgresql_where=sa.text(OUTBOX_PRUNABLE),
    )
    op.create_index("ix_webhook_deliveries_received", "webhook_deliveries", ["received_at"])
    op.create_index("ix_near_misses_recovered", "near_misses", ["recovered_at"])


def downgrade() -> None:
    op.drop_index("ix_near_misses_recovered", "near_misses")
    op.drop_index("ix_webhook_deliveries_received", "webhook_deliveries")
    op.drop_index("ix_outbox_finished", "outbox")
    op.drop_index("ix_incident_alerts_event", "incident_alerts")
