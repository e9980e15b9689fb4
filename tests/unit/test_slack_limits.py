"""The Slack rate limiter on a fake clock: calls spaced at Slack's published rates, short
waits spent inline, long ones sent back to the outbox with successive promised slots."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from firstresponder.slack.limits import (
    HOLD_LIMIT,
    SLACK_RATES,
    HeldBack,
    Rate,
    RateLimiter,
    is_held_back,
)

from ..factories import FakeClock


class Recorder:
    def __init__(self) -> None:
        self.holds: list[tuple[str, str]] = []

    def __call__(self, method: str, outcome: str) -> None:
        self.holds.append((method, outcome))


async def send_times(limiter: RateLimiter, clock: FakeClock, method: str, n: int) -> list[float]:
    """Call `method` n times one after another; when each went, in seconds from the start."""
    start, times = clock.now(), []
    for _ in range(n):
        await limiter.acquire(method)
        times.append((clock.now() - start).total_seconds())
    return times


@pytest.mark.parametrize(
    ("method", "interval"),
    [
        ("conversations.create", 3.0),
        ("conversations.setTopic", 3.0),
        ("conversations.setPurpose", 3.0),
        ("conversations.invite", 1.2),
    ],
)
async def test_calls_of_one_method_are_spaced_at_its_tier(method: str, interval: float) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    times = await send_times(limiter, clock, method, 4)
    assert times == pytest.approx([0, interval, 2 * interval, 3 * interval])


async def test_methods_and_post_channels_have_their_own_buckets() -> None:
    clock, holds = FakeClock(), Recorder()
    limiter = RateLimiter(clock, on_hold=holds)
    before = clock.now()
    await limiter.acquire("conversations.create")
    await limiter.acquire("conversations.setTopic")
    await limiter.acquire("conversations.invite")
    await limiter.acquire("chat.postMessage", "C1")
    await limiter.acquire("chat.postMessage", "C2")
    await limiter.acquire("auth.test")  # not limited
    await limiter.acquire("auth.test")
    assert clock.now() == before
    assert holds.holds == []
    await limiter.acquire("chat.postMessage", "C1")
    assert clock.now() == before + timedelta(seconds=1)
    assert holds.holds == [("chat.postMessage", "waited")]


async def storm_of_creates(limiter: RateLimiter, clock: FakeClock, tickets: int) -> list[float]:
    """Two creates go (one after a short wait inline), then `tickets` more arrive at the
    same moment; how long each of those was told to come back after."""
    start = clock.now()
    await limiter.acquire("conversations.create")  # goes now
    await limiter.acquire("conversations.create")  # waits 3 s, within the hold limit
    assert clock.now() == start + timedelta(seconds=3)
    clock.current = start  # a storm: more callers at the same moment
    retry_after = []
    for ticket in range(1, tickets + 1):
        with pytest.raises(HeldBack) as held:
            await limiter.acquire("conversations.create", ticket=ticket)
        assert clock.now() == start, "a call sent back does not wait"
        assert held.value.retry_after is not None
        assert held.value.retry_after > HOLD_LIMIT.total_seconds()
        assert is_held_back(str(held.value))
        assert "conversations.create" in str(held.value)
        retry_after.append(held.value.retry_after)
    return retry_after


async def test_a_call_that_would_wait_long_is_sent_back_for_its_own_slot() -> None:
    clock, holds = FakeClock(), Recorder()
    limiter = RateLimiter(clock, on_hold=holds)
    promised = await storm_of_creates(limiter, clock, 3)
    assert promised == pytest.approx([6, 9, 12]), "successive slots, not one for all"
    assert (
        holds.holds
        == [("conversations.create", "waited")] + [("conversations.create", "requeued")] * 3
    )


async def test_a_call_sent_back_finds_its_slot_kept_when_it_returns() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    start = clock.now()
    await storm_of_creates(limiter, clock, 3)
    clock.current = start + timedelta(seconds=6)
    with pytest.raises(HeldBack) as held:
        await limiter.acquire("conversations.create", ticket=99)  # a newcomer queues last
    assert held.value.retry_after == pytest.approx(15 - 6)
    await limiter.acquire("conversations.create", ticket=1)
    assert clock.now() == start + timedelta(seconds=6), "ticket 1 went at once, in its slot"
    clock.current = start + timedelta(seconds=10)  # ticket 2 comes back late: goes at once
    await limiter.acquire("conversations.create", ticket=2)
    assert clock.now() == start + timedelta(seconds=10)


async def test_slots_nobody_came_back_for_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, {"chat.postMessage": Rate(60, per_channel=True)})
    start = clock.now()
    for ticket in range(1100):
        with contextlib.suppress(HeldBack):
            await limiter.acquire("chat.postMessage", "C1", ticket=ticket)
        clock.current = start
    bucket = limiter._buckets[("chat.postMessage", "C1")]
    assert len(bucket.reserved) > 1000
    clock.current = start + timedelta(hours=1)
    await limiter.acquire("chat.postMessage", "C1", ticket=5000)
    assert bucket.reserved == {}


async def test_no_window_of_a_minute_holds_more_calls_than_the_tier_allows() -> None:
    """Slack counts calls per minute: at 20/min, any 60 s holds at most 20 calls."""
    clock = FakeClock()
    limiter = RateLimiter(clock)
    times = await send_times(limiter, clock, "conversations.create", 45)
    for i, t in enumerate(times):
        in_window = [u for u in times[: i + 1] if u > t - 60]
        assert len(in_window) <= SLACK_RATES["conversations.create"].per_minute


async def test_idle_channel_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, {"chat.postMessage": Rate(60, per_channel=True)})
    for n in range(1100):
        await limiter.acquire("chat.postMessage", f"C{n}")
    clock.advance(seconds=2)
    await limiter.acquire("chat.postMessage", "Cnew")
    assert len(limiter._buckets) < 10


def test_rates_are_slacks_published_floors() -> None:
    per_minute = {method: rate.per_minute for method, rate in SLACK_RATES.items()}
    assert per_minute == {
        "conversations.create": 20,
        "conversations.setTopic": 20,
        "conversations.setPurpose": 20,
        "conversations.invite": 50,
        "chat.postMessage": 60,
    }
    assert SLACK_RATES["chat.postMessage"].per_channel
