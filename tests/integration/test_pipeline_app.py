"""The dead-man's switch and the Alertmanager silences through the real app: a fake
PagerDuty, a fake Alertmanager silences API and a fake clock. `settle()` runs one scheduler
tick, then delivers pages, then silence calls (each channel has its own dispatcher).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import DISPATCHER, SCHEDULER, SILENCE_DISPATCHER
from firstresponder.app import build_app
from firstresponder.config import load_config
from firstresponder.metrics import Metrics

from ..conftest import AiohttpClient
from ..factories import FakeClock, make_alert, make_payload, write_config
from ..fakes import CA_FILE, FakePagerDuty
from ..fakes.alertmanager import FakeAlertmanager
from .support import call, metric, post_alerts

Client = TestClient[Any, Any]
KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
WATCHDOG = {"alertname": "Watchdog", "severity": "none"}


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
async def am(clock: FakeClock) -> AsyncIterator[FakeAlertmanager]:
    async with FakeAlertmanager(now=clock.now) as fake:
        yield fake


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    pd: FakePagerDuty,
    am: FakeAlertmanager,
    clock: FakeClock,
    metrics: Metrics,
) -> Client:
    config = load_config(
        write_config(
            tmp_path,
            escalation={"enabled": True},
            pagerduty={"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
            heartbeat={"repeat_interval": "1m"},  # timeout 3m
            alertmanager={"url": am.url, "silence_duration": "1h", "bearer_token": "am-token"},
        )
    )
    return await aiohttp_client(
        build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
    )


async def settle(client: Client) -> None:
    await client.app[SCHEDULER].tick()
    while await client.app[DISPATCHER].pass_once():
        pass
    while await client.app[SILENCE_DISPATCHER].pass_once():
        pass


def eoc_triggers(pd: FakePagerDuty) -> list[str]:
    return [
        e["dedup_key"]
        for e in pd.events
        if e["event_action"] == "trigger" and e["routing_key"] == KEYS["eoc"]
    ]


async def incidents(client: Client) -> list[dict[str, Any]]:
    body = await call(client, "GET", "/api/v1/incidents", 200)
    return list(body["incidents"])


async def kinds(client: Client, incident_id: int) -> list[str]:
    body = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    return [e["kind"] for e in body["entries"]]


async def heartbeat(client: Client, headers: dict[str, str]) -> None:
    await post_alerts(client, make_payload(make_alert(labels=WATCHDOG)), headers)


async def test_a_missing_heartbeat_pages_the_eoc_once_and_its_return_moves_to_monitoring(
    app: Client, pd: FakePagerDuty, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    await heartbeat(app, hook_headers)
    await settle(app)
    assert await incidents(app) == []  # the heartbeat itself is never an incident
    clock.advance(minutes=2, seconds=59)
    await settle(app)
    assert await metric(app, "firstresponder_heartbeat_age_seconds") == 179
    assert eoc_triggers(pd) == []

    clock.advance(seconds=1)
    for _ in range(3):  # further ticks while still missing: no second page
        await settle(app)
        clock.advance(seconds=30)
    [incident] = await incidents(app)
    assert (incident["service"], incident["severity"], incident["impact"]) == (
        "alerting-pipeline",
        "S3",
        "degraded",
    )
    assert eoc_triggers(pd) == [f"firstresponder-{incident['id']}-eoc"]
    assert "heartbeat_missing" in await kinds(app, incident["id"])

    await heartbeat(app, hook_headers)
    await settle(app)
    [back] = await incidents(app)
    assert back["state"] == "monitoring"
    assert await metric(app, "firstresponder_heartbeat_age_seconds") == 0
    assert len(eoc_triggers(pd)) == 1


async def test_a_heartbeat_never_seen_counts_from_the_first_start(
    app: Client, pd: FakePagerDuty, clock: FakeClock
) -> None:
    await settle(app)  # watching begins
    clock.advance(minutes=3)
    await settle(app)
    [incident] = await incidents(app)
    assert incident["service"] == "alerting-pipeline"
    assert len(eoc_triggers(pd)) == 1


async def test_ack_silences_the_alerts_resolve_expires_the_silence(
    app: Client,
    am: FakeAlertmanager,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    await heartbeat(app, hook_headers)
    labels = {"alertname": "CartErrors", "service": "cart", "impact": "partial_disruption"}
    answer = await post_alerts(app, make_payload(make_alert(labels=labels)), hook_headers)
    [incident_id] = answer["incidents"]
    await settle(app)
    assert am.silences == {}  # nothing before the acknowledgement

    await call(app, "POST", f"/api/v1/incidents/{incident_id}/ack", 200, headers=api_headers)
    await settle(app)
    [silence] = am.silences.values()
    assert silence.matchers == [
        {"name": "alertname", "value": "CartErrors", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "cart", "isRegex": False, "isEqual": True},
    ]
    assert silence.created_by == "firstresponder"
    assert f"incident {incident_id}" in silence.comment
    assert f"/api/v1/incidents/{incident_id}" in silence.comment
    assert am.requests[0].headers["Authorization"] == "Bearer am-token"
    assert "silence_created" in await kinds(app, incident_id)
    assert all(s.matchers[0]["value"] != "Watchdog" for s in am.silences.values())

    clock.advance(minutes=31)  # past half the hour: extended in place
    await settle(app)
    assert list(am.silences) == [silence.id]
    assert silence.ends_at == clock.now() + timedelta(hours=1)
    assert "silence_extended" in await kinds(app, incident_id)

    await call(
        app,
        "POST",
        f"/api/v1/incidents/{incident_id}/resolve",
        200,
        headers=api_headers,
        json={"note": "fixed"},
    )
    await settle(app)
    assert am.states() == {silence.id: "expired"}
    assert "silence_expired" in await kinds(app, incident_id)
    assert await metric(app, "firstresponder_silences_total", op="expire", result="delivered") == 1


async def test_an_alertmanager_outage_delays_silences_never_pages(
    app: Client,
    am: FakeAlertmanager,
    pd: FakePagerDuty,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    am.fail_next(503, times=100)
    labels = {"alertname": "CartErrors", "service": "cart", "impact": "partial_disruption"}
    answer = await post_alerts(app, make_payload(make_alert(labels=labels)), hook_headers)
    [incident_id] = answer["incidents"]
    await call(app, "POST", f"/api/v1/incidents/{incident_id}/ack", 200, headers=api_headers)
    await settle(app)
    assert eoc_triggers(pd) == [f"firstresponder-{incident_id}-eoc"]
    assert "silence_delayed" in await kinds(app, incident_id)
    assert am.silences == {}
    assert await metric(app, "firstresponder_outbox_backlog", channel="alertmanager") == 1
