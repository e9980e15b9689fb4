"""`POST /api/v1/alertmanager` through the real app: what Alertmanager and the on-call see.

Alertmanager retries 5xx and drops every other non-2xx, and HA peers deliver duplicates,
so the webhook must be idempotent, commit before it answers, and answer 503 (never 429 or
500) when the store cannot take the alerts.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.exc import OperationalError

from firstresponder.api.keys import STORE
from firstresponder.app import build_app
from firstresponder.config import Config
from firstresponder.errors import StoreUnavailable
from firstresponder.store.sql import SqlStore
from firstresponder.store.unit_of_work import SqlUnitOfWork

from ..factories import API_TOKEN, WEBHOOK_TOKEN, FakeClock, iso, make_alert, make_payload
from .support import (
    DOC,
    MIXED_TRUNCATED,
    SLOTH_PAGE,
    SLOTH_RESOLVED,
    WEBHOOK,
    Client,
    basic,
    call,
    metric,
    payload_from,
    post_alerts,
    snapshot,
    stored_event_count,
)

AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]
AVAILABILITY, LATENCY = "3f6b8e2a9c1d4e57", "a04c7d19e2b35f86"  # the Sloth alerts' fingerprints
EU, US, AP = "c21e5b0f7a9d3864", "5d8a0e4c63b1f92e", "9e37f1a2b4c60d58"  # the checkout alerts


def headers(authorization: str) -> dict[str, str]:
    return {"Authorization": authorization, "Content-Type": "application/json"}


def kinds(snap: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in snap["timeline"]]


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {WEBHOOK_TOKEN}", f"bearer {WEBHOOK_TOKEN}", basic("alertmanager", "am-secret")],
    ids=["bearer", "bearer-lowercase-scheme", "basic"],
)
async def test_alertmanager_credentials_are_accepted(client: Client, authorization: str) -> None:
    answer = await post_alerts(client, payload_from(SLOTH_PAGE), headers(authorization))
    assert answer == {
        "status": "accepted",
        "received": 2,
        "new": 2,
        "duplicates": 0,
        "truncated": 0,
        "incidents": [1],
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {API_TOKEN}", basic("alertmanager", "wrong"), "Basic ???"],
    ids=["none", "wrong-bearer", "api-token", "wrong-password", "bad-base64"],
)
async def test_wrong_credentials_get_401_and_store_nothing(
    client: Client, config: Config, authorization: str | None
) -> None:
    sent = {"Content-Type": "application/json"}
    if authorization:
        sent["Authorization"] = authorization
    response = await client.post(WEBHOOK, json=payload_from(SLOTH_PAGE), headers=sent)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="firstresponder"'
    assert await response.json() == {"error": "missing or wrong webhook credentials"}
    assert await stored_event_count(config) == 0
    assert (await call(client, "GET", "/api/v1/incidents", 200))["incidents"] == []


async def test_every_alert_is_committed_before_the_answer(
    client: Client,
    config: Config,
    clock: FakeClock,
    hook_headers: dict[str, str],
    aiohttp_client: AiohttpClient,
) -> None:
    expected = 0
    for name in (SLOTH_PAGE, MIXED_TRUNCATED):
        answer = await post_alerts(client, payload_from(name), hook_headers)
        expected += answer["received"]
        # A separate connection sees the alerts the moment the answer arrives.
        assert await stored_event_count(config) == expected
    many = [
        make_payload(make_alert(labels={"alertname": f"Disk{i}", "service": f"svc-{i % 4}"}))
        for i in range(24)
    ]
    answers = await asyncio.gather(*(post_alerts(client, p, hook_headers) for p in many))
    assert [a["new"] for a in answers] == [1] * 24
    assert await stored_event_count(config) == expected + 24
    # A second daemon on the same database (a restart, a replica) sees every incident.
    other = await aiohttp_client(build_app(config, clock=clock, run_scheduler=False))
    mine = await call(client, "GET", "/api/v1/incidents", 200)
    theirs = await call(other, "GET", "/api/v1/incidents", 200)
    assert theirs == mine
    assert sorted(i["service"] for i in mine["incidents"]) == [
        "checkout",
        "payments",
        "svc-0",
        "svc-1",
        "svc-2",
        "svc-3",
    ]


async def test_sloth_page_declares_with_the_evidence(
    client: Client, hook_headers: dict[str, str]
) -> None:
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    incident = await call(client, "GET", "/api/v1/incidents/1", 200)
    assert (incident["service"], incident["impact"], incident["severity"], incident["state"]) == (
        "payments",
        "partial_disruption",
        "S2",
        "investigating",
    )
    assert sorted(a["fingerprint"] for a in incident["alerts"]) == [AVAILABILITY, LATENCY]
    assert "sloth_severity" in incident["classification"]["reason"]
    # Go's nanosecond timestamps are kept to the microsecond.
    starts = {a["fingerprint"]: a["starts_at"] for a in incident["alerts"]}
    assert starts[LATENCY] == "2026-11-23T02:59:34.871022+00:00"


async def test_same_notification_five_times_is_one_incident(
    client: Client, hook_headers: dict[str, str]
) -> None:
    payload = payload_from(SLOTH_PAGE)
    first = await post_alerts(client, payload, hook_headers)
    after_first = await snapshot(client, 1)
    repeats = [await post_alerts(client, payload, hook_headers) for _ in range(4)]
    assert [a["new"] for a in [first, *repeats]] == [2, 0, 0, 0, 0]
    assert [a["duplicates"] for a in [first, *repeats]] == [0, 2, 2, 2, 2]
    listing = await call(client, "GET", "/api/v1/incidents", 200)
    assert [i["id"] for i in listing["incidents"]] == [1]
    assert await snapshot(client, 1) == after_first
    assert kinds(after_first).count("declared") == 1
    assert await metric(client, "firstresponder_alerts_duplicate_total") == 8


async def test_ha_peer_copy_is_a_duplicate(client: Client, hook_headers: dict[str, str]) -> None:
    """The other Alertmanager of an HA pair sends the same alerts in its own envelope."""
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    before = await snapshot(client, 1)
    peer = payload_from(SLOTH_PAGE, notification_reason="repeat interval elapsed")
    peer["alerts"].reverse()
    peer["externalURL"] = "http://alertmanager-1.example:9093"
    answer = await post_alerts(client, peer, hook_headers)
    assert (answer["new"], answer["duplicates"]) == (0, 2)
    assert await snapshot(client, 1) == before


async def test_mixed_group_tracks_firing_and_resolved_alerts(
    client: Client, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    payload = payload_from(MIXED_TRUNCATED)
    answer = await post_alerts(client, payload, hook_headers)
    assert answer == {
        "status": "accepted",
        "received": 3,
        "new": 3,
        "duplicates": 0,
        "truncated": 4,
        "incidents": [1],
    }
    incident = await call(client, "GET", "/api/v1/incidents/1", 200)
    assert (incident["service"], incident["severity"], incident["state"]) == (
        "checkout",
        "S2",
        "investigating",
    )
    # The recovery of an alert never seen firing is remembered (a late firing of it is stale),
    # but it neither pages nor counts as a recovery of the incident.
    assert {a["fingerprint"]: a["status"] for a in incident["alerts"]} == {
        EU: "firing",
        US: "firing",
        AP: "resolved",
    }
    assert incident["state"] == "investigating"
    clock.advance(minutes=4)
    payload["alerts"][0].update(status="resolved", endsAt=iso(clock.now()))
    del payload["alerts"][2]
    payload.update(notification_reason="some alerts resolved", truncatedAlerts=0)
    answer = await post_alerts(client, payload, hook_headers)
    assert (answer["new"], answer["duplicates"], answer["incidents"]) == (1, 1, [1])
    snap = await snapshot(client, 1)
    assert {a["fingerprint"]: a["status"] for a in snap["incident"]["alerts"]} == {
        EU: "resolved",
        US: "firing",
        AP: "resolved",
    }
    assert snap["incident"]["state"] == "investigating"  # us-east-1 still fires
    assert kinds(snap).count("alert_resolved") == 1


async def test_recovery_of_every_alert_means_monitoring_not_resolved(
    client: Client, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    clock.advance(minutes=17)
    answer = await post_alerts(client, payload_from(SLOTH_RESOLVED), hook_headers)
    assert (answer["new"], answer["incidents"]) == (2, [1])
    snap = await snapshot(client, 1)
    incident = snap["incident"]
    assert (incident["state"], incident["resolved_at"]) == ("monitoring", None)
    assert {a["status"] for a in incident["alerts"]} == {"resolved"}
    last = snap["timeline"][-1]
    assert (last["kind"], last["data"]) == (
        "state_changed",
        {"from": "investigating", "to": "monitoring"},
    )
    assert "all alerts recovered" in last["message"]
    still_open = await call(client, "GET", "/api/v1/incidents?open=true", 200)
    assert [i["id"] for i in still_open["incidents"]] == [1]


async def test_resolved_only_notification_for_unknown_alerts_declares_nothing(
    client: Client, config: Config, hook_headers: dict[str, str]
) -> None:
    answer = await post_alerts(client, payload_from(SLOTH_RESOLVED), hook_headers)
    assert (answer["new"], answer["incidents"]) == (2, [])
    assert await stored_event_count(config) == 2
    assert (await call(client, "GET", "/api/v1/incidents", 200))["incidents"] == []


async def test_refire_during_monitoring_reopens_the_same_incident(
    client: Client, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    clock.advance(minutes=17)
    await post_alerts(client, payload_from(SLOTH_RESOLVED), hook_headers)
    clock.advance(minutes=10)
    refire = payload_from(SLOTH_PAGE, notification_reason="new alerts added")
    refire["alerts"] = refire["alerts"][:1]
    refire["alerts"][0]["startsAt"] = iso(clock.now())
    answer = await post_alerts(client, refire, hook_headers)
    assert (answer["new"], answer["incidents"]) == (1, [1])
    snap = await snapshot(client, 1)
    assert snap["incident"]["state"] == "investigating"
    reopened = [e for e in snap["timeline"] if e["data"].get("to") == "investigating"]
    assert len(reopened) == 1 and "reopened" in reopened[0]["message"]
    listing = await call(client, "GET", "/api/v1/incidents", 200)
    assert [i["id"] for i in listing["incidents"]] == [1]


async def test_refire_after_a_human_resolved_declares_a_new_incident(
    client: Client, clock: FakeClock, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    await call(client, "POST", "/api/v1/incidents/1/resolve", 200, json={}, headers=api_headers)
    clock.advance(minutes=30)
    refire = payload_from(SLOTH_PAGE)
    for alert in refire["alerts"]:
        alert["startsAt"] = iso(clock.now())
    answer = await post_alerts(client, refire, hook_headers)
    assert answer["incidents"] == [2]
    assert (await call(client, "GET", "/api/v1/incidents/1", 200))["state"] == "resolved"
    assert (await call(client, "GET", "/api/v1/incidents/2", 200))["state"] == "investigating"


async def test_truncated_alerts_are_counted(client: Client, hook_headers: dict[str, str]) -> None:
    assert await metric(client, "firstresponder_alerts_truncated_total") == 0
    answer = await post_alerts(client, payload_from(MIXED_TRUNCATED), hook_headers)
    assert answer["truncated"] == 4
    assert await metric(client, "firstresponder_alerts_truncated_total") == 4
    assert await metric(client, "firstresponder_alerts_received_total", status="firing") == 2
    assert await metric(client, "firstresponder_alerts_received_total", status="resolved") == 1
    assert await metric(client, "firstresponder_webhook_requests_total", code="200") == 1


async def test_body_of_exactly_the_size_limit_is_accepted(
    client: Client, config: Config, hook_headers: dict[str, str]
) -> None:
    limit = config.server.max_body_size
    payload = make_payload(make_alert(annotations={"description": ""}))
    padding = limit - len(json.dumps(payload).encode())
    payload["alerts"][0]["annotations"]["description"] = "x" * padding
    body = json.dumps(payload).encode()
    assert len(body) == limit
    response = await client.post(WEBHOOK, data=body, headers=hook_headers)
    assert response.status == 200, await response.text()


async def test_chunked_delivery_is_accepted(client: Client, hook_headers: dict[str, str]) -> None:
    body = json.dumps(payload_from(SLOTH_PAGE)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = await client.post(WEBHOOK, data=chunks(), headers=hook_headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["new"] == 2


Restore = Callable[[], None]


def _transaction_down(store: SqlStore, monkeypatch: pytest.MonkeyPatch, db: Path) -> Restore:
    async def down(work: Any) -> Any:
        raise StoreUnavailable("store unavailable: OperationalError")

    monkeypatch.setattr(store, "transact", down)
    return monkeypatch.undo


def _database_locked(store: SqlStore, monkeypatch: pytest.MonkeyPatch, db: Path) -> Restore:
    """The insert fails mid-transaction, as SQLite's does when another writer holds the lock."""

    def locked(self: SqlUnitOfWork, *args: Any) -> Any:
        cause = sqlite3.OperationalError("database is locked")
        raise OperationalError("INSERT INTO alert_events", {}, cause)

    monkeypatch.setattr(SqlUnitOfWork, "record_events", locked)
    return monkeypatch.undo


def _database_gone(store: SqlStore, monkeypatch: pytest.MonkeyPatch, db: Path) -> Restore:
    """The database file cannot be opened (its volume went away) until it is put back."""
    moved = db.with_name("moved-away.db")
    db.rename(moved)
    db.mkdir()  # a directory where the file was: SQLite can neither open nor recreate it

    def put_back() -> None:
        db.rmdir()
        moved.rename(db)

    return put_back


FAILURES: dict[str, Callable[[SqlStore, pytest.MonkeyPatch, Path], Restore]] = {
    "transaction-raises": _transaction_down,
    "database-locked": _database_locked,
    "database-file-gone": _database_gone,
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_store_unavailable_answers_503_and_loses_nothing(
    client: Client,
    config: Config,
    hook_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    before = await snapshot(client, 1)
    store: SqlStore = client.app[STORE]
    await store.dispose()  # every connection from here on is a new one
    restore = FAILURES[failure](
        store, monkeypatch, Path(config.store.url.removeprefix("sqlite:///"))
    )
    new = payload_from(MIXED_TRUNCATED)
    for _ in range(3):  # Alertmanager retries a 5xx with backoff
        response = await client.post(WEBHOOK, json=new, headers=hook_headers)
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"] == "5"
        body = await response.json()
        assert body == {"error": "store unavailable, retry later"}
        DOC.check("POST", WEBHOOK, 503, body)
    # An accepted notification delivered again cannot be confirmed either: 503, not 200.
    again = await client.post(WEBHOOK, json=payload_from(SLOTH_PAGE), headers=hook_headers)
    assert again.status == 503
    assert await metric(client, "firstresponder_webhook_requests_total", code="503") == 4
    for code in ("429", "500"):
        assert await metric(client, "firstresponder_webhook_requests_total", code=code) == 0
    restore()
    await store.dispose()
    assert await snapshot(client, 1) == before
    # Alertmanager's next retry finds the store back: nothing half-written, all accepted.
    answer = await post_alerts(client, new, hook_headers)
    assert (answer["new"], answer["duplicates"], answer["incidents"]) == (3, 0, [2])
    assert await stored_event_count(config) == 5
    assert await snapshot(client, 1) == before


async def test_readyz_reports_a_store_that_is_down(
    client: Client, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await client.get("/readyz")
    assert (ready.status, await ready.json()) == (200, {"status": "ready"})
    store: SqlStore = client.app[STORE]

    async def down() -> None:
        raise StoreUnavailable("store unavailable: OperationalError")

    monkeypatch.setattr(store, "ping", down)
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["status"] == "unavailable"


async def test_a_crash_in_slo_evaluation_still_stores_and_declares_from_labels(
    aiohttp_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hook_headers: dict[str, str],
) -> None:
    """Ingestion fails open whatever goes wrong in live classification: no alert is lost."""
    from firstresponder import slo_eval
    from firstresponder.config import load_config

    from ..factories import write_config

    async def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in evaluation")

    monkeypatch.setattr(slo_eval, "_read", broken)
    config = load_config(write_config(tmp_path, prometheus={"url": "http://127.0.0.1:9"}))
    client = await aiohttp_client(build_app(config, clock=FakeClock(), run_scheduler=False))
    alert = make_alert(labels={"service": "checkout", "severity": "critical"})
    response = await client.post(
        "/api/v1/alertmanager", json=make_payload(alert), headers=hook_headers
    )
    assert response.status == 200
    incident = (await (await client.get("/api/v1/incidents")).json())["incidents"][0]
    assert incident["severity"] == "S2"  # from severity="critical"
    assert "internal error while evaluating the SLO" in incident["classification"]["reason"]
