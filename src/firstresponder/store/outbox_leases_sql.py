"""Outbox leases and the order of an incident's pages, beside the claim in `paging_sql`.

A claim is a short lease (`escalation.delivery.lease`, 10 s by default) that the
dispatcher renews while the delivery is in progress, each renewal in its own short
transaction. A dispatcher that dies stops renewing; its messages are free again once the
lease runs out, and any dispatcher (a restarted one has a new owner id) retakes them.

Pages of one incident and target go out in the order they were written: an escalation
(IMOC) written while the EOC page is still undelivered is sent after the EOC page has had
its try, never before, whether the EOC page is in flight, held by a dead dispatcher's
lease, or waiting out a backoff. It is still sent when the EOC page keeps failing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ..domain.escalation import PageAction
from ..pagers.base import PageMessage
from .tables import UtcDateTime, outbox

PENDING = "pending"
PAGER = "pager"  # the outbox channel of pages (paging.PAGER)


class SqlOutboxLeases:
    """Needs `_conn` (a sync Connection)."""

    _conn: Connection

    def renew_outbox(self, message_ids: Collection[int], owner: str, until: datetime) -> set[int]:
        """Extend `owner`'s claims on these messages to `until`; the ids it still holds.

        A claim that ran out and was taken by another dispatcher, or that was finished, is
        not renewed: its id is missing from the answer, and the delivery holding it learns
        it lost the message.
        """
        if not message_ids:
            return set()
        stmt = (
            update(outbox)
            .where(
                outbox.c.id.in_(list(message_ids)),
                outbox.c.status == PENDING,
                outbox.c.claimed_by == owner,
            )
            .values(claimed_until=until)
            .returning(outbox.c.id)
        )
        return {int(found) for found in self._conn.execute(stmt).scalars()}

    def pull_earlier_pages_forward(self, messages: Sequence[PageMessage], now: datetime) -> None:
        """A new trigger (an escalation) is due now: the incident's earlier pending triggers,
        waiting out a backoff, are tried again now too, and first (see `claim_outbox`)."""
        incidents = {m.incident_id for m in messages if m.action is PageAction.TRIGGER}
        if not incidents:
            return
        self._conn.execute(_PULL_FORWARD, {"incident_ids": sorted(incidents), "now": now})

    def keep_page_order(self, page: Any, next_at: datetime) -> datetime:
        """Earlier pending triggers of the incident come due no later than `next_at`; the
        returned time is no later than the next try of any later one waiting in the outbox
        (a later one in flight now sets its own next try when it gives its claim back)."""
        same = _pending_triggers_like(page["incident_id"], page["target"])
        later = self._conn.execute(
            select(func.min(outbox.c.next_attempt_at)).where(
                *same, outbox.c.created_at > page["created_at"], outbox.c.claimed_by.is_(None)
            )
        ).scalar_one_or_none()
        if later is not None:
            next_at = min(next_at, later)
        self._conn.execute(
            update(outbox)
            .where(
                *same,
                outbox.c.created_at < page["created_at"],
                outbox.c.next_attempt_at > next_at,
            )
            .values(next_attempt_at=next_at)
        )
        return next_at


def _pending_triggers_like(incident_id: int, target: str) -> tuple[Any, ...]:
    return (outbox.c.incident_id == incident_id, outbox.c.target == target, *_pending_page(outbox))


def _pending_page(table: Any) -> tuple[ColumnElement[bool], ...]:
    """What `ix_outbox_pending_pages` serves, as literals: a planner matches a partial index
    only to the very text of its WHERE (a bound parameter proves nothing at plan time)."""
    return (
        table.c.status == literal_column(f"'{PENDING}'"),
        table.c.channel == literal_column(f"'{PAGER}'"),
        table.c.action == literal_column(f"'{PageAction.TRIGGER.value}'"),
    )


def not_behind_an_earlier_page(now: Any) -> ColumnElement[bool]:
    """A trigger waits while an earlier trigger of its incident and target is in flight.

    The EOC page first: an escalation enqueued later is not sent while the EOC page is
    being delivered (by this dispatcher, another replica, or a dead one whose lease has
    not run out yet). Triggers enqueued together (S1 pages every role at once) do not wait
    for each other; a due earlier trigger is claimed in the same batch and delivered first.
    """
    earlier = aliased(outbox)
    in_flight = exists().where(
        earlier.c.incident_id == outbox.c.incident_id,
        earlier.c.target == outbox.c.target,
        *_pending_page(earlier),
        earlier.c.created_at < outbox.c.created_at,
        earlier.c.claimed_until >= now,
    )
    is_page = (outbox.c.channel == PAGER) & (outbox.c.action == PageAction.TRIGGER.value)
    return ~is_page | ~in_flight


def _pull_forward_statement() -> Any:
    """The incident's earlier pending triggers, due later than now, come due now. Built
    once: every trigger enqueued runs it, and building it cost more than running it."""
    now = bindparam("now", type_=UtcDateTime())
    return (
        update(outbox)
        .where(
            outbox.c.incident_id.in_(bindparam("incident_ids", expanding=True)),
            *_pending_page(outbox),
            outbox.c.created_at < now,
            outbox.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )


_PULL_FORWARD = _pull_forward_statement()
