"""SlackClient through the real slack_sdk AsyncWebClient against a fake Slack Web API.

slack_sdk's own retry handlers do the inline retries (429 with a short Retry-After,
500/503, connection errors); whatever is left comes out as a delivery error. The 429
tests wait for real: slack_sdk sleeps `Retry-After` plus up to a second of jitter.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from firstresponder.domain.incident import Incident
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.pagers.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from firstresponder.slack.client import SlackClient, SlackRefused
from firstresponder.slack.limits import HeldBack, RateLimiter
from firstresponder.slack.messages import Links, announcement, channel_purpose, channel_topic

from ..factories import FakeClock
from ..fakes.slack import BOT_USER, TOKEN, FakeSlack

ALICE, BOB = "U0ALICE01", "U0BOB0001"
BRIDGE = "https://meet.example.com/inc-42"
# Generous: a slow 2-core machine must never turn a fast failure into a flaky test.
BOUND_S = 30


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk routes through HTTP(S)_PROXY when set, even to 127.0.0.1."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={ALICE, BOB}) as slack:
        yield slack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def slack(fake: FakeSlack, session: aiohttp.ClientSession) -> SlackClient:
    # Server-error retries wait a fixed 10 ms instead of slack_sdk's 0.5-1.5 s backoff.
    fast = FixedValueRetryIntervalCalculator(0.01)
    return SlackClient(fake.token, fake.api_url, session, server_error_interval=fast)


@pytest.fixture(autouse=True)
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture everything, slack_sdk's debug request logs included, and check for the token."""
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text


def make_incident() -> Incident:
    t0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return Incident(
        id=42,
        group_key="checkout",
        service="Checkout API",
        title="Checkout requests fail",
        impact=Impact.OUTAGE,
        severity=Severity.S1,
        state=IncidentState.INVESTIGATING,
        declared_at=t0,
        updated_at=t0,
        roles={Role.EOC: ALICE},
        classification={"reason": "SLO: 12% errors", "evidence": []},
    )


async def failing(call: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        async with asyncio.timeout(BOUND_S):
            await call
    assert TOKEN not in str(caught.value)
    return caught.value


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# The declared-incident sequence


async def test_a_declared_incident_opens_and_announces_its_channel(
    fake: FakeSlack, slack: SlackClient
) -> None:
    announce = fake.add_channel("incidents")
    incident = make_incident()
    name = slack.channel_name(incident.id, incident.service)

    channel_id, created = await slack.create_channel(name)
    await slack.set_topic(channel_id, channel_topic(incident, BRIDGE))
    await slack.set_purpose(channel_id, channel_purpose(incident, BRIDGE))
    await slack.invite(channel_id, [ALICE, BOB])
    message = announcement(incident, Links(channel_id=channel_id, bridge_url=BRIDGE))
    ts = await slack.post(announce.id, message.text, message.blocks)

    assert created == "inc-42-checkout-api"
    assert [(call.method, call.args) for call in fake.calls] == [
        ("conversations.create", {"name": "inc-42-checkout-api"}),
        (
            "conversations.setTopic",
            {"channel": channel_id, "topic": channel_topic(incident, BRIDGE)},
        ),
        (
            "conversations.setPurpose",
            {"channel": channel_id, "purpose": channel_purpose(incident, BRIDGE)},
        ),
        ("conversations.invite", {"channel": channel_id, "users": f"{ALICE},{BOB}", "force": "1"}),
        (
            "chat.postMessage",
            {
                "channel": announce.id,
                "text": message.text,
                "blocks": message.blocks,
                "unfurl_links": False,
                "unfurl_media": False,
            },
        ),
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    channel = fake.channels[channel_id]
    assert channel.topic == channel_topic(incident, BRIDGE)
    assert channel.members == [BOT_USER, ALICE, BOB]
    assert [(m.ts, m.text) for m in announce.messages] == [(ts, message.text)]
    assert f"<#{channel_id}>" in message.text


async def test_a_taken_name_gets_the_next_number(fake: FakeSlack, slack: SlackClient) -> None:
    fake.add_channel("inc-42-checkout")
    fake.add_channel("inc-42-checkout-2")
    channel_id, name = await slack.create_channel("inc-42-checkout")
    assert name == "inc-42-checkout-3"
    assert fake.channels[channel_id].name == "inc-42-checkout-3"
    assert [call.args["name"] for call in fake.calls_to("conversations.create")] == [
        "inc-42-checkout",
        "inc-42-checkout-2",
        "inc-42-checkout-3",
    ]


async def test_numbered_names_stay_within_80_characters(
    fake: FakeSlack, slack: SlackClient
) -> None:
    base = "inc-42-" + "x" * 73
    fake.add_channel(base)
    _, name = await slack.create_channel(base)
    assert name == "inc-42-" + "x" * 71 + "-2"


async def test_when_every_name_is_taken_it_gives_up(fake: FakeSlack, slack: SlackClient) -> None:
    fake.refuse("conversations.create", "name_taken", times=20)
    error = await failing(slack.create_channel("inc-42-checkout"))
    assert isinstance(error, PermanentDeliveryError)
    assert "are all taken" in str(error)
    assert len(fake.calls_to("conversations.create")) == 20


async def test_an_invalid_name_is_permanent(slack: SlackClient) -> None:
    error = await failing(slack.create_channel("Inc 42"))
    assert isinstance(error, SlackRefused) and error.error == "invalid_name_specials"
    assert str(error) == "slack conversations.create: invalid_name_specials"


async def test_topics_and_purposes_are_cut_to_250(fake: FakeSlack, slack: SlackClient) -> None:
    channel_id, _ = await slack.create_channel("inc-1")
    await slack.set_topic(channel_id, "t" * 400)
    await slack.set_purpose(channel_id, "p" * 400)
    assert fake.channels[channel_id].topic == "t" * 249 + "…"
    assert fake.channels[channel_id].purpose == "p" * 249 + "…"


# Invitations


async def test_members_already_there_and_the_bot_itself_are_fine(
    fake: FakeSlack, slack: SlackClient
) -> None:
    channel_id, _ = await slack.create_channel("inc-1")
    await slack.invite(channel_id, [ALICE])
    await slack.invite(channel_id, [ALICE, BOB, BOT_USER, BOB, " "])
    assert fake.channels[channel_id].members == [BOT_USER, ALICE, BOB]
    assert fake.calls_to("conversations.invite")[1].args["users"] == f"{ALICE},{BOB},{BOT_USER}"
    await slack.invite(channel_id, [])
    assert len(fake.calls_to("conversations.invite")) == 2


async def test_unknown_users_are_named_and_the_others_still_invited(
    fake: FakeSlack, slack: SlackClient
) -> None:
    channel_id, _ = await slack.create_channel("inc-1")
    error = await failing(slack.invite(channel_id, [ALICE, "U0NOBODY1", BOB, "U0NOBODY2"]))
    assert isinstance(error, SlackRefused)
    assert str(error) == (
        "slack conversations.invite: could not invite "
        "U0NOBODY1 (user_not_found), U0NOBODY2 (user_not_found)"
    )
    assert fake.channels[channel_id].members == [BOT_USER, ALICE, BOB]


async def test_an_invite_to_a_missing_channel_is_about_the_channel(slack: SlackClient) -> None:
    error = await failing(slack.invite("C0MISSING", [ALICE]))
    assert isinstance(error, SlackRefused) and error.error == "channel_not_found"


# Failures


async def test_ok_false_is_permanent_with_slacks_code(fake: FakeSlack, slack: SlackClient) -> None:
    error = await failing(slack.post("C0MISSING", "hello"))
    assert isinstance(error, SlackRefused)
    assert error.error == "channel_not_found"
    assert str(error) == "slack chat.postMessage: channel_not_found"
    assert len(fake.requests) == 1


async def test_a_missing_scope_says_which(fake: FakeSlack, slack: SlackClient) -> None:
    fake.refuse("conversations.create", "missing_scope", needed="channels:manage")
    error = await failing(slack.create_channel("inc-1"))
    assert str(error) == "slack conversations.create: missing_scope (needs scope channels:manage)"


@pytest.mark.parametrize(
    "code",
    ["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"],
)
async def test_slacks_transient_codes_are_transient(
    fake: FakeSlack, slack: SlackClient, code: str
) -> None:
    fake.refuse("auth.test", code)
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert code in str(error)


async def test_a_wrong_token_is_permanent_and_not_repeated(fake: FakeSlack) -> None:
    wrong = "xoxb-wrong-secret-token-1234"
    slack = SlackClient(wrong, fake.api_url)
    error = await failing(slack.bot_user_id())
    assert isinstance(error, SlackRefused) and error.error == "invalid_auth"
    assert wrong not in str(error)


async def test_429_is_retried_by_slack_sdk_after_retry_after(
    fake: FakeSlack, slack: SlackClient
) -> None:
    fake.fail_next(429, retry_after=1)
    started = time.monotonic()
    assert await slack.bot_user_id() == BOT_USER
    first, second = fake.requests
    assert second.received_at - first.received_at >= 1.0  # slack_sdk waited Retry-After
    assert time.monotonic() - started < BOUND_S


async def test_429_after_slack_sdk_gave_up_is_transient_with_retry_after(
    fake: FakeSlack, slack: SlackClient
) -> None:
    fake.fail_next(429, times=2, retry_after=1)
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after == 1
    assert str(error) == "slack auth.test: rate limited (HTTP 429), retry after 1s"
    assert len(fake.requests) == 2


async def test_a_long_retry_after_goes_back_to_the_caller_at_once(
    fake: FakeSlack, slack: SlackClient
) -> None:
    fake.fail_next(429, retry_after=30)
    started = time.monotonic()
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError) and error.retry_after == 30
    assert len(fake.requests) == 1
    assert time.monotonic() - started < 5  # nobody slept 30 s inline


async def test_500_then_success_is_retried(fake: FakeSlack, slack: SlackClient) -> None:
    fake.fail_next(500)
    assert await slack.post(fake.add_channel("incidents").id, "hello")
    assert len(fake.requests) == 2


async def test_persistent_500_is_transient(fake: FakeSlack, slack: SlackClient) -> None:
    fake.fail_next(500, times=5)
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert str(error) == "slack auth.test: HTTP 500: internal_error"
    assert len(fake.requests) == 2


async def test_502_is_transient_without_an_inline_retry(
    fake: FakeSlack, slack: SlackClient
) -> None:
    fake.fail_next(502, body="<html>Bad Gateway</html>")
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert str(error).startswith("slack auth.test: HTTP 502")
    assert len(fake.requests) == 1


async def test_no_answer_in_time_is_transient(fake: FakeSlack) -> None:
    slack = SlackClient(fake.token, fake.api_url, timeout_s=0.3)
    fake.delay_next(10)
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert str(error) == "slack auth.test: no answer within 0.3s"


async def test_nobody_listening_is_transient(session: aiohttp.ClientSession) -> None:
    fast = FixedValueRetryIntervalCalculator(0.01)
    slack = SlackClient(
        TOKEN, f"http://127.0.0.1:{closed_port()}/api/", session, server_error_interval=fast
    )
    error = await failing(slack.bot_user_id())
    assert isinstance(error, TransientDeliveryError)
    assert str(error).startswith("slack auth.test: unreachable: ")


def test_slack_sdk_retry_handlers_are_appended_to_its_defaults() -> None:
    handlers = SlackClient(TOKEN).retry_handlers
    assert [type(h) for h in handlers][0] is AsyncConnectionErrorRetryHandler
    assert isinstance(handlers[1], AsyncRateLimitErrorRetryHandler)
    assert isinstance(handlers[2], AsyncServerErrorRetryHandler)


# --- the rate limiter -------------------------------------------------------------------


async def test_a_call_past_its_rate_is_sent_back_before_anything_reaches_slack(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, hold_limit=timedelta(0))
    slack = SlackClient(fake.token, fake.api_url, session, limiter=limiter)
    fake.enforce_rate_limits(clock.now)

    await slack.create_channel("inc-1-checkout", ticket=1)
    held = await failing(slack.create_channel("inc-2-checkout", ticket=2))
    assert isinstance(held, HeldBack)
    assert isinstance(held, TransientDeliveryError), "the outbox gives it back, not lost"
    assert held.retry_after == pytest.approx(3)
    assert "conversations.create" in str(held) and "20/min" in str(held)
    assert [call.args["name"] for call in fake.calls] == ["inc-1-checkout"]

    # Posts are limited per channel: another channel's post goes at once.
    channel = fake.add_channel("incidents")
    other = fake.add_channel("elsewhere")
    await slack.post(channel.id, "one", ticket=3)
    await slack.post(other.id, "two", ticket=4)
    assert isinstance(await failing(slack.post(channel.id, "three", ticket=5)), HeldBack)

    clock.advance(seconds=3)  # ticket 2's slot
    channel_id, _ = await slack.create_channel("inc-2-checkout", ticket=2)
    created = fake.channel_named("inc-2-checkout")
    assert created is not None and created.id == channel_id
    assert fake.rate_limited == []


async def test_a_short_wait_for_the_next_slot_is_spent_on_the_clock(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    slack = SlackClient(fake.token, fake.api_url, session, limiter=RateLimiter(clock))
    fake.enforce_rate_limits(clock.now)
    start = clock.now()
    await slack.create_channel("inc-1-checkout")
    await slack.create_channel("inc-2-checkout")
    assert clock.now() == start + timedelta(seconds=3)
    assert len(fake.calls_to("conversations.create")) == 2
    assert fake.rate_limited == []


async def test_the_fake_answers_calls_past_slacks_limits_with_429_and_retry_after(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """Without our limiter, a burst of creates meets Slack's Tier 2 limit."""
    slack = SlackClient(fake.token, fake.api_url, session, rate_limit_retries=0)
    clock = FakeClock()
    fake.enforce_rate_limits(clock.now)
    for n in range(3):  # Tier 2 tolerates a small burst
        await slack.create_channel(f"inc-{n}-checkout")
    error = await failing(slack.create_channel("inc-9-checkout"))
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after is not None and error.retry_after >= 1
    assert [method for method, _ in fake.rate_limited] == ["conversations.create"]
