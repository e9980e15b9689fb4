"""Make the tracker calls the outbox holds, one per message, and say how they went.

`TicketSender` is the outbox's pager for channel `ticket`: each message's payload names an
operation (`create`, `comment`, `assign`, `relabel`, `review`, `close`). Creating the
ticket returns `KEY|url` as the message's reference; every later message of the incident
is handed that reference. The review draft is rendered when it is sent, so it holds the
incident as it is then. `TicketTexts` puts each delivered change, and every failure, on
the incident's timeline and counts it in `firstresponder_ticket_calls_total`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ..domain.incident import TimelineEntry
from ..metrics import Metrics
from ..operation_texts import OperationTexts
from ..pagers.base import PageMessage, PermanentDeliveryError
from .base import TICKET, Link, NewTicket, TicketRef, Tracker

OPERATIONS = ("create", "comment", "assign", "relabel", "review", "close")
# The review draft of an incident, in Markdown, as it is now.
ReviewSource = Callable[[int], Awaitable[str]]
_REVIEW_WORDS = {"recovered": "has recovered (monitoring)", "resolved": "is resolved"}


class TicketSender:
    name = TICKET

    def __init__(self, tracker: Tracker, review: ReviewSource) -> None:
        self._tracker = tracker
        self._review = review

    async def send(self, message: PageMessage) -> str | None:
        payload = message.payload
        op = str(payload.get("op", ""))
        if op == "create":
            return (await self._tracker.create(_ticket(payload))).encoded()
        if op not in OPERATIONS:
            raise PermanentDeliveryError(f"ticket: unknown operation {op!r}")
        if not message.reference:
            raise PermanentDeliveryError(
                f"ticket {op}: incident {message.incident_id} has no ticket "
                "(opening it failed; see the timeline)"
            )
        key = TicketRef.decoded(message.reference).key
        if op == "comment":
            await self._tracker.comment(key, str(payload["text"]))
        elif op == "assign":
            await self._tracker.assign(key, [str(user) for user in payload["users"]])
        elif op == "relabel":
            await self._tracker.relabel(key, list(payload["add"]), list(payload["remove"]))
        elif op == "review":
            stage = _REVIEW_WORDS.get(str(payload.get("stage")), "changed")
            text = (
                f"The incident {stage}: the post-incident review draft as of now "
                f"(always current at {payload.get('url', '')})."
            )
            await self._tracker.comment(key, text, await self._review(message.incident_id))
        else:
            await self._tracker.close(key)
        return None

    async def close(self) -> None:
        return None


def _ticket(payload: Any) -> NewTicket:
    return NewTicket(
        title=str(payload["title"]),
        lines=tuple(str(line) for line in payload.get("lines", ())),
        links=tuple(Link(str(x["text"]), str(x["href"])) for x in payload.get("links", ())),
        labels=tuple(str(label) for label in payload.get("labels", ())),
    )


class TicketTexts(OperationTexts):
    """Every delivered ticket change, and every failure, on the timeline."""

    def __init__(self, metrics: Metrics, tracker: str) -> None:
        super().__init__("ticket", "Ticket", OPERATIONS)
        self._metrics = metrics
        self._tracker = tracker

    def delivered(
        self, message: PageMessage, attempts: int, reference: str | None, now: datetime
    ) -> TimelineEntry | None:
        op, payload = self.op(message), message.payload
        ref = TicketRef.decoded(reference or message.reference or "")
        data = {"op": op, "key": ref.key, "attempts": attempts}
        if op == "create":
            text = f"Ticket {ref.key} opened: {ref.url}"
            return TimelineEntry(now, "ticket_opened", text, data={**data, "url": ref.url})
        said = {
            "comment": "commented",
            "assign": f"assigned to {', '.join(payload.get('users', ()))}",
            "relabel": f"labelled {', '.join(payload.get('add', ()))}",
            "review": "given the post-incident review draft",
            "close": "closed",
        }.get(op, op)
        return TimelineEntry(now, "ticket_updated", f"Ticket {ref.key} {said}", data=data)

    def count(self, message: PageMessage, result: str) -> None:
        self._metrics.ticket_calls.labels(self._tracker, self.op(message), result).inc()
