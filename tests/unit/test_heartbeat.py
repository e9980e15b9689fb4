"""The dead-man's switch's decision: counted from the last time seen, declared once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstresponder.domain.heartbeat import (
    HeartbeatState,
    HeartbeatVerdict,
    absence_text,
    is_heartbeat,
    verdict,
)
from firstresponder.domain.matchers import parse_matcher_list

T = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=3)
WAIT, DECLARE, RETURNED = HeartbeatVerdict.WAIT, HeartbeatVerdict.DECLARE, HeartbeatVerdict.RETURNED


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (HeartbeatState(since=T), at(2.9), WAIT),  # never seen: counted from `since`
        (HeartbeatState(since=T), at(3), DECLARE),
        (HeartbeatState(since=T, last_seen_at=at(10)), at(12), WAIT),
        (HeartbeatState(since=T, last_seen_at=at(10)), at(13), DECLARE),
        # Declared and still missing: nothing more, however long it lasts.
        (HeartbeatState(since=T, last_seen_at=at(10), fired_at=at(13)), at(600), WAIT),
        # Seen after the declaration: answered.
        (HeartbeatState(since=T, last_seen_at=at(14), fired_at=at(13)), at(14), RETURNED),
    ],
)
def test_verdict(state: HeartbeatState, now: datetime, expected: HeartbeatVerdict) -> None:
    assert verdict(state, now, TIMEOUT) is expected


def test_age_is_never_negative_and_counts_from_the_last_sighting() -> None:
    assert HeartbeatState(since=T, last_seen_at=at(5)).age(at(4)) == timedelta(0)
    assert HeartbeatState(since=T, last_seen_at=at(5)).age(at(7)) == timedelta(minutes=2)


def test_is_heartbeat() -> None:
    watchdog = parse_matcher_list(['alertname="Watchdog"'])
    assert is_heartbeat(watchdog, {"alertname": "Watchdog", "severity": "none"})
    assert not is_heartbeat(watchdog, {"alertname": "HighErrorRate"})
    assert not is_heartbeat((), {"alertname": "Watchdog"})  # no matchers: nothing is


def test_absence_text_says_when_it_was_last_seen() -> None:
    seen = HeartbeatState(since=T, last_seen_at=at(10))
    assert "last seen 2026-11-23T03:10:00+00:00" in absence_text(seen, at(13), TIMEOUT)
    assert "has ever arrived in 180s of watching" in absence_text(
        HeartbeatState(since=T), at(3), TIMEOUT
    )
