"""Tickets through the real app: a fake Jira (Cloud and Data Center) or a fake GitHub, a
fake Slack, a fake clock. `settle()` runs one scheduler tick, then tracker calls, then
Slack calls (the tracker first, so a `{ticket}` channel name finds its key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import SCHEDULER, SLACK_DISPATCHER, TICKET_DISPATCHER
from firstresponder.app import build_app
from firstresponder.config import load_config
from firstresponder.metrics import Metrics

from ..conftest import AiohttpClient
from ..factories import FakeClock, make_alert, make_payload, write_config
from ..fakes.github import REPO, FakeGitHub
from ..fakes.github import TOKEN as GH_TOKEN
from ..fakes.jira import EMAIL, FakeJira, adf_links, adf_text
from ..fakes.jira import TOKEN as JIRA_TOKEN
from ..fakes.slack import TOKEN as SLACK_TOKEN
from ..fakes.slack import FakeSlack
from .support import call, metric, post_alerts

Client = TestClient[Any, Any]
USERS_JIRA = {"Alice Oncall": "acct-alice", "Bob Manager": "acct-bob"}
USERS_GH = {"Alice Oncall": "alice", "Bob Manager": "bob"}


def tickets_section(fake: FakeJira | FakeGitHub, **extra: Any) -> dict[str, Any]:
    if isinstance(fake, FakeGitHub):
        base = {"tracker": "github", "repo": REPO, "token": GH_TOKEN, "users": USERS_GH}
    elif fake.cloud:
        base = {"tracker": "jira_cloud", "project": "IM", "email": EMAIL, "token": JIRA_TOKEN}
        base["users"] = USERS_JIRA
    else:
        base = {"tracker": "jira_dc", "project": "IM", "token": JIRA_TOKEN}
        base["users"] = {"Alice Oncall": "alice", "Bob Manager": "bob"}
    return {**base, "url": fake.url, **extra}


async def start(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    tickets: dict[str, Any],
    slack: dict[str, Any] | None = None,
) -> Client:
    extra = {"slack": slack} if slack else {}
    config = load_config(
        write_config(
            tmp_path,
            prometheus={"url": "http://prometheus.example:9090"},
            tickets=tickets,
            **extra,
        )
    )
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    )


async def settle(client: Client) -> None:
    await client.app[SCHEDULER].tick()
    while await client.app[TICKET_DISPATCHER].pass_once():
        pass
    if SLACK_DISPATCHER in client.app:
        while await client.app[SLACK_DISPATCHER].pass_once():
            pass


def alert(
    impact: str = "partial_disruption", status: str = "firing", name: str = "CartErrors"
) -> dict[str, Any]:
    return make_alert(status, labels={"service": "cart", "impact": impact, "alertname": name})


async def timeline_kinds(client: Client, incident_id: int) -> list[str]:
    body = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    return [entry["kind"] for entry in body["entries"]]


async def walk_through(client: Client, hook: dict[str, str], api: dict[str, str]) -> int:
    """Declare, acknowledge, bring in the IMOC, raise severity, recover, resolve."""
    answer = await post_alerts(client, make_payload(alert()), hook)
    [incident_id] = answer["incidents"]
    await settle(client)
    base = f"/api/v1/incidents/{incident_id}"
    await call(client, "POST", f"{base}/ack", 200, headers=api, json={"by": "Alice Oncall"})
    await settle(client)
    role = {"role": "imoc", "person": "Bob Manager"}
    await call(client, "POST", f"{base}/roles", 200, headers=api, json=role)
    await post_alerts(client, make_payload(alert("outage", name="CartDown")), hook)
    await settle(client)
    recovered = [alert(status="resolved"), alert("outage", "resolved", "CartDown")]
    await post_alerts(client, make_payload(*recovered), hook)
    await settle(client)
    await call(client, "POST", f"{base}/resolve", 200, headers=api, json={})
    await settle(client)
    return int(incident_id)


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "data-center"])
async def test_a_jira_ticket_follows_the_incident_from_declaration_to_resolution(
    cloud: bool,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    async with FakeJira(cloud=cloud) as jira:
        client = await start(aiohttp_client, tmp_path, clock, metrics, tickets_section(jira))
        incident_id = await walk_through(client, hook_headers, api_headers)

        [issue] = jira.issues.values()
        assert issue.summary.startswith(f"[S2] Incident {incident_id}: cart")
        description = adf_text(issue.description)
        assert "Severity S2; impact: partial service disruption" in description
        links = adf_links(issue.description) if cloud else [issue.description]
        assert any(f"/api/v1/incidents/{incident_id}" in link for link in links)
        assert any("prometheus.example:9090/graph" in link for link in links)
        # Labels follow severity and state; the issue is assigned to the owner (now the
        # IMOC) and closed by the "Done" transition.
        assert set(issue.labels) == {"incident", "severity-s1", "state-resolved"}
        assert issue.assignee == ("acct-bob" if cloud else "bob")
        assert issue.status == "Done"
        said = [adf_text(comment) for comment in issue.comments]
        assert any("Acknowledged by Alice Oncall" in text for text in said)
        assert any("Severity raised S2 → S1" in text for text in said)
        assert any("Bob Manager" in text and "IMOC" in text for text in said)
        reviews = [text for text in said if "post-incident review draft" in text]
        assert len(reviews) == 2, "once on recovery (monitoring), once on resolution"
        assert all("How can we identify the issue quicker?" in text for text in reviews)

        kinds = await timeline_kinds(client, incident_id)
        assert kinds.count("ticket_opened") == 1
        assert "ticket_failed" not in kinds and "ticket_delayed" not in kinds
        # one entry per delivered change: the comments, the assignments, the relabels,
        # the close
        assert kinds.count("ticket_updated") >= len(issue.comments) + 3
        assert (
            await metric(
                client,
                "firstresponder_ticket_calls_total",
                tracker="jira_cloud" if cloud else "jira_dc",
                op="create",
                result="delivered",
            )
            == 1
        )


async def test_a_github_issue_follows_the_incident(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    async with FakeGitHub() as gh:
        client = await start(aiohttp_client, tmp_path, clock, metrics, tickets_section(gh))
        incident_id = await walk_through(client, hook_headers, api_headers)

        issue = gh.issues[1]
        assert issue.title.startswith(f"[S2] Incident {incident_id}:")
        assert f"(http://fr.example/api/v1/incidents/{incident_id})" in issue.body
        assert set(issue.labels) == {"incident", "severity-s1", "state-resolved"}
        assert issue.assignees == ["bob", "alice"] or issue.assignees == ["bob"]
        assert issue.state == "closed" and issue.state_reason == "completed"
        assert sum("post-incident review draft" in text for text in issue.comments) == 2
        assert (
            await metric(
                client,
                "firstresponder_ticket_calls_total",
                tracker="github",
                op="close",
                result="delivered",
            )
            == 1
        )


async def test_a_rate_limited_tracker_is_retried_and_nothing_is_lost(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
) -> None:
    async with FakeGitHub() as gh:
        client = await start(aiohttp_client, tmp_path, clock, metrics, tickets_section(gh))
        gh.rate_limit_next(times=1, reset_in=2)
        gh.fail_next(429, times=1, retry_after=1)
        answer = await post_alerts(client, make_payload(alert()), hook_headers)
        [incident_id] = answer["incidents"]
        await settle(client)
        assert len(gh.issues) == 1, "opened after a 403 rate limit and a 429"
        assert [r.method for r in gh.requests].count("POST") == 3
        assert (
            await metric(
                client, "firstresponder_delivery_failures_total", channel="ticket", kind="transient"
            )
            >= 2
        )
        assert "ticket_opened" in await timeline_kinds(client, incident_id)


async def test_a_refused_field_fails_for_good_on_the_timeline(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
) -> None:
    async with FakeJira(cloud=True) as jira:
        tickets = tickets_section(jira, issue_type="Postmortem")  # not in the project
        client = await start(aiohttp_client, tmp_path, clock, metrics, tickets)
        answer = await post_alerts(client, make_payload(alert()), hook_headers)
        [incident_id] = answer["incidents"]
        await settle(client)
        body = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
        [failed] = [e for e in body["entries"] if e["kind"] == "ticket_failed"]
        assert "HTTP 400: issuetype: Specify a valid issue type" in failed["message"]
        assert JIRA_TOKEN not in json.dumps(body)
        assert jira.issues == {}


async def test_the_slack_channel_is_named_after_the_ticket(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
) -> None:
    async with FakeJira(cloud=True) as jira, FakeSlack() as slack:
        slack_section = {
            "api_url": slack.api_url,
            "bot_token": SLACK_TOKEN,
            "channel_template": "{ticket}-{service}",
        }
        client = await start(
            aiohttp_client, tmp_path, clock, metrics, tickets_section(jira), slack_section
        )
        answer = await post_alerts(client, make_payload(alert()), hook_headers)
        [incident_id] = answer["incidents"]
        await settle(client)  # ticket, then Slack
        channel = slack.channel_named("im-1-cart")
        assert channel is not None
        await settle(client)  # the channel's link, commented on the ticket
        assert any(channel.id in adf_text(c) for c in jira.issues["IM-1"].comments)


async def test_without_the_ticket_in_time_the_channel_takes_the_default_name(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    clock: FakeClock,
    metrics: Metrics,
    hook_headers: dict[str, str],
) -> None:
    async with FakeJira(cloud=True) as jira, FakeSlack() as slack:
        slack_section = {
            "api_url": slack.api_url,
            "bot_token": SLACK_TOKEN,
            "channel_template": "{ticket}-{service}",
        }
        tickets = tickets_section(jira, channel_wait="10s")
        client = await start(aiohttp_client, tmp_path, clock, metrics, tickets, slack_section)
        jira.fail_next(503, times=100)  # Jira is down
        answer = await post_alerts(client, make_payload(alert()), hook_headers)
        [incident_id] = answer["incidents"]
        for _ in range(10):  # inline retries sleep on the fake clock
            if slack.channel_named(f"inc-{incident_id}-cart") is not None:
                break
            clock.advance(seconds=20)
            while await client.app[SLACK_DISPATCHER].pass_once():
                pass
        assert slack.channel_named(f"inc-{incident_id}-cart") is not None
        assert jira.issues == {}
