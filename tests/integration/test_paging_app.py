"""Paging and escalation through the real app, a fake clock and a fake PagerDuty.

No real waits: the clock moves when a test says so, `Scheduler.tick()` fires what is due
and `Dispatcher.pass_once()` delivers the outbox (tenacity sleeps on the fake clock).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import DISPATCHER, SCHEDULER, STORE
from firstresponder.app import build_app
from firstresponder.config import Config, load_config
from firstresponder.metrics import Metrics
from firstresponder.store.sql import SqlStore

from ..conftest import AiohttpClient
from ..factories import FakeClock, make_alert, make_payload, write_config
from ..fakes import CA_FILE, FakePagerDuty
from .support import call, metric, post_alerts

Client = TestClient[Any, Any]
KEYS = {
    "eoc": "eoc0routing0key00000000000000000",
    "imoc": "imoc0routing0key0000000000000000",
    "cmoc": "cmoc0routing0key0000000000000000",
}
SECRET, NEW_SECRET = "pd-webhook-secret-old", "pd-webhook-secret-new"


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


def paging_config(tmp_path: Path, pd: FakePagerDuty, **escalation: Any) -> Config:
    return load_config(
        write_config(
            tmp_path,
            escalation={"enabled": True, **escalation},
            pagerduty={
                "events_url": pd.url,
                "ca_file": str(CA_FILE),
                "routing_keys": KEYS,
                "webhook_secrets": [SECRET, NEW_SECRET],
            },
        )
    )


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    clock: FakeClock,
    metrics: Metrics,
) -> Client:
    config = paging_config(tmp_path, pd)
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    )


async def settle(client: Client) -> None:
    """One scheduler tick, then deliver everything due."""
    await client.app[SCHEDULER].tick()
    while await client.app[DISPATCHER].pass_once():
        pass


def alert(impact: str = "degraded", service: str = "cart") -> dict[str, Any]:
    return make_alert(labels={"service": service, "impact": impact, "alertname": "CartErrors"})


async def declare(client: Client, headers: dict[str, str], impact: str = "degraded") -> int:
    answer = await post_alerts(client, make_payload(alert(impact)), headers)
    [incident_id] = answer["incidents"]
    await settle(client)
    return int(incident_id)


def triggers(pd: FakePagerDuty) -> list[tuple[str, str]]:
    """(role of the routing key, dedup_key) of every trigger PagerDuty accepted."""
    role = {key: name for name, key in KEYS.items()}
    return [
        (role[e["routing_key"]], e["dedup_key"])
        for e in pd.events
        if e["event_action"] == "trigger"
    ]


async def kinds(client: Client, incident_id: int) -> list[str]:
    body = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    return [e["kind"] for e in body["entries"]]


# --- who is paged, and when -------------------------------------------------------------


async def test_a_declaration_wakes_the_pages_dispatcher(
    app: Client, hook_headers: dict[str, str]
) -> None:
    """The EOC page leaves as soon as the declaration commits, not at the next interval."""
    dispatcher = app.app[DISPATCHER]
    assert not dispatcher.woken
    await post_alerts(app, make_payload(alert()), hook_headers)
    assert dispatcher.woken


async def test_no_ack_pages_the_imoc_exactly_at_the_timeout(
    app: Client, pd: FakePagerDuty, clock: FakeClock, hook_headers: dict[str, str], metrics: Metrics
) -> None:
    declared_at = clock.now()
    incident_id = await declare(app, hook_headers)
    assert triggers(pd) == [("eoc", f"firstresponder-{incident_id}-eoc")]

    clock.current = declared_at + timedelta(minutes=15) - timedelta(seconds=1)
    await settle(app)
    assert len(triggers(pd)) == 1, "escalated before the timeout"

    clock.current = declared_at + timedelta(minutes=15)
    await settle(app)
    assert triggers(pd)[1:] == [("imoc", f"firstresponder-{incident_id}-imoc")]
    assert "escalated" in await kinds(app, incident_id)
    assert await metric(app, "firstresponder_escalations_total", reason="ack_timeout") == 1
    assert await metric(app, "firstresponder_escalation_lag_seconds_count") == 1
    assert await metric(app, "firstresponder_escalation_lag_seconds_sum") == 0

    clock.advance(hours=2)
    await settle(app)
    assert len(triggers(pd)) == 2, "an escalation fires once"


async def test_ack_in_time_means_no_escalation(
    app: Client,
    pd: FakePagerDuty,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
    metrics: Metrics,
) -> None:
    incident_id = await declare(app, hook_headers)
    clock.advance(minutes=10)
    await call(
        app,
        "POST",
        f"/api/v1/incidents/{incident_id}/ack",
        200,
        headers=api_headers,
        json={"by": "alice"},
    )
    await call(
        app,
        "POST",
        f"/api/v1/incidents/{incident_id}/state",
        200,
        headers=api_headers,
        json={"state": "identified"},
    )
    await settle(app)
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge"]
    assert pd.incidents[0].status == "acknowledged"
    clock.advance(hours=3)
    await settle(app)
    assert len(triggers(pd)) == 1
    assert "escalated" not in await kinds(app, incident_id)
    assert await metric(app, "firstresponder_time_to_acknowledge_seconds_sum", severity="S3") == 600


async def test_ack_then_investigating_too_long_pages_the_imoc(
    app: Client,
    pd: FakePagerDuty,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
    metrics: Metrics,
) -> None:
    incident_id = await declare(app, hook_headers)
    clock.advance(minutes=5)
    acked_at = clock.now()
    await call(
        app, "POST", f"/api/v1/incidents/{incident_id}/ack", 200, headers=api_headers, json={}
    )
    clock.current = acked_at + timedelta(minutes=30) - timedelta(seconds=1)
    await settle(app)
    assert len(triggers(pd)) == 1
    clock.current = acked_at + timedelta(minutes=30)
    await settle(app)
    assert triggers(pd)[1:] == [("imoc", f"firstresponder-{incident_id}-imoc")]
    assert (
        await metric(app, "firstresponder_escalations_total", reason="investigating_timeout") == 1
    )


async def test_s1_pages_eoc_imoc_and_cmoc_at_once(
    app: Client, pd: FakePagerDuty, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers, impact="outage")
    assert sorted(triggers(pd)) == [
        ("cmoc", f"firstresponder-{incident_id}-cmoc"),
        ("eoc", f"firstresponder-{incident_id}-eoc"),
        ("imoc", f"firstresponder-{incident_id}-imoc"),
    ]
    assert len(pd.incidents) == 3
    event = pd.events[0]
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"].startswith("[S1] cart")
    assert any(link["href"].endswith(f"/api/v1/incidents/{incident_id}") for link in event["links"])


async def test_resolution_is_mirrored_to_every_page(
    app: Client,
    pd: FakePagerDuty,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
    clock: FakeClock,
    metrics: Metrics,
) -> None:
    incident_id = await declare(app, hook_headers, impact="partial_disruption")
    clock.advance(minutes=42)
    await call(
        app, "POST", f"/api/v1/incidents/{incident_id}/resolve", 200, headers=api_headers, json={}
    )
    await settle(app)
    assert sorted(e["event_action"] for e in pd.events) == [
        "resolve",
        "resolve",
        "trigger",
        "trigger",
    ]
    assert all(i.status == "resolved" for i in pd.incidents)
    assert await metric(app, "firstresponder_time_to_resolve_seconds_sum", severity="S2") == 42 * 60


# --- delivery against a failing PagerDuty -----------------------------------------------


async def test_three_500s_then_success_is_one_delivered_trigger_and_one_incident(
    app: Client, pd: FakePagerDuty, hook_headers: dict[str, str], metrics: Metrics
) -> None:
    pd.fail_next(500, times=3)
    incident_id = await declare(app, hook_headers)
    assert len(pd.requests_to("/v2/enqueue")) == 4
    assert len(pd.incidents) == 1
    rows = await _outbox(app, incident_id)
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 4)]
    assert (
        await metric(
            app,
            "firstresponder_pages_total",
            target="pagerduty",
            action="trigger",
            result="delivered",
        )
        == 1
    )
    assert (
        await metric(
            app, "firstresponder_delivery_failures_total", channel="pager", kind="transient"
        )
        == 3
    )
    assert (await kinds(app, incident_id)).count("paged") == 1


async def test_429_waits_as_told(
    app: Client, pd: FakePagerDuty, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    pd.fail_next(429, retry_after=7)
    started = clock.now()
    incident_id = await declare(app, hook_headers)
    assert len(pd.requests_to("/v2/enqueue")) == 2
    body = await call(app, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    [paged] = [e for e in body["entries"] if e["kind"] == "paged"]
    waited = datetime.fromisoformat(paged["at"]) - started
    assert timedelta(seconds=7) <= waited < timedelta(seconds=8)


async def test_400_is_a_visible_permanent_failure_not_retried(
    app: Client, pd: FakePagerDuty, clock: FakeClock, hook_headers: dict[str, str], metrics: Metrics
) -> None:
    pd.fail_next(
        400,
        body={
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect"],
        },
    )
    incident_id = await declare(app, hook_headers)
    clock.advance(minutes=5)
    await settle(app)
    assert len(pd.requests_to("/v2/enqueue")) == 1
    assert [r["status"] for r in await _outbox(app, incident_id)] == ["failed"]
    body = await call(app, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    [failed] = [e for e in body["entries"] if e["kind"] == "page_failed"]
    assert "400" in failed["message"] and "routing_key" in failed["message"]
    assert KEYS["eoc"] not in json.dumps(body)
    assert (
        await metric(
            app, "firstresponder_pages_total", target="pagerduty", action="trigger", result="failed"
        )
        == 1
    )
    assert (
        await metric(
            app, "firstresponder_delivery_failures_total", channel="pager", kind="permanent"
        )
        == 1
    )


async def test_a_long_outage_delays_the_page_visibly_and_loses_nothing(
    app: Client, pd: FakePagerDuty, clock: FakeClock, hook_headers: dict[str, str], metrics: Metrics
) -> None:
    pd.fail_next(503, times=1000)
    incident_id = await declare(app, hook_headers)
    assert [r["status"] for r in await _outbox(app, incident_id)] == ["pending"]
    assert "page_delayed" in await kinds(app, incident_id)
    clock.advance(minutes=3)
    await settle(app)
    assert await metric(app, "firstresponder_outbox_backlog", channel="pager") == 1
    assert await metric(app, "firstresponder_outbox_oldest_pending_seconds", channel="pager") >= 180
    pd.recover()
    for _ in range(10):  # backoff is at most 5 minutes
        clock.advance(minutes=5)
        await settle(app)
    assert [r["status"] for r in await _outbox(app, incident_id)][0] == "delivered"
    # one PagerDuty incident for the EOC; the IMOC was paged too: nobody acknowledged
    assert [i.dedup_key for i in pd.incidents] == [
        f"firstresponder-{incident_id}-eoc",
        f"firstresponder-{incident_id}-imoc",
    ]
    assert (await kinds(app, incident_id)).count("page_delayed") == 1
    assert await metric(app, "firstresponder_outbox_backlog", channel="pager") == 0


async def _outbox(client: Client, incident_id: int) -> list[dict[str, Any]]:
    store = client.app[STORE]
    assert isinstance(store, SqlStore)
    return await store.transact(lambda uow: uow.outbox_of(incident_id))


# --- PagerDuty webhooks v3 --------------------------------------------------------------


def _signed(body: bytes, *secrets: str) -> dict[str, str]:
    signatures = ",".join(
        "v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets
    )
    return {"X-PagerDuty-Signature": signatures, "Content-Type": "application/json"}


def _event(kind: str, key: str, who: str = "Alice") -> bytes:
    return json.dumps(
        {
            "event": {
                "id": "01EVENT",
                "event_type": kind,
                "resource_type": "incident",
                "agent": {"summary": who, "type": "user_reference"},
                "data": {"id": "PABC", "number": 812, "incident_key": key},
            }
        }
    ).encode()


async def test_pagerduty_webhook_acknowledges_once_even_when_replayed(
    app: Client, pd: FakePagerDuty, hook_headers: dict[str, str], clock: FakeClock
) -> None:
    incident_id = await declare(app, hook_headers)
    body = _event("incident.acknowledged", f"firstresponder-{incident_id}-eoc")
    headers = {**_signed(body, SECRET), "X-Webhook-Id": "delivery-1"}
    path = "/api/v1/pagerduty/webhook"
    answer = await call(app, "POST", path, 200, data=body, headers=headers)
    assert answer == {"status": "applied", "incident_id": incident_id}
    again = await call(app, "POST", path, 200, data=body, headers=headers)
    assert again["status"] == "duplicate"
    incident = await call(app, "GET", f"/api/v1/incidents/{incident_id}", 200)
    assert incident["acknowledged_by"] == "Alice (PagerDuty)"
    assert (await kinds(app, incident_id)).count("acknowledged") == 1
    clock.advance(minutes=20)  # past the ack timeout, short of the investigating one
    await settle(app)
    assert len(triggers(pd)) == 1, "acknowledged in PagerDuty: no escalation"


async def test_pagerduty_webhook_signatures(app: Client, hook_headers: dict[str, str]) -> None:
    incident_id = await declare(app, hook_headers)
    body = _event("incident.acknowledged", f"firstresponder-{incident_id}-eoc")
    path = "/api/v1/pagerduty/webhook"
    bad = await call(app, "POST", path, 401, data=body, headers=_signed(body, "wrong"))
    assert "X-PagerDuty-Signature" in bad["error"]
    await call(app, "POST", path, 401, data=body, headers={"Content-Type": "application/json"})
    tampered = body.replace(b"Alice", b"Mallory")
    await call(app, "POST", path, 401, data=tampered, headers=_signed(body, SECRET))
    # during a rotation PagerDuty signs with both; either configured secret will do
    rotated = await call(
        app, "POST", path, 200, data=body, headers=_signed(body, "retired", NEW_SECRET)
    )
    assert rotated["status"] == "applied"


async def test_pagerduty_webhook_resolve_and_foreign_events(
    app: Client, pd: FakePagerDuty, hook_headers: dict[str, str]
) -> None:
    incident_id = await declare(app, hook_headers, impact="partial_disruption")
    path = "/api/v1/pagerduty/webhook"
    for body, status in (
        (_event("incident.resolved", "someone-elses-key"), "ignored"),
        (_event("incident.annotated", f"firstresponder-{incident_id}-eoc"), "ignored"),
        (_event("incident.acknowledged", "firstresponder-999999-eoc"), "ignored"),
        (_event("incident.resolved", f"firstresponder-{incident_id}-imoc", "Bob"), "applied"),
        (_event("incident.resolved", f"firstresponder-{incident_id}-eoc", "Bob"), "unchanged"),
    ):
        answer = await call(app, "POST", path, 200, data=body, headers=_signed(body, SECRET))
        assert answer["status"] == status, (body, answer)
    await settle(app)
    incident = await call(app, "GET", f"/api/v1/incidents/{incident_id}", 200)
    assert incident["state"] == "resolved"
    assert all(i.status == "resolved" for i in pd.incidents)
    garbage = b"{not json"
    await call(app, "POST", path, 400, data=garbage, headers=_signed(garbage, SECRET))


# --- restarts and replicas --------------------------------------------------------------


async def test_a_deadline_that_passed_while_down_fires_at_start_up(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    clock: FakeClock,
    hook_headers: dict[str, str],
) -> None:
    config = paging_config(tmp_path, pd)
    first = await aiohttp_client(
        build_app(config, clock=clock, metrics=Metrics(), run_scheduler=False)
    )
    incident_id = await declare(first, hook_headers)
    await first.close()
    clock.advance(minutes=40)  # the daemon was down across the ack timeout
    second = await aiohttp_client(
        build_app(config, clock=clock, metrics=Metrics(), run_scheduler=False)
    )
    await settle(second)
    assert triggers(pd) == [
        ("eoc", f"firstresponder-{incident_id}-eoc"),
        ("imoc", f"firstresponder-{incident_id}-imoc"),
    ]


async def test_two_dispatchers_deliver_each_page_once(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    clock: FakeClock,
    hook_headers: dict[str, str],
) -> None:
    config = paging_config(tmp_path, pd)
    one = await aiohttp_client(
        build_app(config, clock=clock, metrics=Metrics(), run_scheduler=False)
    )
    two = await aiohttp_client(
        build_app(config, clock=clock, metrics=Metrics(), run_scheduler=False)
    )
    pd.delay_next(0.3)  # the first delivery is slow: the other dispatcher must not take it
    for n in range(5):
        payload = make_payload(alert("outage", service=f"svc{n}"))
        await post_alerts(one, payload, hook_headers)
    await asyncio.gather(*(d.app[DISPATCHER].pass_once() for d in (one, two, one, two)))
    await asyncio.gather(*(d.app[DISPATCHER].pass_once() for d in (one, two)))
    keys = [key for _, key in triggers(pd)]
    assert len(keys) == 15 and len(set(keys)) == 15
