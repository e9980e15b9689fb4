"""Paging: the outbox, escalation deadlines and inbound webhook deliveries.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.tables import Id, UtcDateTime

revision = "0002"
down_revision = "0001"


def _incident_id() -> sa.Column[int]:
    return sa.Column(
        "incident_id", Id, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        _incident_id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", UtcDateTime()),
        sa.Column("finished_at", UtcDateTime()),
        sa.Column("reference", sa.Text),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_pending", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_incident", "outbox", ["incident_id", "role"])
    op.create_table(
        "deadlines",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        _incident_id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.UniqueConstraint("incident_id", "kind", name="uq_deadlines_incident_kind"),
    )
    op.create_index("ix_deadlines_due", "deadlines", ["due_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(200), primary_key=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_deadlines_due", table_name="deadlines")
    op.drop_table("deadlines")
    op.drop_index("ix_outbox_incident", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
