"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# SQLite needs INTEGER PRIMARY KEY to autoincrement; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StringMap(TypeDecorator[dict[str, str]]):
    """JSON for a map of strings (an alert's labels or annotations), written by orjson:
    compact, non-ASCII as UTF-8, a fifth of `json.dumps`'s time for the two documents of
    every alert event. Only strings go in (the webhook's schema), so nothing orjson would
    write differently from `json.dumps` (NaN, huge integers) can reach it."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None]:
        return string_map_text


def string_map_text(value: Mapping[str, str] | None) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value if type(value) is dict else dict(value)).decode()


alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime()),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("receiver", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("labels", StringMap, nullable=False),
    Column("annotations", StringMap, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("impact", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    # The classification's evidence (live SLO numbers), [] for a classification by labels.
    Column("evidence", JSON, nullable=False, server_default=text("'[]'")),
)

groups = Table(
    "alert_groups",
    metadata,
    Column("group_key", Text, primary_key=True),
    Column("pending", JSON, nullable=False),
    Column("next_declare_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_alert_groups_declare", groups.c.next_declare_at)  # groups_due, every tick

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_key", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("impact", String(32), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("state", String(32), nullable=False),
    Column("declared_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("acknowledged_at", UtcDateTime()),
    Column("acknowledged_by", Text),
    Column("resolved_at", UtcDateTime()),
    Column("roles", JSON, nullable=False),
    Column("firing_count", Integer, nullable=False),
    Column("classification", JSON, nullable=False),
)
# At most one open incident per group, enforced by the database across replicas.
Index(
    "ix_incidents_open_group",
    incidents.c.group_key,
    unique=True,
    sqlite_where=text("state != 'resolved'"),
    postgresql_where=text("state != 'resolved'"),
)
Index("ix_incidents_state", incidents.c.state)
# The open incidents, newest first, and their count by severity (every tick): served by
# this index alone, whatever the number of resolved incidents. Queries must spell the
# predicate as a literal (`OPEN`) for the planners to match it.
OPEN = "state != 'resolved'"
Index(
    "ix_incidents_open",
    incidents.c.id,
    incidents.c.severity,
    sqlite_where=text(OPEN),
    postgresql_where=text(OPEN),
)

# One row per alert of an incident: a batch reads and writes only the alerts it touches.
# An alert's state is the event that last changed it (`TrackedAlert.of` that event as
# classified), so the row names that event instead of copying it: the copy was the
# largest write of an ingest. Retention deletes an event only once no open incident
# names it, after copying it into `data` of the resolved incidents' rows that name it
# (the copy rows written before revision 0004 hold too).
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), primary_key=True),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("data", JSON(none_as_null=True)),
    Column("event_key", String(200)),  # after `data`: revision 0004 added it
)
# Retention: which incidents still name an alert event.
Index("ix_incident_alerts_event", incident_alerts.c.event_key)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "incident_id",
        Id,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=False),
)
# The latest entry of some kinds (when the last status update was posted).
Index("ix_timeline_incident_kind", timeline.c.incident_id, timeline.c.kind, timeline.c.at)

near_misses = Table(
    "near_misses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_key", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("alert", JSON, nullable=False),
    Column("recovered_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
)
Index("ix_near_misses_recovered", near_misses.c.recovered_at)  # retention

# Pages (and later Slack calls) written in the same transaction as the change that caused
# them, delivered by the dispatcher. A claim is a lease: a replica that dies mid-delivery
# leaves a row that another replica retakes once `claimed_until` has passed.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("dedup_key", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_by", Text),
    Column("claimed_until", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("reference", Text),
    Column("last_error", Text),
)
# Every index the dispatcher uses covers only pending rows, so a claim, the backlog gauge
# and the "older message pending" check cost what is pending, never the delivered history.
# Queries must spell the predicate as a literal (`PENDING_ONLY`) for the planners to match
# it: a bound parameter does not prove it (nor does a prepared statement's generic plan).
PENDING_ONLY = "status = 'pending'"
DELIVERED_TRIGGER = "status = 'delivered' AND action = 'trigger'"
Index(
    "ix_outbox_claim",
    outbox.c.channel,
    outbox.c.id,
    outbox.c.next_attempt_at,
    sqlite_where=text(PENDING_ONLY),
    postgresql_where=text(PENDING_ONLY),
)
Index(
    "ix_outbox_backlog",
    outbox.c.channel,
    outbox.c.created_at,
    sqlite_where=text(PENDING_ONLY),
    postgresql_where=text(PENDING_ONLY),
)
Index(
    "ix_outbox_key_pending",
    outbox.c.target,
    outbox.c.dedup_key,
    outbox.c.id,
    sqlite_where=text(PENDING_ONLY),
    postgresql_where=text(PENDING_ONLY),
)
# What an acknowledge, a resolve or a Slack post addresses: its key's delivered trigger.
Index(
    "ix_outbox_key_trigger",
    outbox.c.target,
    outbox.c.dedup_key,
    outbox.c.id,
    sqlite_where=text(DELIVERED_TRIGGER),
    postgresql_where=text(DELIVERED_TRIGGER),
)
Index("ix_outbox_incident_action", outbox.c.incident_id, outbox.c.channel, outbox.c.action)
# An incident's pending page triggers, oldest first (the EOC page before the escalation:
# store/outbox_leases_sql.py). Three equalities before the time, so that SQLite prefers it
# to ix_outbox_backlog (channel, created_at), a walk of every pending row of the channel.
Index(
    "ix_outbox_pending_pages",
    outbox.c.incident_id,
    outbox.c.channel,
    outbox.c.action,
    outbox.c.created_at,
    sqlite_where=text(PENDING_ONLY),
    postgresql_where=text(PENDING_ONLY),
)
# The incident of a Slack channel id (a prefix of the reference): a range in byte order,
# which PostgreSQL gives only under the "C" collation.
Index("ix_outbox_reference", outbox.c.reference).ddl_if(dialect="sqlite")
Index("ix_outbox_reference_c", outbox.c.reference.collate("C")).ddl_if(dialect="postgresql")
# Retention: finished messages in the order they finished, without the delivered triggers
# it keeps (their reference names the PagerDuty incident or the Slack channel for later
# messages and slash commands). Queries repeat this very predicate so both databases use it.
OUTBOX_PRUNABLE = "finished_at IS NOT NULL AND (action != 'trigger' OR reference IS NULL)"
Index(
    "ix_outbox_finished",
    outbox.c.finished_at,
    sqlite_where=text(OUTBOX_PRUNABLE),
    postgresql_where=text(OUTBOX_PRUNABLE),
)

# Escalation timers: one row per incident and kind; firing deletes the row.
deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("repeat", Integer, nullable=False),
    UniqueConstraint("incident_id", "kind", name="uq_deadlines_incident_kind"),
)
Index("ix_deadlines_due_id", deadlines.c.due_at, deadlines.c.id)  # earliest first, ties by id

# Deliveries of signed inbound webhooks already applied (PagerDuty's X-Webhook-Id).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(200), primary_key=True),
    Column("received_at", UtcDateTime(), nullable=False),
)
Index("ix_webhook_deliveries_received", webhook_deliveries.c.received_at)  # retention

# Action items from the post mortem review: owner, criticality and target date.
action_items = Table(
    "action_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "incident_id",
        Id,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("title", String(500), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("criticality", String(16), nullable=False),
    Column("due", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("status", String(16), nullable=False),
)

# The dead-man's switch: when the heartbeat alert was last seen. `since` is when watching
# began (a new install counts the absence from there); `fired_at` is set while an absence
# incident (`incident_id`) is declared and not yet answered by a heartbeat.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("since", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime()),
    Column("fired_at", UtcDateTime()),
    Column("incident_id", Id),
)
