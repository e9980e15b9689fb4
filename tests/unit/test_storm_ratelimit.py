"""The storm bench's model of Slack's rate limits (bench/storm/ratelimit.py)."""

from __future__ import annotations

import pytest

from bench.storm.ratelimit import SlackLimits


def test_a_tier_2_method_passes_a_minutes_quota_then_one_call_every_3_seconds() -> None:
    limits = SlackLimits.published()
    assert [limits.take("conversations.create", "", 0.0) for _ in range(20)] == [0.0] * 20
    assert limits.take("conversations.create", "", 0.0) == pytest.approx(3.0)
    assert limits.take("conversations.create", "", 3.0) == 0.0
    assert limits.take("conversations.create", "", 3.0) > 0


def test_each_method_and_each_channel_has_its_own_bucket() -> None:
    limits = SlackLimits.published()
    for _ in range(3):
        assert limits.take("chat.postMessage", "C1", 0.0) == 0.0
    assert limits.take("chat.postMessage", "C1", 0.0) == pytest.approx(1.0)
    assert limits.take("chat.postMessage", "C2", 0.0) == 0.0
    assert limits.take("conversations.invite", "C1", 0.0) == 0.0


def test_scale_zero_turns_the_limits_off_and_unknown_methods_are_not_limited() -> None:
    off = SlackLimits.published(scale=0)
    assert all(off.take("conversations.create", "", 0.0) == 0.0 for _ in range(100))
    on = SlackLimits.published()
    assert all(on.take("users.info", "", 0.0) == 0.0 for _ in range(100))
