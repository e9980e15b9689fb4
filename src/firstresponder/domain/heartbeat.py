"""The dead-man's switch: an always-firing alert that must keep arriving.

Pure: the state as stored, and what a check at `now` should do about it. The absence is
counted from the last time the heartbeat was seen or, on an install that never saw one,
from when watching began (`since`, stored, so a restart does not reset it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .matchers import Matcher, all_match


@dataclass(frozen=True)
class HeartbeatState:
    since: datetime
    last_seen_at: datetime | None = None
    fired_at: datetime | None = None  # an absence incident is declared and not answered
    incident_id: int | None = None

    @property
    def counted_from(self) -> datetime:
        return self.last_seen_at or self.since

    def age(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.counted_from)


class HeartbeatVerdict(enum.Enum):
    WAIT = "wait"  # seen recently enough, or already declared and still missing
    DECLARE = "declare"  # missing for the timeout and nobody declared for it yet
    RETURNED = "returned"  # seen again after its absence was declared


def verdict(state: HeartbeatState, now: datetime, timeout: timedelta) -> HeartbeatVerdict:
    if state.fired_at is not None:
        seen_again = state.last_seen_at is not None and state.last_seen_at > state.fired_at
        return HeartbeatVerdict.RETURNED if seen_again else HeartbeatVerdict.WAIT
    if state.age(now) >= timeout:
        return HeartbeatVerdict.DECLARE
    return HeartbeatVerdict.WAIT


def is_heartbeat(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return bool(matchers) and all_match(matchers, labels)


def absence_text(state: HeartbeatState, now: datetime, timeout: timedelta) -> str:
    seconds = int(state.age(now).total_seconds())
    if state.last_seen_at is None:
        return (
            f"No heartbeat alert has ever arrived in {seconds}s of watching "
            f"(timeout {int(timeout.total_seconds())}s): Alertmanager, Prometheus or the "
            "webhook route to firstresponder may be down or misrouted; alerts may not reach us"
        )
    return (
        f"The heartbeat alert has not arrived for {seconds}s (timeout "
        f"{int(timeout.total_seconds())}s; last seen {state.last_seen_at.isoformat()}): "
        "Alertmanager, Prometheus or the webhook route to firstresponder may be down; "
        "alerts may not reach us"
    )
