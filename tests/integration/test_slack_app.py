"""Slack through the real app: a fake Slack Web API, a fake PagerDuty and a fake clock.

`settle()` runs one scheduler tick, then delivers pages, then Slack calls: each outbox
channel has its own dispatcher. Inline retries sleep on the fake clock, so a test that
cares about the exact time sets the clock before each settle.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import DISPATCHER, SCHEDULER, SLACK_DISPATCHER
from firstresponder.app import build_app
from firstresponder.config import Config, load_config
from firstresponder.metrics import Metrics

from ..conftest import AiohttpClient
from ..factories import FakeClock, make_alert, make_payload, write_config
from ..fakes import CA_FILE, FakePagerDuty
from ..fakes.slack import TOKEN, FakeChannel, FakeSlack
from .support import call, metric, post_alerts, slack_signed

Client = TestClient[Any, Any]
KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
SIGNING_SECRET = "slack-signing-secret-for-tests"
ALICE, BOB, CAROL = "UALICE001", "UBOB00001", "UCAROL001"


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={ALICE, BOB, CAROL}) as fake:
        yield fake


@pytest.fixture
def announce(slack: FakeSlack) -> FakeChannel:
    return slack.add_channel("incidents")


def slack_config(
    tmp_path: Path, pd: FakePagerDuty, api_url: str, announce: FakeChannel, **slack: Any
) -> Config:
    return load_config(
        write_config(
            tmp_path,
            escalation={"enabled": True},
            pagerduty={"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
            slack={
                "api_url": api_url,
                "bot_token": TOKEN,
                "signing_secret": SIGNING_SECRET,
                "announce_channels": [announce.id],
                "responders": [ALICE],
                "users": {"Bob Oncall": BOB},
                "bridge_url": "https://meet.example/inc-{number}",
                "handoff_times": ["08:00", "20:00"],
                **slack,
            },
        )
    )


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    slack: FakeSlack,
    announce: FakeChannel,
    clock: FakeClock,
    metrics: Metrics,
) -> Client:
    config = slack_config(tmp_path, pd, slack.api_url, announce)
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    )


async def settle(client: Client) -> None:
    await client.app[SCHEDULER].tick()
    while await client.app[DISPATCHER].pass_once():
        pass
    while await client.app[SLACK_DISPATCHER].pass_once():
        pass


def alert(
    impact: str = "partial_disruption", name: str = "CartErrors", status: str = "firing"
) -> dict[str, Any]:
    return make_alert(status, labels={"service": "cart", "impact": impact, "alertname": name})


async def declare(
    client: Client, headers: dict[str, str], impact: str = "partial_disruption"
) -> int:
    answer = await post_alerts(client, make_payload(alert(impact)), headers)
    [incident_id] = answer["incidents"]
    await settle(client)
    return int(incident_id)


async def timeline(client: Client, incident_id: int) -> list[dict[str, Any]]:
    body = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    return list(body["entries"])


def texts(channel: FakeChannel) -> list[str]:
    return [message.text for message in channel.messages]


def all_text(channel: FakeChannel) -> str:
    return json.dumps([m.blocks for m in channel.messages]) + "\n".join(texts(channel))


# --- on declaration ---------------------------------------------------------------------


async def test_a_declared_incident_gets_its_channel_topic_invitations_and_announcement(
    app: Client, slack: FakeSlack, announce: FakeChannel, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers)
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None, [c.name for c in slack.channels.values()]

    assert channel.topic.startswith("S2 partial service disruption · investigating · IC ")
    assert f"Bridge https://meet.example/inc-{incident_id}" in channel.topic
    assert channel.purpose.startswith(f"Incident #{incident_id} (cart): ")
    assert "IC: not engaged yet. Tech lead: " in channel.purpose
    assert ALICE in channel.members

    card, *paged = channel.messages
    assert sorted(m.text for m in paged) == [
        "EOC paged through pagerduty: S2 declared",
        "IMOC paged through pagerduty: S2 declared",
    ], "pages are said too"
    assert card.text.startswith(f"[S2] Incident #{incident_id} on cart: ")
    [button] = [b for b in card.blocks if b["type"] == "actions"]
    assert button["elements"][0]["value"] == str(incident_id)

    [announced] = announce.messages
    body = json.dumps(announced.blocks)
    assert f"<#{channel.id}>" in announced.text + body, "links the incident channel"
    assert f"https://meet.example/inc-{incident_id}" in body
    assert f"http://fr.example/api/v1/incidents/{incident_id}" in body
    assert "*Why:*" in body, "the classification evidence"
    assert "__FIRSTRESPONDER_CHANNEL__" not in body + announced.text

    order = [c.method for c in slack.calls]
    assert order[:4] == [
        "conversations.create",
        "conversations.setTopic",
        "conversations.setPurpose",
        "conversations.invite",
    ]
    created = [e for e in await timeline(app, incident_id) if e["kind"] == "slack_channel_created"]
    assert created[0]["data"] == {"channel_id": channel.id, "name": channel.name, "attempts": 1}


async def test_a_taken_name_gets_another_valid_name(
    app: Client, slack: FakeSlack, hook_headers: dict[str, str]
) -> None:
    slack.add_channel("inc-1-cart")
    incident_id = await declare(app, hook_headers)
    assert incident_id == 1
    channel = slack.channel_named("inc-1-cart-2")
    assert channel is not None
    assert channel.topic and channel.messages, "everything went to the channel that was created"
    assert slack.channel_named("inc-1-cart") is not None
    assert not slack.channel_named("inc-1-cart").messages  # type: ignore[union-attr]


async def test_a_short_429_is_retried_by_slack_sdk_after_retry_after(
    app: Client, slack: FakeSlack, hook_headers: dict[str, str]
) -> None:
    slack.fail_next(429, retry_after=1)
    incident_id = await declare(app, hook_headers)
    first, second = slack.calls_to("conversations.create")
    assert second.at - first.at >= 0.9, "waited as Slack asked"
    assert slack.channel_named(f"inc-{incident_id}-cart") is not None


async def test_a_long_429_goes_back_to_the_outbox_and_is_retried_when_slack_said(
    app: Client, slack: FakeSlack, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    slack.fail_next(429, retry_after=120)
    incident_id = await declare(app, hook_headers)
    assert slack.channel_named(f"inc-{incident_id}-cart") is None
    delayed = [e for e in await timeline(app, incident_id) if e["kind"] == "slack_delayed"]
    assert "rate limited" in delayed[0]["message"]

    clock.advance(seconds=60)
    await settle(app)
    assert len(slack.calls_to("conversations.create")) == 1, "not before Retry-After"
    clock.advance(seconds=61)
    await settle(app)
    assert slack.channel_named(f"inc-{incident_id}-cart") is not None


async def test_slack_down_for_the_whole_incident_never_delays_a_page(
    app: Client,
    slack: FakeSlack,
    pd: FakePagerDuty,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    slack.fail_next(503, times=10_000)
    declared_at = clock.now()
    incident_id = await declare(app, hook_headers, impact="degraded")  # S3: the EOC first
    assert [e["event_action"] for e in pd.events] == ["trigger"]

    clock.current = declared_at + timedelta(minutes=15) - timedelta(seconds=1)
    await settle(app)
    assert len(pd.events) == 1
    clock.current = declared_at + timedelta(minutes=15)
    await settle(app)
    assert [e["dedup_key"] for e in pd.events][1:] == [f"firstresponder-{incident_id}-imoc"]

    await call(app, "POST", f"/api/v1/incidents/{incident_id}/resolve", 200, headers=api_headers)
    await settle(app)
    assert [e["event_action"] for e in pd.events][2:] == ["resolve", "resolve"]
    assert not slack.channels or not any(c.name.startswith("inc-") for c in slack.channels.values())
    kinds = [e["kind"] for e in await timeline(app, incident_id)]
    assert "slack_delayed" in kinds, "Slack's failure is on the timeline"
    await app.app[SCHEDULER].tick()  # refreshes the outbox gauges
    assert (
        await metric(
            app, "firstresponder_delivery_failures_total", channel="slack", kind="transient"
        )
        > 0
    )
    assert await metric(app, "firstresponder_outbox_backlog", channel="slack") > 0
    assert await metric(app, "firstresponder_outbox_backlog", channel="pager") == 0


async def test_a_refused_channel_is_a_permanent_failure_on_the_timeline(
    app: Client, slack: FakeSlack, announce: FakeChannel, hook_headers: dict[str, str]
) -> None:
    slack.refuse("conversations.create", "restricted_action")
    incident_id = await declare(app, hook_headers)
    entries = await timeline(app, incident_id)
    failed = [e["message"] for e in entries if e["kind"] == "slack_failed"]
    assert (
        failed[0]
        == "Slack create_channel failed for good: slack conversations.create: restricted_action"
    )
    assert any("has no Slack channel" in message for message in failed[1:])
    [announced] = announce.messages
    assert f"#inc-{incident_id}-cart (not created)" in announced.text
    assert (
        await metric(app, "firstresponder_slack_calls_total", op="create_channel", result="failed")
        == 1
    )
    assert (
        await metric(
            app, "firstresponder_delivery_failures_total", channel="slack", kind="permanent"
        )
        >= 1
    )


async def test_a_page_pagerduty_refuses_is_said_in_the_channel(
    app: Client, slack: FakeSlack, pd: FakePagerDuty, hook_headers: dict[str, str]
) -> None:
    pd.fail_next(400, times=2)
    incident_id = await declare(app, hook_headers)
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None
    failed = [t for t in texts(channel) if "failed for good" in t]
    assert sorted(t.split(":")[0] for t in failed) == [
        "Trigger of EOC through pagerduty failed for good",
        "Trigger of IMOC through pagerduty failed for good",
    ]


# --- during -----------------------------------------------------------------------------


async def test_changes_that_matter_are_posted_and_the_topic_kept_current(
    app: Client,
    slack: FakeSlack,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    incident_id = await declare(app, hook_headers, impact="degraded")
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None
    base = f"/api/v1/incidents/{incident_id}"

    clock.advance(minutes=15)
    await settle(app)  # nobody acknowledged: escalated to the IMOC
    await call(app, "POST", f"{base}/ack", 200, headers=api_headers, json={"by": CAROL})
    await call(
        app,
        "POST",
        f"{base}/roles",
        200,
        headers=api_headers,
        json={"role": "imoc", "person": "Bob Oncall"},
    )
    await post_alerts(app, make_payload(alert("outage", "CartDown")), hook_headers)  # S1
    await call(app, "POST", f"{base}/state", 200, headers=api_headers, json={"state": "identified"})
    resolved = [alert("degraded", status="resolved"), alert("outage", "CartDown", "resolved")]
    await post_alerts(app, make_payload(*resolved), hook_headers)
    await settle(app)

    said = "\n".join(texts(channel))
    for expected in (
        "Escalated",
        f"Acknowledged by <@{CAROL}>",
        "Bob Oncall",
        "S1",
        "identified",
        "recovered",
    ):
        assert expected.lower() in said.lower(), (expected, said)
    assert channel.topic.startswith(
        f"S1 service disruption (outage) · monitoring · IC <@{BOB}> · Lead <@{CAROL}>"
    ), "roles mentioned through the users map"
    assert BOB in channel.members, "a person given a role is invited (by the users map)"
    assert CAROL in channel.members, "acknowledging makes you EOC, and invited"


async def test_status_update_reminders_follow_the_severity_cadence(
    app: Client,
    slack: FakeSlack,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    incident_id = await declare(app, hook_headers)  # S2: every 30 minutes
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None

    def reminders() -> list[str]:
        return [t for t in texts(channel) if "status update" in t and "is due" in t]

    clock.advance(minutes=29)
    await settle(app)
    assert reminders() == []
    clock.advance(minutes=1)
    await settle(app)
    assert len(reminders()) == 1
    assert reminders()[0].startswith("<!here> a status update for incident")

    await call(
        app,
        "POST",
        f"/api/v1/incidents/{incident_id}/notes",
        200,
        headers=api_headers,
        json={"text": "customers told"},
    )
    clock.advance(minutes=29)
    await settle(app)
    assert len(reminders()) == 1, "a status update restarts the clock"
    clock.advance(minutes=1)
    await settle(app)
    assert len(reminders()) == 2


async def test_the_shift_handoff_reminder_comes_at_the_configured_time(
    app: Client, slack: FakeSlack, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers)
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None
    now = clock.now()
    handoffs = [now.replace(hour=h, minute=0, second=0, microsecond=0) for h in (8, 20)]
    handoffs += [h + timedelta(days=1) for h in handoffs]
    first = min(h for h in handoffs if h > now)
    clock.current = first - timedelta(seconds=1)
    await settle(app)
    assert not [t for t in texts(channel) if t.startswith("Shift handoff")]
    clock.current = first
    await settle(app)
    [handoff] = [m for m in channel.messages if m.text.startswith("Shift handoff")]
    assert "Outgoing Incident Commander identifies an incoming Incident Commander" in json.dumps(
        handoff.blocks
    )


async def test_resolution_posts_the_after_incident_checklist(
    app: Client,
    slack: FakeSlack,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    incident_id = await declare(app, hook_headers)
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None
    await call(app, "POST", f"/api/v1/incidents/{incident_id}/resolve", 200, headers=api_headers)
    await settle(app)
    [checklist] = [m for m in channel.messages if "After-incident checklist" in m.text]
    body = json.dumps(checklist.blocks)
    assert "alert silences have been removed" in body
    assert "Root Cause Analysis" in body
    assert "5 business days" in body and "*due " in body
    assert f"/api/v1/incidents/{incident_id}/postmortem" in body

    before = len(channel.messages)
    clock.advance(hours=24)
    await settle(app)
    assert len(channel.messages) == before, "no reminders after resolution"


# --- slash commands and the button ------------------------------------------------------


async def command(
    client: Client, text: str, channel_id: str = "CELSEWHERE", user: str = ALICE
) -> str:
    body = urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_id": user,
            "channel_id": channel_id,
            "team_id": "T1",
            "response_url": "https://hooks.slack.example/commands/1",
        }
    )
    answer = await call(
        client,
        "POST",
        "/api/v1/slack/commands",
        200,
        data=body,
        headers=slack_signed(body, SIGNING_SECRET),
    )
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


async def test_slash_commands_in_the_incident_channel_act_on_its_incident(
    app: Client, slack: FakeSlack, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers)
    channel = slack.channel_named(f"inc-{incident_id}-cart")
    assert channel is not None

    assert await command(app, "ack", channel.id) == f"Incident #{incident_id}: acknowledged."
    assert await command(app, "severity S1", channel.id) == f"Incident #{incident_id}: severity S1."
    assert await command(app, f"role imoc <@{BOB}|bob>", channel.id) == (
        f"Incident #{incident_id}: IMOC <@{BOB}>."
    )
    assert (
        await command(app, "state identified", channel.id)
        == f"Incident #{incident_id}: state identified."
    )
    assert (
        await command(app, "note rolled back the canary", channel.id)
        == f"Incident #{incident_id}: note added."
    )
    status = await command(app, "status", channel.id)
    assert status.startswith(f"#{incident_id} S1 cart: ")
    assert f"acknowledged by <@{ALICE}>" in status and f"IC <@{BOB}>" in status

    incident = await call(app, "GET", f"/api/v1/incidents/{incident_id}", 200)
    assert incident["severity"] == "S1" and incident["state"] == "identified"
    assert incident["roles"] == {"eoc": ALICE, "imoc": BOB}
    kinds = [e["kind"] for e in await timeline(app, incident_id)]
    assert "note" in kinds


async def test_slash_commands_elsewhere_name_the_incident_or_declare_one(app: Client) -> None:
    answer = await command(app, "declare payments card payments failing --impact outage")
    assert answer == "Incident #1 declared on payments: service disruption (outage), S1."
    again = await command(app, "declare payments still failing")
    assert (
        again == "Not declared: incident 1 is already open for service=payments; add to it instead"
    )
    assert (await command(app, "ack")).startswith("which incident?")
    assert await command(app, "#1 ack") == "Incident #1: acknowledged."
    assert await command(app, "#1 ack") == "Incident #1: nothing to change (acknowledged already)."
    assert await command(app, "#7 ack") == "Incident #7 does not exist."
    assert (await command(app, "frobnicate")).startswith("unknown command 'frobnicate'")
    assert (await command(app, "status")).startswith("#1 S1 payments: ")


async def test_the_acknowledge_button_acknowledges(
    app: Client, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers)
    payload = {
        "type": "block_actions",
        "user": {"id": BOB, "username": "bob"},
        "channel": {"id": "C1"},
        "response_url": "https://hooks.slack.example/actions/1",
        "actions": [{"action_id": "firstresponder_ack", "value": str(incident_id)}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await app.post(
        "/api/v1/slack/interactions", data=body, headers=slack_signed(body, SIGNING_SECRET)
    )
    assert response.status == 200
    incident = await call(app, "GET", f"/api/v1/incidents/{incident_id}", 200)
    assert incident["acknowledged_by"] == BOB


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"X-Slack-Signature": "v0=" + "0" * 64}, "bad signature"),
        ({"__stale__": "1"}, "stale timestamp"),
        ({"__secret__": "another-secret"}, "bad signature"),
        ({"__drop__": "X-Slack-Signature"}, "missing header X-Slack-Signature"),
    ],
)
async def test_unsigned_stale_or_forged_requests_are_refused(
    app: Client, headers: dict[str, str], problem: str
) -> None:
    body = urlencode({"command": "/incident", "text": "declare cart broken", "user_id": ALICE})
    sent = slack_signed(
        body,
        headers.get("__secret__", SIGNING_SECRET),
        int(time.time()) - 301 if "__stale__" in headers else None,
    )
    sent.update({k: v for k, v in headers.items() if not k.startswith("__")})
    sent.pop(headers.get("__drop__", ""), None)
    for path in ("/api/v1/slack/commands", "/api/v1/slack/interactions"):
        answer = await call(app, "POST", path, 401, data=body, headers=sent)
        assert answer["error"].startswith(problem), answer
    incidents = await call(app, "GET", "/api/v1/incidents", 200)
    assert incidents["incidents"] == [], "nothing was declared"


async def test_without_a_signing_secret_the_endpoints_are_not_there(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    slack: FakeSlack,
    announce: FakeChannel,
) -> None:
    config = slack_config(tmp_path, pd, slack.api_url, announce)
    config = load_config(
        write_config(tmp_path, slack={"api_url": slack.api_url, "bot_token": TOKEN})
    )
    client = await aiohttp_client(build_app(config, run_scheduler=False))
    body = "text=status"
    answer = await call(
        client,
        "POST",
        "/api/v1/slack/commands",
        404,
        data=body,
        headers=slack_signed(body, SIGNING_SECRET),
    )
    assert "slack.signing_secret" in answer["error"]
