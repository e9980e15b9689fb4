"""Indexes for every periodic query, so that a pass costs what is pending, not the history.

Revision ID: 0005

The outbox gets partial indexes over its pending rows (the claim in id order, the backlog
gauge, the "an older message for the same key is pending" check), one over delivered
triggers (what an acknowledge or a Slack post addresses), one per incident and channel
(an incident's triggers), one over an incident's pending page triggers (the order of
its pages) and one for the Slack channel id prefix of a reference.
Deadlines are taken earliest first with ties by id; groups are declared by
`next_declare_at`; the open incidents are listed and counted from a partial index; a
timeline's latest entry of a kind is one index lookup. `ix_outbox_pending` (status,
next_attempt_at) and `ix_outbox_incident` (incident_id, role) served none of the queries
well and go.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from firstresponder.store.tables import DELIVERED_TRIGGER, OPEN, PENDING_ONLY

revision = "0005"
down_revision = "0004"

# name, table, columns, partial predicate
_INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ("ix_outbox_claim", "outbox", ["channel", "id", "next_attempt_at"], PENDING_ONLY),
    ("ix_outbox_backlog", "outbox", ["channel", "created_at"], PENDING_ONLY),
    ("ix_outbox_key_pending", "outbox", ["target", "dedup_key", "id"], PENDING_ONLY),
    ("ix_outbox_key_trigger", "outbox", ["target", "dedup_key", "id"], DELIVERED_TRIGGER),
    ("ix_outbox_incident_action", "outbox", ["incident_id", "channel", "action"], None),
    (
        "ix_outbox_pending_pages",
        "outbox",
        ["incident_id", "channel", "action", "created_at"],
        PENDING_ONLY,
    ),
    ("ix_deadlines_due_id", "deadlines", ["due_at", "id"], None),
    ("ix_alert_groups_declare", "alert_groups", ["next_declare_at"], None),
    ("ix_incidents_open", "incidents", ["id", "severity"], OPEN),
    ("ix_timeline_incident_kind", "timeline", ["incident_id", "kind", "at"], None),
]


def upgrade() -> None:
    for name, table, columns, where in _INDEXES:
        partial = sa.text(where) if where else None
        op.create_index(name, table, columns, sqlite_where=partial, postgresql_where=partial)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_outbox_reference_c", "outbox", [sa.text('reference COLLATE "C"')])
    else:
        op.create_index("ix_outbox_reference", "outbox", ["reference"])
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_index("ix_outbox_incident", table_name="outbox")
    op.drop_index("ix_deadlines_due", table_name="deadlines")


def downgrade() -> None:
    op.create_index("ix_deadlines_due", "deadlines", ["due_at"])
    op.create_index("ix_outbox_incident", "outbox", ["incident_id", "role"])
    op.create_index("ix_outbox_pending", "outbox", ["status", "next_attempt_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_outbox_reference_c", table_name="outbox")
    else:
        op.drop_index("ix_outbox_reference", table_name="outbox")
    for name, table, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
