"""Initial schema: alert events, groups, incidents, timeline, near misses.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.tables import Id, UtcDateTime

revision = "0001"
down_revision = None


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "alert_events",
        _id(),
        sa.Column("event_key", sa.String(200), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime()),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("impact", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "alert_groups",
        sa.Column("group_key", sa.Text, primary_key=True),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("next_declare_at", UtcDateTime()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "incidents",
        _id(),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("impact", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("declared_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("acknowledged_at", UtcDateTime()),
        sa.Column("acknowledged_by", sa.Text),
        sa.Column("resolved_at", UtcDateTime()),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("firing_count", sa.Integer, nullable=False),
        sa.Column("classification", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_incidents_open_group",
        "incidents",
        ["group_key"],
        unique=True,
        sqlite_where=sa.text("state != 'resolved'"),
        postgresql_where=sa.text("state != 'resolved'"),
    )
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "incident_alerts",
        sa.Column(
            "incident_id", Id, sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "timeline",
        _id(),
        sa.Column(
            "incident_id", Id, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_timeline_incident_id", "timeline", ["incident_id"])
    op.create_table(
        "near_misses",
        _id(),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("alert", sa.JSON, nullable=False),
        sa.Column("recovered_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "near_misses",
        "timeline",
        "incident_alerts",
        "incidents",
        "alert_groups",
        "alert_events",
    ):
        op.drop_table(name)
