"""The dead-man's switch: when the heartbeat alert was last seen.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.tables import Id, UtcDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime()),
        sa.Column("fired_at", UtcDateTime()),
        sa.Column("incident_id", Id),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
