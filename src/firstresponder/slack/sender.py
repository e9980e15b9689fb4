"""Make the Slack calls the outbox holds, one per message, and say how they went.

`SlackSender` is the outbox's pager for channel `slack`: each message's payload names an
operation (`create_channel`, `set_topic`, `set_purpose`, `invite`, `post`, `announce`).
Creating the channel returns `C123|name` as the message's reference; every later message
of the incident is handed that reference, so it knows where to post. `SlackTexts` puts the
channel's creation, and every failure, on the incident's timeline.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..clock import Clock, SystemClock
from ..domain.incident import TimelineEntry
from ..metrics import Metrics
from ..operation_texts import OperationTexts
from ..pagers.base import PageMessage, PermanentDeliveryError, TransientDeliveryError
from .client import SlackClient
from .limits import is_held_back
from .notices import CHANNEL_PLACEHOLDER, SLACK, channel_ref
from .rules import channel_name

# The key of an incident's ticket ("" when it has none) and whether it may still come.
TicketKey = Callable[[int], Awaitable[tuple[str, bool]]]
TICKET_POLL_S = 2.0

OPERATIONS = ("create_channel", "set_topic", "set_purpose", "invite", "post", "announce")


class SlackSender:
    name = SLACK

    def __init__(
        self, client: SlackClient, ticket_key: TicketKey | None = None, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._ticket_key = ticket_key
        self._clock = clock or SystemClock()

    async def send(self, message: PageMessage) -> str | None:
        payload, ticket = message.payload, message.id
        op = str(payload.get("op", ""))
        if op == "create_channel":
            name = await self._name(message)
            channel_id, name = await self._client.create_channel(name, ticket=ticket)
            return f"{channel_id}|{name}"
        if op == "announce":
            text, blocks = _filled(payload, message.reference, str(payload.get("channel_name")))
            await self._client.post(str(payload["channel"]), text, blocks, ticket=ticket)
            return None
        if op not in OPERATIONS:
            raise PermanentDeliveryError(f"slack: unknown operation {op!r}")
        if not message.reference:
            raise PermanentDeliveryError(
                f"slack {op}: incident {message.incident_id} has no Slack channel "
                "(creating it failed; see the timeline)"
            )
        channel, _ = channel_ref(message.reference)
        if op == "set_topic":
            await self._client.set_topic(channel, str(payload["text"]), ticket=ticket)
        elif op == "set_purpose":
            await self._client.set_purpose(channel, str(payload["text"]), ticket=ticket)
        elif op == "invite":
            users = [str(user) for user in payload["users"]]
            await self._client.invite(channel, users, ticket=ticket)
        else:
            text, blocks = _filled(payload, message.reference, "")
            await self._client.post(channel, text, blocks, ticket=ticket)
        return None

    async def _name(self, message: PageMessage) -> str:
        """The channel's name; with `{ticket}` in the template, the ticket's key in it once
        the ticket is open. Until `wait_until` the creation waits for it (a transient
        failure, retried); then, or when opening the ticket failed, the fallback name."""
        payload = message.payload
        template, fallback = payload.get("template"), str(payload["name"])
        if not template or self._ticket_key is None:
            return fallback
        key, may_come = await self._ticket_key(message.incident_id)
        if key:
            return channel_name(
                message.incident_id, str(payload.get("service", "")), str(template), key
            )
        until = datetime.fromisoformat(str(payload.get("wait_until")))
        if may_come and self._clock.now() < until:
            raise TransientDeliveryError(
                f"slack create_channel: waiting until {until:%H:%M:%S}Z for the ticket "
                f"to name the channel (then #{fallback})",
                retry_after=TICKET_POLL_S,
            )
        return fallback

    async def close(self) -> None:
        return None


def _filled(
    payload: Mapping[str, Any], reference: str | None, name: str
) -> tuple[str, Sequence[Mapping[str, Any]]]:
    """The message with the incident channel's id in place of the placeholder; when the
    channel could not be created, its intended name instead of a link."""
    encoded = json.dumps({"text": payload.get("text", ""), "blocks": payload.get("blocks", [])})
    if reference:
        encoded = encoded.replace(CHANNEL_PLACEHOLDER, channel_ref(reference)[0])
    else:
        encoded = encoded.replace(f"<#{CHANNEL_PLACEHOLDER}>", f"#{name} (not created)")
    filled = json.loads(encoded)
    return str(filled["text"]), list(filled["blocks"])


class SlackTexts(OperationTexts):
    """Slack calls on the timeline: the channel created, and every failure."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__("slack", "Slack", OPERATIONS)
        self._metrics = metrics

    def delivered(
        self, message: PageMessage, attempts: int, reference: str | None, now: datetime
    ) -> TimelineEntry | None:
        if message.payload.get("op") != "create_channel" or not reference:
            return None
        channel_id, name = channel_ref(reference)
        return TimelineEntry(
            now,
            "slack_channel_created",
            f"Slack channel #{name} created",
            data={"channel_id": channel_id, "name": name, "attempts": attempts},
        )

    def delay_said(self, message: PageMessage, error: str) -> str:
        if is_held_back(error):  # our own rate limiter, not a failure
            return f"Slack {self.op(message)} waits its turn ({error})"
        return super().delay_said(message, error)

    def count(self, message: PageMessage, result: str) -> None:
        self._metrics.slack_calls.labels(self.op(message), result).inc()
