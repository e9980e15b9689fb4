"""Stay under Slack's published rate limits instead of collecting 429s.

Slack limits each Web API method per workspace and app, by tier, and `chat.postMessage`
per channel. What we use, and where it is published:

- https://api.slack.com/docs/rate-limits (docs.slack.dev/apis/web-api/rate-limits):
  Tier 2 "20+ per minute" ("occasional bursts" allowed), Tier 3 "50+ per minute";
  `chat.postMessage` "generally allows posting one message per second per channel" (short
  bursts allowed, no guarantee), plus an unpublished workspace-wide limit.
- Each method's tier, as Slack's own Java SDK lists them (slackapi/java-slack-sdk,
  `MethodsRateLimits.java`): `conversations.create`, `conversations.setTopic` and
  `conversations.setPurpose` Tier 2; `conversations.invite` Tier 3; `chat.postMessage`
  its special tier.

We take the floor of each range, with no burst: a storm's calls are spread evenly, and a
429 (which slack_sdk and the outbox still honour) stays the exception.

Each method (each channel, for posts) has a bucket kept the GCRA way: the time the next
call may go. A call that would wait at most `hold_limit` waits on the clock; a longer
wait reserves the slot for the call's ticket (its outbox message) and raises `HeldBack`,
a TransientDeliveryError whose `retry_after` is that slot: the outbox gives the message
back until then instead of it holding a delivery slot, and when it comes back its slot is
waiting for it. Calls sent back are so given successive slots, and keep their place.
Reservations nobody came back for are dropped a minute after their slot. The clock is
injected: tests drive it by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import Clock
from ..pagers.base import TransientDeliveryError

# The longest wait spent holding a delivery slot: one Tier 2 interval, so a call whose
# method is busy (a channel name taken, tried again as `-2`) may wait for the next slot.
HOLD_LIMIT = timedelta(seconds=3)
_HELD_BACK = "held back to stay under Slack's rate limit"
_PRUNE_ABOVE = 1024  # buckets (or a bucket's reservations) kept before stale ones go
_STALE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Rate:
    per_minute: int
    per_channel: bool = False

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=60 / self.per_minute)

    def describe(self) -> str:
        return f"{self.per_minute}/min" + (" per channel" if self.per_channel else "")


TIER_2 = Rate(20)
TIER_3 = Rate(50)
SLACK_RATES: Mapping[str, Rate] = {
    "conversations.create": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2,
    "conversations.invite": TIER_3,
    "chat.postMessage": Rate(60, per_channel=True),
}

# Told what the limiter did: (method, "waited" or "requeued").
HoldHook = Callable[[str, str], None]


class HeldBack(TransientDeliveryError):
    """The call would have waited too long for its slot; try again in `retry_after`."""


def is_held_back(error: str) -> bool:
    """Whether a delivery error (as the timeline has it) is our own limiter's."""
    return _HELD_BACK in error


class _Bucket:
    __slots__ = ("next_at", "reserved")

    def __init__(self, now: datetime) -> None:
        self.next_at = now  # when the next call may go
        self.reserved: dict[int, datetime] = {}  # ticket -> the slot kept for it


class RateLimiter:
    def __init__(
        self,
        clock: Clock,
        rates: Mapping[str, Rate] = SLACK_RATES,
        hold_limit: timedelta = HOLD_LIMIT,
        on_hold: HoldHook | None = None,
    ) -> None:
        self._clock = clock
        self._rates = rates
        self._hold_limit = hold_limit
        self._on_hold = on_hold
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    async def acquire(self, method: str, channel: str = "", ticket: int | None = None) -> None:
        """Return when `method` may be called (on `channel`); HeldBack if not soon, with
        the slot kept for `ticket` (the caller that will come back for it)."""
        rate = self._rates.get(method)
        if rate is None:
            return
        now = self._clock.now()
        bucket = self._bucket(method, channel if rate.per_channel else "", now)
        slot = bucket.reserved.pop(ticket, None) if ticket is not None else None
        if slot is None:
            slot = max(bucket.next_at, now)
            bucket.next_at = slot + rate.interval
        wait = slot - now
        if wait > self._hold_limit:
            if ticket is not None:
                bucket.reserved[ticket] = slot
            self._count(method, "requeued")
            retry_after = wait.total_seconds()
            raise HeldBack(
                f"slack {method}: {_HELD_BACK} ({rate.describe()}), next try in {retry_after:.0f}s",
                retry_after=retry_after,
            )
        if wait > timedelta(0):
            self._count(method, "waited")
            await self._clock.sleep(wait.total_seconds())

    def _bucket(self, method: str, channel: str, now: datetime) -> _Bucket:
        key = (method, channel)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(now)
        elif len(bucket.reserved) > _PRUNE_ABOVE:
            _forget_stale(bucket, now)
        return bucket

    def _prune(self, now: datetime) -> None:
        """Forget buckets with nothing owed: a fresh one behaves the same."""
        for bucket in self._buckets.values():
            _forget_stale(bucket, now)
        idle = [k for k, b in self._buckets.items() if b.next_at <= now and not b.reserved]
        for key in idle:
            del self._buckets[key]

    def _count(self, method: str, outcome: str) -> None:
        if self._on_hold is not None:
            self._on_hold(method, outcome)


def _forget_stale(bucket: _Bucket, now: datetime) -> None:
    """Drop the slots kept for callers that did not come back (claimed by another
    replica, or failed for good before this call)."""
    stale = [t for t, slot in bucket.reserved.items() if slot < now - _STALE_AFTER]
    for ticket in stale:
        del bucket.reserved[ticket]
