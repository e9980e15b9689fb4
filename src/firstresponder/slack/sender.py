"""Make the Slack calls the outbox holds, one per message, and say how they went.

`SlackSender` is the outbox's pager for channel `slack`: each message's payload names an
operation (`create_channel`, `set_topic`, `set_purpose`, `invite`, `post`, `announce`).
Creating the channel returns `C123|name` as the message's reference; every later message
of the incident is handed that reference, so it knows where to post. `SlackTexts` puts the
channel's creation, and every failure, on the incident's timeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..domain.incident import TimelineEntry
from ..metrics import Metrics
from ..pagers.base import PageMessage, PermanentDeliveryError
from .client import SlackClient
from .limits import is_held_back
from .notices import CHANNEL_PLACEHOLDER, SLACK, channel_ref

OPERATIONS = ("create_channel", "set_topic", "set_purpose", "invite", "post", "announce")


class SlackSender:
    name = SLACK

    def __init__(self, client: SlackClient) -> None:
        self._client = client

    async def send(self, message: PageMessage) -> str | None:
        payload, ticket = message.payload, message.id
        op = str(payload.get("op", ""))
        if op == "create_channel":
            channel_id, name = await self._client.create_channel(
                str(payload["name"]), ticket=ticket
            )
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


class SlackTexts:
    """Slack calls on the timeline: the channel created, and every failure."""

    def __init__(self, metrics: Metrics) -> None:
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

    def failed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        op = _op(message)
        return TimelineEntry(
            now,
            "slack_failed",
            f"Slack {op} failed for good: {error}",
            data={"op": op, "attempts": attempts, "error": error},
        )

    def delayed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        op = _op(message)
        said = (
            f"Slack {op} waits its turn ({error})"
            if is_held_back(error)
            else f"Slack {op} is failing ({error}); retrying until it is delivered"
        )
        return TimelineEntry(
            now, "slack_delayed", said, data={"op": op, "attempts": attempts, "error": error}
        )

    def count(self, message: PageMessage, result: str) -> None:
        self._metrics.slack_calls.labels(_op(message), result).inc()


def _op(message: PageMessage) -> str:
    op = str(message.payload.get("op", ""))
    return op if op in OPERATIONS else "unknown"
