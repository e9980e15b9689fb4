"""Slack's Web API rate limits as token buckets, for the fake Slack.

Slack limits each method per workspace and app by tier (Tier 2: 20+ per minute, Tier 3:
50+, Tier 4: 100+), tolerating bursts, and `chat.postMessage` to about one message per
second per channel. Each bucket holds one minute's quota and refills evenly, so a burst
of a minute's quota passes and then calls pass at the tier's rate; a call that finds the
bucket empty is answered 429 with Retry-After (whole seconds, rounded up) as Slack does.
The workspace-wide `chat.postMessage` limit is not published, so it is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PER_MINUTE = {"tier2": 20.0, "tier3": 50.0, "tier4": 100.0}
# The tier of each method the daemon calls, from Slack's method reference.
METHOD_TIERS = {
    "auth.test": "tier4",
    "conversations.create": "tier2",
    "conversations.setTopic": "tier2",
    "conversations.setPurpose": "tier2",
    "conversations.invite": "tier3",
}
POST_PER_CHANNEL_PER_S = 1.0
POST_BURST = 3.0


@dataclass
class Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there is."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_second


@dataclass
class SlackLimits:
    """Per-method buckets (per-channel for chat.postMessage); `scale` multiplies every rate,
    0 turns the limits off."""

    scale: float = 1.0
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    @classmethod
    def published(cls, scale: float = 1.0) -> SlackLimits:
        return cls(scale=scale)

    def take(self, method: str, channel: str, now: float) -> float:
        if self.scale <= 0:
            return 0.0
        if method == "chat.postMessage":
            key, capacity, rate = (method, channel), POST_BURST, POST_PER_CHANNEL_PER_S
        elif method in METHOD_TIERS:
            per_minute = PER_MINUTE[METHOD_TIERS[method]]
            key, capacity, rate = (method, ""), per_minute, per_minute / 60
        else:
            return 0.0
        bucket = self.buckets.get(key)
        if bucket is None:
            capacity *= self.scale
            bucket = self.buckets[key] = Bucket(capacity, rate * self.scale, capacity, now)
        return bucket.take(now)
