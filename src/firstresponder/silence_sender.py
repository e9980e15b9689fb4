"""Make the silence calls the outbox holds, and say on the timeline how they went.

`SilenceSender` is the outbox's pager for channel `alertmanager`. Each message's payload
names an operation: `create` (on acknowledgement), `extend` (a deadline at half the
duration) or `expire` (on resolution). It is handed the id the silence's previous message
got back (`reference`): `extend` updates that silence, or creates one if there is none
yet (an alert that joined after the acknowledgement, or a create that failed for good);
a silence someone expired by hand in Alertmanager stays expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .alertmanager_client import AlertmanagerClient, silence_state
from .clock import Clock, utc_iso
from .domain.incident import TimelineEntry
from .metrics import Metrics
from .operation_texts import OperationTexts
from .pagers.base import PageMessage, PermanentDeliveryError
from .silences import ALERTMANAGER, CREATED_BY

OPERATIONS = ("create", "extend", "expire")


class SilenceSender:
    name = ALERTMANAGER

    def __init__(self, client: AlertmanagerClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    async def send(self, message: PageMessage) -> str | None:
        op = str(message.payload.get("op", ""))
        if op not in OPERATIONS:
            raise PermanentDeliveryError(f"alertmanager: unknown operation {op!r}")
        if op == "expire":
            if message.reference:
                await self._client.expire_silence(message.reference)
            return None
        if message.reference:
            return await self._extend(message.reference, message.payload)
        return await self._create(message.payload)

    async def _create(self, payload: Mapping[str, Any]) -> str:
        now = self._clock.now()
        return await self._client.post_silence(
            {
                "matchers": list(payload["matchers"]),
                "startsAt": utc_iso(now),
                "endsAt": utc_iso(now + _duration(payload)),
                "createdBy": CREATED_BY,
                "comment": str(payload.get("comment", "")),
            }
        )

    async def _extend(self, silence_id: str, payload: Mapping[str, Any]) -> str | None:
        """The silence's new id (Alertmanager may answer a new one); None when it is no
        longer there to extend (expired by hand, or garbage-collected)."""
        found = await self._client.get_silence(silence_id)
        if found is None or silence_state(found) == "expired":
            return None
        ends = self._clock.now() + _duration(payload)
        current = _parse(str(found.get("endsAt", "")))
        if current is not None and current >= ends:
            return silence_id  # someone gave it longer already: never shorten it
        return await self._client.post_silence(
            {
                "id": silence_id,
                "matchers": found.get("matchers", payload["matchers"]),
                "startsAt": found.get("startsAt"),
                "endsAt": utc_iso(ends),
                "createdBy": found.get("createdBy", CREATED_BY),
                "comment": found.get("comment", payload.get("comment", "")),
            }
        )

    async def close(self) -> None:
        return None


def _duration(payload: Mapping[str, Any]) -> timedelta:
    return timedelta(seconds=float(payload["duration_s"]))


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class SilenceTexts(OperationTexts):
    """Silences on the timeline: created (with its id), extended, expired, failing."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__("silence", "Alertmanager silence", OPERATIONS)
        self._metrics = metrics

    def what(self, message: PageMessage) -> str:
        return f"{self.op(message)} ({_shown(message)})"

    def delivered(
        self, message: PageMessage, attempts: int, reference: str | None, now: datetime
    ) -> TimelineEntry | None:
        op, before = self.op(message), message.reference
        matchers = _shown(message)
        data = {"op": op, "matchers": matchers, "attempts": attempts}
        if op == "expire":
            if not before:
                return None
            said = f"Alertmanager silence {before} expired ({matchers})"
            return TimelineEntry(now, "silence_expired", said, data={**data, "silence_id": before})
        if reference is None:
            said = f"Alertmanager silence {before} was expired outside firstresponder; not extended"
            return TimelineEntry(now, "silence_gone", said, data={**data, "silence_id": before})
        until = utc_iso(now + _duration(message.payload))
        data = {**data, "silence_id": reference, "until": until}
        if not before:
            said = f"Alertmanager silence {reference} created until {until} ({matchers})"
            return TimelineEntry(now, "silence_created", said, data=data)
        if before == reference:
            said = f"Alertmanager silence {reference} extended until {until}"
        else:
            said = f"Alertmanager silence {before} extended until {until} as {reference}"
        return TimelineEntry(now, "silence_extended", said, data={**data, "previous": before})

    def count(self, message: PageMessage, result: str) -> None:
        self._metrics.silences.labels(self.op(message), result).inc()


def _shown(message: PageMessage) -> str:
    matchers = message.payload.get("matchers", [])
    return ", ".join(f'{m.get("name")}="{m.get("value")}"' for m in matchers if isinstance(m, dict))
