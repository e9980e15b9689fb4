"""The outbox, escalation deadlines and inbound-delivery dedupe, as SQL on one connection.

A mixin of the SQL unit of work: every method runs inside the caller's transaction.
Claims are safe with several replicas on PostgreSQL: rows are selected `FOR UPDATE SKIP
LOCKED` (SQLite has one writer, so the clause is not needed there and not rendered), and an
outbox claim is a lease that expires, so a replica killed mid-delivery blocks nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ..domain.escalation import Deadline, DeadlineKind, PageAction
from ..domain.incident import TimelineEntry
from ..domain.vocabulary import Role
from ..pagers.base import PageMessage
from .outbox_leases_sql import PAGER, PENDING, SqlOutboxLeases, not_behind_an_earlier_page
from .ports import ClaimedMessage, DueDeadline
from .tables import UtcDateTime, deadlines, outbox, timeline, webhook_deliveries

DELIVERED, FAILED = "delivered", "failed"
BACKLOG_COUNTED = 100_000  # the backlog gauge counts this far, no further
TRIGGERS_SHOWN = 100  # triggers of an incident `pager_keys` reads (a handful in practice)


def _is(column: Any, value: str) -> ColumnElement[bool]:
    """`column = 'value'` with the value in the SQL text, so that the planners can match a
    partial index's predicate (a bound parameter proves nothing at plan time)."""
    assert value.isidentifier()  # a constant of this module, never outside input
    return column == literal_column(f"'{value}'")  # type: ignore[no-any-return]


class SqlPagingStatements(SqlOutboxLeases):
    """Needs `_conn` (a sync Connection) and `_insert` (the dialect's insert)."""

    _conn: Connection
    _insert: Any
    _writes: Any  # the unit of work's bulk writes (`insert_outbox`)

    # --- written with the incident change -----------------------------------------------

    def pager_keys(self, incident_id: int) -> dict[Role, list[tuple[str, str]]]:
        stmt = (
            select(outbox.c.role, outbox.c.target, outbox.c.dedup_key)
            .where(
                outbox.c.incident_id == incident_id,
                outbox.c.channel == PAGER,
                outbox.c.action == PageAction.TRIGGER.value,
            )
            .order_by(outbox.c.id)
            .limit(TRIGGERS_SHOWN)
        )
        out: dict[Role, list[tuple[str, str]]] = {}
        for role, target, key in self._conn.execute(stmt):
            keys = out.setdefault(Role(role), [])
            if (target, key) not in keys:
                keys.append((target, key))
        return out

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None:
        if not messages:
            return
        self._writes.insert_outbox(
            [
                {
                    "incident_id": m.incident_id,
                    "channel": channel,
                    "target": m.target,
                    "role": m.role.value,
                    "action": m.action.value,
                    "dedup_key": m.dedup_key,
                    "payload": dict(m.payload),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for m in messages
            ]
        )
        if channel == PAGER:
            self.pull_earlier_pages_forward(messages, now)

    def schedule(self, items: Sequence[Deadline]) -> None:
        for item in items:
            stmt = self._insert(deadlines).values(
                incident_id=item.incident_id,
                kind=item.kind.value,
                due_at=item.due_at,
                repeat=item.repeat,
            )
            self._conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["incident_id", "kind"],
                    set_={"due_at": stmt.excluded.due_at, "repeat": stmt.excluded.repeat},
                )
            )

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None:
        self._conn.execute(
            delete(deadlines).where(
                deadlines.c.incident_id == incident_id,
                deadlines.c.kind.in_([k.value for k in kinds]),
            )
        )

    def deadlines_of(self, incident_id: int) -> list[Deadline]:
        stmt = select(deadlines).where(deadlines.c.incident_id == incident_id)
        return [_deadline(r) for r in self._conn.execute(stmt).mappings()]

    # --- the scheduler ------------------------------------------------------------------

    def savepoint(self) -> AbstractContextManager[object]:
        return self._conn.begin_nested()

    def take_due_deadline(self, now: datetime) -> DueDeadline | None:
        """Claim and remove the earliest due deadline; another replica skips it.

        Served by `ix_deadlines_due_id` (due_at, id): the first due row, not a sort of all."""
        found = self._conn.execute(_TAKE_DEADLINE, {"now": now}).mappings().first()
        if found is None:
            return None
        self._conn.execute(_DROP_DEADLINE, {"id": found["id"]})
        return DueDeadline(int(found["id"]), _deadline(found))

    def next_deadline(self) -> datetime | None:
        return self._conn.execute(select(func.min(deadlines.c.due_at))).scalar_one_or_none()

    # --- the dispatcher -----------------------------------------------------------------

    def claim_outbox(
        self, owner: str, now: datetime, lease: timedelta, limit: int, channel: str = PAGER
    ) -> list[ClaimedMessage]:
        """Due messages of `channel`, at most one per (target, dedup_key) at a time, oldest
        first.

        A trigger must reach the vendor before its acknowledge or resolve (and a Slack
        channel must exist before anything is posted in it), so a message waits while an
        older one for the same key is undelivered.
        """
        found = list(
            self._conn.execute(_CLAIM, {"now": now, "channel": channel, "limit": limit}).mappings()
        )
        if not found:
            return []
        ids = [int(r["id"]) for r in found]
        self._conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(claimed_by=owner, claimed_until=now + lease)
        )
        return [_claimed(r) for r in found]

    def finish_outbox(
        self,
        message_id: int,
        *,
        failed: bool,
        now: datetime,
        attempts: int,
        reference: str | None = None,
        error: str | None = None,
        entry: TimelineEntry | None = None,
        incident_id: int | None = None,
    ) -> bool:
        """Mark delivered or failed for good; False when it was already finished."""
        done = self._conn.execute(
            _FINISH,
            {
                "message_id": message_id,
                "status": FAILED if failed else DELIVERED,
                "attempts": attempts,
                "now": now,
                "reference": reference,
                "error": error,
            },
        ).rowcount
        if done and entry is not None and incident_id is not None:
            self._writes.insert_entries([(incident_id, entry)])
        return bool(done)

    def retry_outbox(
        self, message_id: int, owner: str, *, next_at: datetime, attempts: int, error: str
    ) -> bool:
        """Give the claim back; try again at `next_at`. False when `owner` no longer held it
        (its lease ran out and another dispatcher took it, or it was finished).

        A page keeps its incident's order: it is tried again no later than any later page
        of its incident (same target) and no earlier than the earlier ones, so after an
        outage the EOC page is retried before the escalation that followed it.
        """
        held = (
            self._conn.execute(
                select(outbox.c.incident_id, outbox.c.target, outbox.c.created_at).where(
                    outbox.c.id == message_id,
                    outbox.c.status == PENDING,
                    outbox.c.claimed_by == owner,
                    outbox.c.channel == PAGER,
                    outbox.c.action == PageAction.TRIGGER.value,
                )
            )
            .mappings()
            .first()
        )
        if held is not None:
            next_at = self.keep_page_order(held, next_at)
        done = self._conn.execute(
            update(outbox)
            .where(
                outbox.c.id == message_id,
                outbox.c.status == PENDING,
                outbox.c.claimed_by == owner,
            )
            .values(
                attempts=outbox.c.attempts + attempts,
                next_attempt_at=next_at,
                last_error=error,
                claimed_by=None,
                claimed_until=None,
            )
        ).rowcount
        return bool(done)

    def add_entries(self, incident_id: int, entries: Sequence[TimelineEntry]) -> None:
        self._writes.insert_entries([(incident_id, e) for e in entries])

    def outbox_stats(
        self, channels: Collection[str], cap: int = BACKLOG_COUNTED
    ) -> dict[str, tuple[int, datetime | None]]:
        """Undelivered messages per channel (counted up to `cap`) and the oldest one's
        creation time: per channel, a bounded walk of `ix_outbox_backlog` and its first entry."""
        out: dict[str, tuple[int, datetime | None]] = {}
        for channel in channels:
            pending = (outbox.c.channel == channel, _is(outbox.c.status, PENDING))
            some = select(outbox.c.id).where(*pending).limit(cap).subquery()
            count = self._conn.execute(select(func.count()).select_from(some)).scalar_one()
            if not count:
                continue
            oldest = self._conn.execute(
                select(outbox.c.created_at).where(*pending).order_by(outbox.c.created_at).limit(1)
            ).scalar_one()
            out[channel] = (int(count), oldest)
        return out

    def outbox_of(self, incident_id: int) -> list[dict[str, Any]]:
        """Every message of an incident, oldest first (the API shows them)."""
        stmt = select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
        return [dict(r) for r in self._conn.execute(stmt).mappings()]

    def reference_of(self, channel: str, prefix: str) -> int | None:
        """The incident whose delivered message on `channel` returned a reference starting
        with `prefix` (the incident of a Slack channel id)."""
        stmt = (
            select(outbox.c.incident_id)
            .where(
                outbox.c.channel == channel,
                outbox.c.status == DELIVERED,
                outbox.c.reference.startswith(prefix, autoescape=True),
                *self._prefix_range(outbox.c.reference, prefix),
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        found = self._conn.execute(stmt).scalar_one_or_none()
        return int(found) if found is not None else None

    def _prefix_range(self, column: Any, prefix: str) -> list[ColumnElement[bool]]:
        """`column` between `prefix` and the least string above all that start with it,
        in byte order (PostgreSQL's "C" collation, SQLite's default), so that a btree
        (`ix_outbox_reference`, `_c`) serves a prefix search. ASCII prefixes only (a Slack
        channel id and its `|`); the exact prefix test stays in the query."""
        if not prefix or not prefix.isascii() or prefix[-1] == "\x7f":
            return []
        if self._conn.dialect.name == "postgresql":
            column = column.collate("C")
        above = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return [column >= prefix, column < above]

    def last_entry_at(self, incident_id: int, kinds: Collection[str]) -> datetime | None:
        """When the incident's latest timeline entry of one of `kinds` was written."""
        stmt = select(func.max(timeline.c.at)).where(
            timeline.c.incident_id == incident_id, timeline.c.kind.in_(list(kinds))
        )
        found: datetime | None = self._conn.execute(stmt).scalar_one_or_none()
        return found

    # --- inbound webhooks ---------------------------------------------------------------

    def first_delivery(self, delivery_id: str, now: datetime) -> bool:
        """Record an inbound delivery; False if it was seen before (at-least-once senders)."""
        stmt = (
            self._insert(webhook_deliveries)
            .values(delivery_id=delivery_id, received_at=now)
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(webhook_deliveries.c.delivery_id)
        )
        return self._conn.execute(stmt).first() is not None


def _claimed(row: Any) -> ClaimedMessage:
    action = PageAction(row["action"])
    # Pages: acknowledge and resolve address what the trigger created. Slack: every
    # message of an incident goes to the channel its first message created.
    addressed = action is not PageAction.TRIGGER or row["channel"] != PAGER
    message = PageMessage(
        id=int(row["id"]),
        incident_id=int(row["incident_id"]),
        target=row["target"],
        role=Role(row["role"]),
        action=action,
        dedup_key=row["dedup_key"],
        payload=row["payload"],
        reference=row["trigger_reference"] if addressed else None,
    )
    return ClaimedMessage(message, row["channel"], int(row["attempts"]), row["created_at"])


def _claim_statement() -> Any:
    """Due messages of a channel that no older pending message of their key holds back,
    oldest first, with the reference of their key's latest delivered trigger.

    Each step is an index lookup: the channel's pending rows are walked in id order
    (`ix_outbox_claim`); a candidate's "older pending" check is one probe of
    `ix_outbox_key_pending` and its reference one of `ix_outbox_key_trigger`. Delivered
    rows are in neither walk, so the cost is the batch plus the pending rows that cannot
    go now (in flight, backing off, or held back), never the history. Built once: the
    statement's construction costs more than its execution.
    """
    now = bindparam("now", type_=UtcDateTime())
    older = aliased(outbox)
    blocked = exists().where(
        older.c.target == outbox.c.target,
        older.c.dedup_key == outbox.c.dedup_key,
        _is(older.c.status, PENDING),
        older.c.id < outbox.c.id,
    )
    trigger = aliased(outbox)
    trigger_reference = (
        select(trigger.c.reference)
        .where(
            trigger.c.target == outbox.c.target,
            trigger.c.dedup_key == outbox.c.dedup_key,
            _is(trigger.c.status, DELIVERED),
            _is(trigger.c.action, PageAction.TRIGGER.value),
            trigger.c.reference.is_not(None),
        )
        .order_by(trigger.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    free = outbox.c.claimed_until.is_(None) | (outbox.c.claimed_until < now)
    return (
        select(outbox, trigger_reference.label("trigger_reference"))
        .where(
            outbox.c.channel == bindparam("channel"),
            _is(outbox.c.status, PENDING),
            outbox.c.next_attempt_at <= now,
            free,
            ~blocked,
            not_behind_an_earlier_page(now),
        )
        .order_by(outbox.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=outbox)
    )


_CLAIM = _claim_statement()
# Built once: in a storm's escalations, building a statement cost more than running it.
_TAKE_DEADLINE = (
    select(deadlines)
    .where(deadlines.c.due_at <= bindparam("now", type_=UtcDateTime()))
    .order_by(deadlines.c.due_at, deadlines.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_DROP_DEADLINE = delete(deadlines).where(deadlines.c.id == bindparam("id"))
_FINISH = (
    update(outbox)
    .where(outbox.c.id == bindparam("message_id"), outbox.c.status == PENDING)
    .values(
        status=bindparam("status"),
        attempts=outbox.c.attempts + bindparam("attempts"),
        finished_at=bindparam("now", type_=UtcDateTime()),
        reference=bindparam("reference"),
        last_error=bindparam("error"),
        claimed_by=None,
        claimed_until=None,
    )
)


def _deadline(row: Any) -> Deadline:
    return Deadline(
        int(row["incident_id"]), DeadlineKind(row["kind"]), row["due_at"], int(row["repeat"])
    )
