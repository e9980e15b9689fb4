"""Action items from the post mortem review.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.tables import Id, UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "action_items",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id", Id, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("criticality", sa.String(16), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_action_items_incident_id", "action_items", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_action_items_incident_id", table_name="action_items")
    op.drop_table("action_items")
