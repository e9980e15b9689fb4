"""Retention: delete finished rows in small batches, keeping what readers still need.

A mixin of the SQL unit of work; each method is one batch inside the caller's (short)
transaction, reads at most `limit` rows through an index and deletes at most those.
Deleting a row twice is harmless, so replicas need no coordination.

What is kept, and why:
- outbox: every message of an incident not resolved for the whole age (its acknowledge
  and resolve need the trigger's reference; the API and tests read `outbox_of`), and
  every delivered trigger with a reference, for good: it names the PagerDuty incident or
  the Slack channel that later messages address and slash commands are traced back by.
- alert events: an event an open incident names (its alerts are read from it), and a
  firing event whose resolution never arrived (the alert may still fire: Alertmanager
  re-sends it every `repeat_interval`, and only the stored event makes that a duplicate
  instead of a new incident). A resolved incident that names an event gets a copy of it
  in `incident_alerts.data` first, so its detail and post-incident review read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, text, update

from ..domain.alerts import AlertStatus
from . import rows
from .tables import (
    OUTBOX_PRUNABLE,
    alert_events,
    incident_alerts,
    incidents,
    near_misses,
    outbox,
    webhook_deliveries,
)

_RESOLVED = "resolved"
OutboxCursor = tuple[datetime, int]  # (finished_at, id) of the last message a sweep read
_COPY_ALERT = (
    update(incident_alerts)
    .where(
        incident_alerts.c.incident_id == bindparam("target_incident"),
        incident_alerts.c.fingerprint == bindparam("target_fingerprint"),
        incident_alerts.c.event_key == bindparam("target_event"),
        incident_alerts.c.data.is_(None),
    )
    .values(data=bindparam("copy", type_=incident_alerts.c.data.type))
)


def prune_outbox_query(before: datetime, after: OutboxCursor | None, limit: int) -> Any:
    """The next finished messages of a sweep in the order they finished, from `after`,
    by the partial index alone (joining the incidents here would let a planner read every
    resolved incident's messages instead)."""
    o = outbox.c
    stmt = (
        select(o.id, o.incident_id, o.finished_at)
        .where(text(OUTBOX_PRUNABLE), o.finished_at < before)  # the index's own predicate
        .order_by(o.finished_at, o.id)
        .limit(limit)
    )
    if after is not None:
        at, last = after
        stmt = stmt.where(o.finished_at >= at, ~((o.finished_at == at) & (o.id <= last)))
    return stmt


def resolved_at_query(incident_ids: Sequence[int]) -> Any:
    """These incidents' state and resolution time, by the primary key alone."""
    i = incidents.c
    return select(i.id, i.state, i.resolved_at).where(i.id.in_(incident_ids))


def prune_deliveries_query(before: datetime, limit: int) -> Any:
    return (
        select(webhook_deliveries.c.delivery_id)
        .where(webhook_deliveries.c.received_at < before)
        .order_by(webhook_deliveries.c.received_at)
        .limit(limit)
    )


def prune_near_misses_query(before: datetime, limit: int) -> Any:
    return (
        select(near_misses.c.id)
        .where(near_misses.c.recovered_at < before)
        .order_by(near_misses.c.recovered_at)
        .limit(limit)
    )


def alert_events_after_query(after_id: int, limit: int) -> Any:
    """The next events of a sweep in arrival (id) order, by the primary key."""
    e = alert_events.c
    return (
        select(e.id, e.event_key, e.status, e.received_at)
        .where(e.id > after_id)
        .order_by(e.id)
        .limit(limit)
    )


def open_references_query(keys: Sequence[str]) -> Any:
    """Which of these events an open incident names (by ix_incident_alerts_event)."""
    return (
        select(incident_alerts.c.event_key)
        .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
        .where(incident_alerts.c.event_key.in_(keys), incidents.c.state != _RESOLVED)
    )


def events_query(keys: Sequence[str]) -> Any:
    """Which of these events are stored (by the unique event_key)."""
    return select(alert_events.c.event_key).where(alert_events.c.event_key.in_(keys))


def uncopied_references_query(keys: Sequence[str]) -> Any:
    """The rows that name these events without a copy, with the events (for the copy)."""
    a = incident_alerts.c
    return (
        select(a.incident_id, a.fingerprint, a.event_key, a.data, *rows.EVENT_COLUMNS)
        .select_from(rows.ALERT_EVENT_JOIN)
        .where(a.event_key.in_(keys), a.data.is_(None))
        .order_by(a.incident_id, a.fingerprint)
    )


def _resolution_key(event_key: str) -> str:
    """The key the same alert's resolution has (`rows.event_key`: fingerprint|start|status)."""
    return event_key.rpartition("|")[0] + "|" + AlertStatus.RESOLVED.value


class SqlRetentionStatements:
    """Needs `_conn` (a sync Connection)."""

    _conn: Connection

    def prune_outbox(
        self, before: datetime, after: OutboxCursor | None, limit: int
    ) -> tuple[int, OutboxCursor | None]:
        """A step of a sweep over finished messages: delete those of incidents resolved
        before `before` among the next `limit`. Returns (deleted, where the sweep goes on,
        None when done); messages of other incidents are passed over."""
        found = list(self._conn.execute(prune_outbox_query(before, after, limit)))
        if not found:
            return 0, None
        incident_ids = sorted({int(row.incident_id) for row in found})
        resolved = {
            int(row.id)
            for row in self._conn.execute(resolved_at_query(incident_ids))
            if row.state == _RESOLVED and row.resolved_at is not None and row.resolved_at < before
        }
        ids = [int(row.id) for row in found if int(row.incident_id) in resolved]
        if ids:
            self._conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
        last = found[-1]
        following = (last.finished_at, int(last.id)) if len(found) == limit else None
        return len(ids), following

    def prune_webhook_deliveries(self, before: datetime, limit: int) -> int:
        ids = list(self._conn.execute(prune_deliveries_query(before, limit)).scalars())
        if ids:
            stmt = delete(webhook_deliveries).where(webhook_deliveries.c.delivery_id.in_(ids))
            self._conn.execute(stmt)
        return len(ids)

    def prune_near_misses(self, before: datetime, limit: int) -> int:
        ids = list(self._conn.execute(prune_near_misses_query(before, limit)).scalars())
        if ids:
            self._conn.execute(delete(near_misses).where(near_misses.c.id.in_(ids)))
        return len(ids)

    def prune_alert_events(
        self, before: datetime, after_id: int, limit: int
    ) -> tuple[int, int | None]:
        """One step of a sweep over the events in id order, from `after_id`: delete the
        prunable among the next `limit`. Returns (deleted, where the sweep goes on); None
        when it reached events younger than `before` (ids grow with arrival) or the end."""
        found = list(self._conn.execute(alert_events_after_query(after_id, limit)).mappings())
        old = []
        for row in found:
            if row["received_at"] >= before:
                break
            old.append(row)
        more = len(old) == limit
        following = int(old[-1]["id"]) if more else None
        doomed = self._prunable_events(old)
        if doomed:
            keys = sorted(doomed)
            self._copy_into_resolved_incidents(keys)
            ids = sorted(doomed.values())
            self._conn.execute(delete(alert_events).where(alert_events.c.id.in_(ids)))
        return len(doomed), following

    def _prunable_events(self, old: Sequence[Any]) -> dict[str, int]:
        """Of these old events, those nothing needs any more: event key → id."""
        firing = [r["event_key"] for r in old if r["status"] == AlertStatus.FIRING.value]
        ended: set[str] = set()
        if firing:
            wanted = [_resolution_key(key) for key in firing]
            ended = set(self._conn.execute(events_query(wanted)).scalars())
        candidates = {
            r["event_key"]: int(r["id"])
            for r in old
            if r["status"] != AlertStatus.FIRING.value or _resolution_key(r["event_key"]) in ended
        }
        if candidates:
            shown = self._conn.execute(open_references_query(sorted(candidates))).scalars()
            for key in set(shown):
                del candidates[key]
        return candidates

    def _copy_into_resolved_incidents(self, keys: Sequence[str]) -> None:
        """Resolved incidents that name these events keep a copy of each in `data`."""
        copies = []
        for row in self._conn.execute(uncopied_references_query(keys)).mappings():
            alert = rows.tracked_from_row(row)
            if alert is not None:
                copies.append(
                    {
                        "target_incident": row["incident_id"],
                        "target_fingerprint": row["fingerprint"],
                        "target_event": row["event_key"],
                        "copy": alert.as_dict(),
                    }
                )
        if copies:
            self._conn.execute(_COPY_ALERT, copies)
