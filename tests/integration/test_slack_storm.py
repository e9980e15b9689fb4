"""Slack in an alert storm, through the real app on a fake clock: 100 incidents declared
at once. Every EOC page goes out at once, on the pages' own dispatcher, while the Slack
backlog (shown in `outbox_backlog{channel="slack"}`) drains at Slack's published rate
limits, enforced by the fake Slack as Slack does: no 429, calls of different incidents
in flight together, and at about the pace the limits allow.

With `max_wait: 0s` every call that is not due goes back to the outbox for its slot
rather than waiting inline on the clock: on a fake clock, concurrent inline waits cannot
be made to end when they would in real time, and the fake Slack would see them bunched
(the unit tests cover the inline waits on their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import DISPATCHER, SLACK_DISPATCHER, STORE
from firstresponder.app import build_app
from firstresponder.metrics import Metrics
from firstresponder.slack.limits import SLACK_RATES

from ..conftest import AiohttpClient
from ..factories import FakeClock, make_alert, make_payload
from ..fakes import FakePagerDuty
from ..fakes.slack import FakeSlack
from .support import post_alerts
from .test_slack_app import ALICE, BOB, CAROL, KEYS, slack_config, timeline

Client = TestClient[Any, Any]
INCIDENTS = 100  # the Slack calls of 100 incidents take about 300 fake seconds
BATCH = 50
DRAIN_LIMIT_S = 3600
GAUGE_EVERY_S = 5


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={ALICE, BOB, CAROL}) as fake:
        fake.enforce_rate_limits(clock.now)
        fake.hold_until_in_flight(2)
        yield fake


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    slack: FakeSlack,
    clock: FakeClock,
    metrics: Metrics,
) -> Client:
    announce = slack.add_channel("incidents")
    config = slack_config(
        tmp_path,
        pd,
        slack.api_url,
        announce,
        delivery={"batch": BATCH, "concurrency": 8, "max_wait": "0s"},
    )
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    )


async def declare_storm(app: Client, headers: dict[str, str]) -> None:
    """One notification per service, as Alertmanager groups them."""
    for n in range(INCIDENTS):
        labels = {"service": f"svc{n:03d}", "impact": "partial_disruption", "alertname": "Down"}
        payload = make_payload(make_alert(labels=labels), groupKey=f'{{}}:{{service="svc{n}"}}')
        answer = await post_alerts(app, payload, headers)
        assert len(answer["incidents"]) == 1


def backlog(metrics: Metrics, channel: str) -> float:
    value = metrics.registry.get_sample_value("firstresponder_outbox_backlog", {"channel": channel})
    return value if value is not None else -1.0


async def pending(app: Client, channel: str) -> int:
    stats = await app.app[STORE].outbox_stats([channel])
    return int(stats.get(channel, (0, None))[0])


def eoc_triggers(pd: FakePagerDuty) -> int:
    return sum(
        1
        for event in pd.events
        if event["routing_key"] == KEYS["eoc"] and event["event_action"] == "trigger"
    )


async def drain_slack(app: Client, clock: FakeClock, metrics: Metrics) -> list[float]:
    """Run the Slack dispatcher a pass a second (as its loop does) until nothing is left;
    the backlog gauge as the scheduler's tick refreshes it, every few seconds."""
    seen = []
    for second in range(DRAIN_LIMIT_S):
        while await app.app[SLACK_DISPATCHER].pass_once() >= BATCH:
            pass
        if second % GAUGE_EVERY_S == 0:
            await app.app[DISPATCHER].refresh_gauges()
            seen.append(backlog(metrics, "slack"))
            if seen[-1] == 0:
                break
        clock.advance(seconds=1)
    return seen


async def test_a_storm_pages_every_eoc_at_once_while_slack_drains_within_its_limits(
    app: Client,
    pd: FakePagerDuty,
    slack: FakeSlack,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
) -> None:
    announce = slack.channel_named("incidents")
    assert announce is not None
    start = clock.now()
    await declare_storm(app, hook_headers)

    await app.app[DISPATCHER].refresh_gauges()
    queued = await pending(app, "slack")
    assert queued >= 5 * INCIDENTS  # create, topic, purpose, card, announcement each
    assert backlog(metrics, "slack") == queued, "the storm's Slack backlog is visible"

    # Pages never wait behind Slack: with a Slack pass under way, every EOC is paged.
    slack_pass = asyncio.create_task(app.app[SLACK_DISPATCHER].pass_once())
    while await app.app[DISPATCHER].pass_once():
        pass
    assert eoc_triggers(pd) == INCIDENTS
    assert await pending(app, "pager") == 0
    assert await pending(app, "slack") > queued - 2 * BATCH, "Slack had hardly begun"
    await asyncio.wait_for(slack_pass, 30)

    seen = await drain_slack(app, clock, metrics)
    assert seen[-1] == 0, f"Slack backlog left after {DRAIN_LIMIT_S} s: {seen[-1]}"
    assert slack.rate_limited == [], "the limiter kept every call under Slack's limits"

    # Every incident got its channel, topic and announcement.
    channels = [c for c in slack.channels.values() if c.name.startswith("inc-")]
    assert len(channels) == INCIDENTS
    assert all(c.topic and c.messages for c in channels)
    assert len(announce.messages) == INCIDENTS

    # An incident whose channel waited its turn says so, and not that Slack failed.
    delayed = [e for e in await timeline(app, INCIDENTS) if e["kind"] == "slack_delayed"]
    assert [e["message"].split(" (")[0] for e in delayed] == ["Slack create_channel waits its turn"]
    assert "rate limit (20/min)" in delayed[0]["message"]

    # Calls for different incidents were in flight together.
    assert slack.max_in_flight >= 2, slack.widest
    assert len(set(slack.widest)) >= 2, slack.widest

    # Drained at the rate limits: about one channel created per Tier 2 interval.
    tier_2 = SLACK_RATES["conversations.create"].interval
    floor = tier_2 * (INCIDENTS - 1)
    took = clock.now() - start
    assert floor <= took <= floor * 1.5, (took, floor)
    assert max(seen) <= queued + 2 * INCIDENTS  # what the deliveries added, at most
