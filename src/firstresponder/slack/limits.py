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
wait raises `HeldBack`, a TransientDeliveryError whose `retry_after` is the slot promised
to it, so the outbox gives the message back for then instead of it holding a delivery slot.
Callers sent back are promised successive slots, so they come back spread out, not all at
once. The clock is injected: tests drive it by hand.
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
_PRUNE_ABOVE = 1024  # per-channel buckets kept before idle ones are dropped


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
    __slots__ = ("next_at", "promised")

    def __init__(self, now: datetime) -> None:
        self.next_at = now  # when the next call may go
        self.promised = now  # the next slot free to promise a caller sent back


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

    async def acquire(self, method: str, channel: str = "") -> None:
        """Return when `method` may be called (on `channel`); HeldBack if not soon."""
        rate = self._rates.get(method)
        if rate is None:
            return
        now = self._clock.now()
        bucket = self._bucket(method, channel if rate.per_channel else "", now)
        go_at = max(bucket.next_at, now)
        wait = go_at - now
        if wait > self._hold_limit:
            slot = max(bucket.promised, go_at)
            bucket.promised = slot + rate.interval
            self._count(method, "requeued")
            retry_after = (slot - now).total_seconds()
            raise HeldBack(
                f"slack {method}: {_HELD_BACK} ({rate.describe()}), next try in {retry_after:.0f}s",
                retry_after=retry_after,
            )
        bucket.next_at = go_at + rate.interval
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
        return bucket

    def _prune(self, now: datetime) -> None:
        """Forget buckets with nothing owed: a fresh one behaves the same."""
        idle = [k for k, b in self._buckets.items() if max(b.next_at, b.promised) <= now]
        for key in idle:
            del self._buckets[key]

    def _count(self, method: str, outcome: str) -> None:
        if self._on_hold is not None:
            self._on_hold(method, outcome)
