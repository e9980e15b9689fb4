"""The pager targets against fake PagerDuty, Grafana OnCall and webhook servers.

Each pager makes exactly one attempt per send; the `pagerduty` package's own sleeping
retries are off. Every test here runs with that package's `time.sleep` replaced by one
that fails the test, and the retry tests also count the requests that arrived.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pagerduty
import pagerduty.api_client
import pytest

from firstresponder.domain.escalation import PageAction
from firstresponder.domain.vocabulary import Role
from firstresponder.pagers.base import (
    DeliveryError,
    PageMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from firstresponder.pagers.grafana_oncall import GrafanaOnCall, OnCallTarget
from firstresponder.pagers.oncall_lookup import PagerDutyOnCall
from firstresponder.pagers.pagerduty import PagerDutyEvents
from firstresponder.pagers.webhook import WebhookPager

from ..fakes import CA_FILE, FakeGrafanaOnCall, FakePagerDuty, FakeReceiver, client_tls

EOC_KEY = "eoc0routing0key0secret0000000001"
IMOC_KEY = "imoc0routing0key0secret000000002"
REST_TOKEN = "u+pagerduty-rest-secret-token"
ONCALL_TOKEN = "oncall-secret-api-token"
BEARER = "webhook-secret-bearer"
SECRETS = (EOC_KEY, IMOC_KEY, REST_TOKEN, ONCALL_TOKEN, BEARER)
# Generous: a slow 2-core machine must never turn a fast failure into a flaky test.
BOUND_S = 30

PAYLOAD: dict[str, Any] = {
    "summary": "checkout: 12% of requests fail (error budget burning 14.4x)",
    "severity": "S2",
    "impact": "partial_disruption",
    "service": "checkout",
    "title": "Checkout errors",
    "reason": "S2 declared",
    "incident_url": "https://firstresponder.example/incidents/42",
    "links": [{"href": "https://grafana.example/d/checkout", "text": "Checkout dashboard"}],
    "details": {"alerts": ["CheckoutErrorBudgetBurn"], "burn_rate": 14.4},
    "timestamp": "2026-01-01T12:00:00+00:00",
}


def page(
    action: PageAction = PageAction.TRIGGER,
    role: Role = Role.EOC,
    reference: str | None = None,
    dedup_key: str = "firstresponder-42-eoc",
    **payload: Any,
) -> PageMessage:
    return PageMessage(
        id=7,
        incident_id=42,
        target="primary",
        role=role,
        action=action,
        dedup_key=dedup_key,
        payload={**PAYLOAD, **payload},
        reference=reference,
    )


class PackageSlept(AssertionError):
    """The `pagerduty` package tried to sleep before retrying on its own."""


@pytest.fixture(autouse=True)
def package_sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    slept: list[float] = []

    def forbidden(seconds: float) -> None:
        slept.append(seconds)
        raise PackageSlept(f"the pagerduty package slept {seconds}s to retry by itself")

    monkeypatch.setattr(pagerduty.api_client, "time", SimpleNamespace(sleep=forbidden))
    yield slept


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_token=REST_TOKEN) as fake:
        yield fake


@pytest.fixture
async def events(pd: FakePagerDuty) -> AsyncIterator[PagerDutyEvents]:
    pager = PagerDutyEvents(
        "pagerduty", {Role.EOC: EOC_KEY, Role.IMOC: IMOC_KEY}, pd.url, 10.0, tls=client_tls()
    )
    yield pager
    await pager.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def failing(pager: Any, message: PageMessage) -> DeliveryError:
    """The delivery error `pager.send` raises, within a bound that flags a hang."""
    with pytest.raises(DeliveryError) as caught:
        async with asyncio.timeout(BOUND_S):
            await pager.send(message)
    return caught.value


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# PagerDuty Events API v2


async def test_a_trigger_arrives_with_every_field_mapped(
    pd: FakePagerDuty, events: PagerDutyEvents
) -> None:
    assert await events.send(page()) is None

    assert pd.events == [
        {
            "routing_key": EOC_KEY,
            "event_action": "trigger",
            "dedup_key": "firstresponder-42-eoc",
            "payload": {
                "summary": PAYLOAD["summary"],
                "source": "checkout",
                "severity": "error",
                "component": "checkout",
                "group": "checkout",
                "class": "partial_disruption",
                "timestamp": "2026-01-01T12:00:00+00:00",
                "custom_details": {
                    "alerts": ["CheckoutErrorBudgetBurn"],
                    "burn_rate": 14.4,
                    "reason": "S2 declared",
                    "incident_url": "https://firstresponder.example/incidents/42",
                    "role": "eoc",
                },
            },
            "links": [{"href": "https://grafana.example/d/checkout", "text": "Checkout dashboard"}],
        }
    ]
    incident = pd.incident(EOC_KEY, "firstresponder-42-eoc")
    assert incident is not None and incident.status == "triggered"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("S1", "critical"), ("S2", "error"), ("S3", "warning"), ("S4", "info"), ("bogus", "critical")],
)
async def test_severity_maps_onto_pagerduty_severities(
    pd: FakePagerDuty, events: PagerDutyEvents, severity: str, expected: str
) -> None:
    await events.send(page(severity=severity))
    assert pd.events[0]["payload"]["severity"] == expected


async def test_the_routing_key_follows_the_role(pd: FakePagerDuty, events: PagerDutyEvents) -> None:
    await events.send(page(role=Role.IMOC, dedup_key="firstresponder-42-imoc"))
    assert pd.events[0]["routing_key"] == IMOC_KEY
    assert pd.events[0]["payload"]["custom_details"]["role"] == "imoc"


async def test_acknowledge_and_resolve_move_the_same_incident(
    pd: FakePagerDuty, events: PagerDutyEvents
) -> None:
    await events.send(page())
    await events.send(page())  # a duplicate trigger joins the open incident
    await events.send(page(PageAction.ACKNOWLEDGE))
    incident = pd.incident(EOC_KEY, "firstresponder-42-eoc")
    assert incident is not None and incident.status == "acknowledged"

    await events.send(page(PageAction.RESOLVE))
    assert incident.status == "resolved"
    assert len(pd.incidents) == 1
    assert [event["event_action"] for event in pd.events[2:]] == ["acknowledge", "resolve"]
    assert pd.events[2] == {
        "routing_key": EOC_KEY,
        "event_action": "acknowledge",
        "dedup_key": "firstresponder-42-eoc",
    }

    await events.send(page())  # after a resolve, PagerDuty opens a new incident
    assert len(pd.incidents) == 2


async def test_long_summaries_and_dedup_keys_fit_pagerduty_limits(
    pd: FakePagerDuty, events: PagerDutyEvents
) -> None:
    long_key = "firstresponder-" + "k" * 300
    await events.send(page(dedup_key=long_key, summary="s" * 5000))
    await events.send(page(PageAction.RESOLVE, dedup_key=long_key))

    trigger, resolve = pd.events
    assert len(trigger["payload"]["summary"]) == 1024
    assert len(trigger["dedup_key"]) == 255
    assert resolve["dedup_key"] == trigger["dedup_key"]
    assert [incident.status for incident in pd.incidents] == ["resolved"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_transient_after_exactly_one_request(
    pd: FakePagerDuty, events: PagerDutyEvents, package_sleeps: list[float], status: int
) -> None:
    pd.fail_next(status, times=5)
    error = await failing(events, page())

    assert isinstance(error, TransientDeliveryError)
    assert f"HTTP {status}" in str(error)
    assert len(pd.requests) == 1
    assert package_sleeps == []


async def test_429_is_transient_with_retry_after_and_one_request(
    pd: FakePagerDuty, events: PagerDutyEvents, package_sleeps: list[float]
) -> None:
    pd.fail_next(429, times=5, retry_after=7)
    error = await failing(events, page())

    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after == 7
    assert len(pd.requests) == 1
    assert package_sleeps == []


async def test_the_sleep_guard_catches_the_packages_default_retrying(pd: FakePagerDuty) -> None:
    """Without `one_attempt`, a 429 sends the package to sleep: the guard is not vacuous."""
    client = pagerduty.EventsApiV2Client(EOC_KEY, base_url=pd.url, verify=client_tls())
    pd.fail_next(429)
    with pytest.raises(PackageSlept):
        await asyncio.to_thread(client.trigger, "summary", "source", dedup_key="k")
    client.close()


async def test_a_rejected_event_is_permanent_and_names_pagerduty_reason(pd: FakePagerDuty) -> None:
    pager = PagerDutyEvents("pagerduty", {Role.EOC: "too-short-key"}, pd.url, tls=client_tls())
    error = await failing(pager, page())

    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == (
        "pagerduty: HTTP 400: Event object is invalid: "
        "Length of 'routing_key' is incorrect (should be 32 characters)"
    )
    assert "too-short-key" not in str(error)
    await pager.close()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
async def test_client_errors_are_permanent(
    pd: FakePagerDuty, events: PagerDutyEvents, status: int
) -> None:
    pd.fail_next(status)
    error = await failing(events, page())
    assert isinstance(error, PermanentDeliveryError)
    assert str(error).startswith(f"pagerduty: HTTP {status}: ")
    assert len(pd.requests) == 1


async def test_a_refused_connection_is_transient_at_once(package_sleeps: list[float]) -> None:
    url = f"https://127.0.0.1:{closed_port()}"
    pager = PagerDutyEvents("pagerduty", {Role.EOC: EOC_KEY}, url, tls=client_tls())
    error = await failing(pager, page())

    assert isinstance(error, TransientDeliveryError)
    assert str(error).startswith("pagerduty: unreachable: ConnectError")
    assert package_sleeps == []
    await pager.close()


async def test_a_slow_answer_beyond_the_timeout_is_transient(pd: FakePagerDuty) -> None:
    pager = PagerDutyEvents("pagerduty", {Role.EOC: EOC_KEY}, pd.url, 0.5, tls=client_tls())
    pd.delay_next(BOUND_S * 2)
    error = await failing(pager, page())

    assert isinstance(error, TransientDeliveryError)
    assert str(error) == "pagerduty: no answer within 0.5s"
    assert len(pd.requests) == 1
    await pager.close()


async def test_a_role_without_a_routing_key_is_permanent(
    pd: FakePagerDuty, events: PagerDutyEvents
) -> None:
    error = await failing(events, page(role=Role.CMOC))
    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == "pagerduty: no routing key for role cmoc"
    assert pd.requests == []


async def test_the_fake_is_trusted_through_ssl_cert_file(
    pd: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How app-level tests reach the fake without a `tls` argument: the client reads
    SSL_CERT_FILE when it is built."""
    monkeypatch.setenv("SSL_CERT_FILE", str(CA_FILE))
    pager = PagerDutyEvents("pagerduty", {Role.EOC: EOC_KEY}, pd.url)
    await pager.send(page())
    assert len(pd.incidents) == 1
    await pager.close()


def test_only_https_events_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="https://"):
        PagerDutyEvents("pagerduty", {Role.EOC: EOC_KEY}, "http://events.example")


async def test_secrets_stay_out_of_errors_and_logs(
    pd: FakePagerDuty, events: PagerDutyEvents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pd.fail_next(400, body={"status": "invalid event", "message": f"bad key {EOC_KEY}"})
    pd.fail_next(401)
    pd.fail_next(429, retry_after=1)
    pd.fail_next(500, body=f"<html>upstream said {EOC_KEY}</html>")
    errors = [await failing(events, page()) for _ in range(4)]
    refused = PagerDutyEvents(
        "pagerduty", {Role.EOC: EOC_KEY}, f"https://127.0.0.1:{closed_port()}"
    )
    errors.append(await failing(refused, page()))

    assert "bad key ***" in str(errors[0])
    assert_no_secrets(*(str(error) for error in errors), caplog.text)
    assert all(error.__cause__ is None for error in errors)  # nothing secret chained either
    await refused.close()


# Grafana OnCall


@pytest.fixture
async def oncall() -> AsyncIterator[FakeGrafanaOnCall]:
    async with FakeGrafanaOnCall(api_token=ONCALL_TOKEN) as fake:
        yield fake


@pytest.fixture
def irm(oncall: FakeGrafanaOnCall, session: aiohttp.ClientSession) -> GrafanaOnCall:
    targets = {
        Role.EOC: OnCallTarget(users=("UALICE", "UBOB")),
        Role.IMOC: OnCallTarget(team="TINCIDENTS"),
    }
    return GrafanaOnCall("oncall", oncall.url, ONCALL_TOKEN, targets, session)


async def test_a_trigger_escalates_to_users_and_returns_the_alert_group_id(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    reference = await irm.send(page(severity="S1"))

    assert reference is not None and reference in oncall.alert_groups
    (request,) = oncall.requests
    assert (request.path, request.headers["Authorization"]) == ("/api/v1/escalation/", ONCALL_TOKEN)
    assert request.json == {
        "title": "Checkout errors",
        "message": (
            f"{PAYLOAD['summary']}\nS2 declared\n"
            "severity S1, impact partial_disruption, service checkout"
        ),
        "source_url": "https://firstresponder.example/incidents/42",
        "users": [{"id": "UALICE", "important": True}, {"id": "UBOB", "important": True}],
    }


async def test_only_s1_pages_users_as_important(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    await irm.send(page(severity="S2"))
    assert {user["important"] for user in oncall.requests[0].json["users"]} == {False}


async def test_a_team_target_escalates_to_the_team(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    reference = await irm.send(page(role=Role.IMOC))
    assert reference is not None
    group = oncall.alert_groups[reference]
    assert (group.team, group.users) == ("TINCIDENTS", [])
    assert "users" not in oncall.requests[0].json


async def test_acknowledge_and_resolve_address_the_alert_group(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    reference = await irm.send(page())
    assert reference is not None

    assert await irm.send(page(PageAction.ACKNOWLEDGE, reference=reference)) == reference
    assert oncall.alert_groups[reference].state == "acknowledged"
    assert await irm.send(page(PageAction.RESOLVE, reference=reference)) == reference
    assert oncall.alert_groups[reference].state == "resolved"

    paths = [request.path for request in oncall.requests[1:]]
    assert paths == [
        f"/api/v1/alert_groups/{reference}/acknowledge",
        f"/api/v1/alert_groups/{reference}/resolve",
    ]
    assert {request.headers["Authorization"] for request in oncall.requests} == {ONCALL_TOKEN}


async def test_an_alert_group_already_there_counts_as_delivered(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    reference = await irm.send(page())
    await irm.send(page(PageAction.RESOLVE, reference=reference))

    # Someone resolved it in OnCall first, or our earlier answer got lost: both are done.
    assert await irm.send(page(PageAction.ACKNOWLEDGE, reference=reference)) == reference
    assert await irm.send(page(PageAction.RESOLVE, reference=reference)) == reference
    assert [request.path.rsplit("/", 1)[1] for request in oncall.requests[2:]] == [
        "acknowledge",
        "resolve",
    ]


async def test_without_a_reference_acknowledge_and_resolve_do_nothing(
    oncall: FakeGrafanaOnCall, irm: GrafanaOnCall
) -> None:
    assert await irm.send(page(PageAction.ACKNOWLEDGE)) is None
    assert await irm.send(page(PageAction.RESOLVE)) is None
    assert oncall.requests == []


async def test_an_unknown_alert_group_is_permanent(irm: GrafanaOnCall) -> None:
    error = await failing(irm, page(PageAction.RESOLVE, reference="INOSUCHGROUP"))
    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == "oncall: HTTP 404: Not found."


async def test_oncall_errors_are_classified(oncall: FakeGrafanaOnCall, irm: GrafanaOnCall) -> None:
    oncall.fail_next(429, retry_after=30)
    oncall.fail_next(503)
    throttled, unavailable = [await failing(irm, page()) for _ in range(2)]
    assert isinstance(throttled, TransientDeliveryError) and throttled.retry_after == 30
    assert isinstance(unavailable, TransientDeliveryError) and unavailable.retry_after is None

    invalid = await failing(irm, page(incident_url="not a url"))
    assert isinstance(invalid, PermanentDeliveryError)
    assert str(invalid) == 'oncall: HTTP 400: {"source_url":["Enter a valid URL."]}'
    assert oncall.alert_groups == {}


async def test_a_wrong_token_is_permanent_and_never_shown(
    oncall: FakeGrafanaOnCall, session: aiohttp.ClientSession
) -> None:
    wrong = "oncall-wrong-secret-token"
    pager = GrafanaOnCall("oncall", oncall.url, wrong, {Role.EOC: OnCallTarget(team="T1")}, session)
    error = await failing(pager, page())
    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == "oncall: HTTP 401: Invalid token."


async def test_oncall_without_a_target_for_the_role_is_permanent(irm: GrafanaOnCall) -> None:
    error = await failing(irm, page(role=Role.SCRIBE))
    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == "oncall: no OnCall target for role scribe"


async def test_a_slow_oncall_times_out(
    oncall: FakeGrafanaOnCall, session: aiohttp.ClientSession
) -> None:
    pager = GrafanaOnCall(
        "oncall", oncall.url, ONCALL_TOKEN, {Role.EOC: OnCallTarget(team="T1")}, session, 0.5
    )
    oncall.delay_next(BOUND_S * 2)
    error = await failing(pager, page())
    assert isinstance(error, TransientDeliveryError)
    assert str(error) == "oncall: no answer within 0.5s"


# Generic webhook


async def test_the_webhook_body_and_headers(session: aiohttp.ClientSession) -> None:
    async with FakeReceiver() as hook:
        pager = WebhookPager(
            "webhook:bridge",
            f"{hook.url}/hooks/page",
            session,
            bearer_token=BEARER,
            headers={"X-Team": "sre"},
        )
        assert await pager.send(page(PageAction.ACKNOWLEDGE)) is None

    (request,) = hook.requests
    assert request.path == "/hooks/page"
    assert request.headers["Authorization"] == f"Bearer {BEARER}"
    assert request.headers["X-Team"] == "sre"
    assert request.json == {
        "version": "1",
        "action": "acknowledge",
        "dedup_key": "firstresponder-42-eoc",
        "role": "eoc",
        "incident_id": 42,
        "target": "primary",
        **PAYLOAD,
    }


async def test_the_webhook_sends_no_authorization_without_a_token(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeReceiver() as hook:
        await WebhookPager("webhook", hook.url, session).send(page())
    assert "Authorization" not in hook.requests[0].headers


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
        (429, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (413, PermanentDeliveryError),
    ],
)
async def test_webhook_errors_are_classified(
    session: aiohttp.ClientSession, status: int, kind: type[DeliveryError]
) -> None:
    async with FakeReceiver(status=status) as hook:
        pager = WebhookPager("webhook", hook.url, session, bearer_token=BEARER)
        error = await failing(pager, page())
    assert type(error) is kind
    assert str(error).startswith(f"webhook: HTTP {status}: ")
    assert len(hook.requests) == 1


async def test_webhook_retry_after_and_echoed_secrets(session: aiohttp.ClientSession) -> None:
    async with FakeReceiver() as hook:
        hook.fail_next(429, retry_after=12, body=f"slow down, {BEARER}")
        pager = WebhookPager("webhook", f"{hook.url}/t/{BEARER}", session, bearer_token=BEARER)
        error = await failing(pager, page())
    assert isinstance(error, TransientDeliveryError) and error.retry_after == 12
    assert str(error) == "webhook: HTTP 429: slow down, ***"


async def test_an_unreachable_or_slow_webhook_is_transient(session: aiohttp.ClientSession) -> None:
    refused = WebhookPager("webhook", f"http://127.0.0.1:{closed_port()}/hook", session)
    error = await failing(refused, page())
    assert isinstance(error, TransientDeliveryError)
    assert str(error).startswith("webhook: unreachable: ClientConnectorError")

    async with FakeReceiver() as hook:
        hook.delay_next(BOUND_S * 2)
        slow = WebhookPager("webhook", hook.url, session, timeout_s=0.5)
        error = await failing(slow, page())
    assert str(error) == "webhook: no answer within 0.5s"


# Who is on call (PagerDuty REST API)


def lookup(pd_url: str, token: str = REST_TOKEN, **schedules: str) -> PagerDutyOnCall:
    by_role = {Role(role): schedule for role, schedule in schedules.items()}
    return PagerDutyOnCall(pd_url, token, by_role, 10.0, tls=client_tls())


async def test_the_lookup_names_who_is_on_call_per_role(pd: FakePagerDuty) -> None:
    pd.oncall.update(PEOC="Alice Example", PIMOC="Bob Example")
    on_call = lookup(pd.url, eoc="PEOC", imoc="PIMOC", cmoc="PEMPTY")

    assert await on_call.on_call() == {Role.EOC: "Alice Example", Role.IMOC: "Bob Example"}
    first = pd.requests[0]
    assert (first.path, first.query) == (
        "/oncalls",
        {"schedule_ids[]": ["PEOC"], "earliest": ["true"]},
    )
    assert first.headers["Authorization"] == f"Token token={REST_TOKEN}"
    await on_call.close()


async def test_a_failing_lookup_returns_nothing_and_warns_without_the_token(
    pd: FakePagerDuty, caplog: pytest.LogCaptureFixture, package_sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    pd.oncall.update(PEOC="Alice Example")
    wrong = lookup(pd.url, "u+wrong-secret-token", eoc="PEOC")

    assert await wrong.on_call() == {}
    assert "on-call lookup for eoc (schedule PEOC) failed: HTTP 401: Unauthorized" in caplog.text
    assert "wrong-secret-token" not in caplog.text
    assert_no_secrets(caplog.text)
    assert package_sleeps == []
    await wrong.close()


async def test_a_lookup_keeps_what_it_found(pd: FakePagerDuty, package_sleeps: list[float]) -> None:
    pd.oncall.update(PEOC="Alice Example", PIMOC="Bob Example")
    pd.fail_next(429, retry_after=5)
    on_call = lookup(pd.url, eoc="PEOC", imoc="PIMOC")

    assert await on_call.on_call() == {Role.IMOC: "Bob Example"}
    assert len(pd.requests) == 2
    assert package_sleeps == []
    await on_call.close()


async def test_an_unreachable_lookup_returns_nothing_at_once(
    caplog: pytest.LogCaptureFixture, package_sleeps: list[float]
) -> None:
    on_call = lookup(f"https://127.0.0.1:{closed_port()}", eoc="PEOC", imoc="PIMOC")
    async with asyncio.timeout(BOUND_S):
        assert await on_call.on_call() == {}
    assert "failed: unreachable: ConnectError" in caplog.text
    assert package_sleeps == []
    await on_call.close()
