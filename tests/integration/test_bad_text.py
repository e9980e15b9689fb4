"""Text no store can hold (a NUL, a lone surrogate) from senders that must not be refused.

Alertmanager retries a 5xx for ever and drops a 4xx; PagerDuty retries what is refused;
Slack shows a person nothing useful. So their text is accepted and every such character is
stored as U+FFFD, the same on SQLite and on PostgreSQL: each case runs on both and checks
the committed row against the same expected text, a redelivery is still a duplicate, and
the incident accepted before is untouched. The REST API refuses such text instead
(test_bad_input.py); docs/input-rules.md has the rule for every field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from firstresponder.config import Config, load_config
from firstresponder.domain.alerts import labels_fingerprint

from ..factories import PAGERDUTY_WEBHOOK_SECRET, make_alert, make_payload, write_config
from .support import (
    SLOTH_PAGE,
    WEBHOOK,
    Client,
    call,
    metric,
    payload_from,
    post_alerts,
    slack_signed,
    snapshot,
    stored_rows,
)

FFFD = "\ufffd"
BAD = {"nul": "\x00", "high-surrogate": "\ud800", "low-surrogate": "\udfff"}
SIGNING_SECRET = "slack-signing-secret-for-tests"
EVENTS = (
    "SELECT fingerprint, labels, annotations, generator_url, receiver, group_key"
    " FROM alert_events ORDER BY id"
)


def cleaned(text: str) -> str:
    """What the store must hold: written out here, not taken from the code under test."""
    for char in BAD.values():
        text = text.replace(char, FFFD)
    return text


def cleaned_map(values: dict[str, str]) -> dict[str, str]:
    return {cleaned(key): cleaned(value) for key, value in values.items()}


@pytest.fixture
def config(tmp_path: Path, app_store_url: str) -> Config:
    """SQLite, then PostgreSQL; Slack commands on (nothing is delivered: no scheduler)."""
    slack = {
        "api_url": "http://127.0.0.1:9/api/",
        "bot_token": "xoxb-test",
        "signing_secret": SIGNING_SECRET,
    }
    return load_config(write_config(tmp_path, store={"url": app_store_url}, slack=slack))


@pytest.fixture
async def accepted(client: Client, hook_headers: dict[str, str]) -> dict[str, Any]:
    """Incident 1, accepted before any hostile text arrives, as a user sees it."""
    answer = await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    assert answer["incidents"] == [1]
    return await snapshot(client, 1)


# --- Alertmanager ------------------------------------------------------------------------

Change = Callable[[dict[str, Any], dict[str, Any], str], None]


def _label_name(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["labels"][f"team{bad}"] = "storage"


def _label_value(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["labels"]["team"] = f"sto{bad}rage"


def _alertname(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["labels"]["alertname"] = f"Intr{bad}uder"


def _annotation_name(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["annotations"][f"runbook{bad}"] = "https://runbooks.example/x"


def _annotation_value(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["annotations"]["summary"] = f"disk {bad} full"


def _fingerprint(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["fingerprint"] = f"fp-{bad}-intruder"


def _no_fingerprint(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    del alert["fingerprint"]  # made from the labels, which must be the stored ones
    alert["labels"]["team"] = f"sto{bad}rage"


def _generator_url(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["generatorURL"] = f"http://prometheus.example:9090/graph?g0.expr={bad}"


def _receiver(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    payload["receiver"] = f"sre{bad}"


def _group_key(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    payload["groupKey"] = f'{{}}:{{alertname="Intr{bad}uder"}}'


def _service(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    alert["labels"]["service"] = f"check{bad}out"


def _common_labels(payload: dict[str, Any], alert: dict[str, Any], bad: str) -> None:
    payload["commonLabels"] = {f"service{bad}": f"check{bad}out"}
    payload["groupLabels"] = {"alertname": f"Intr{bad}uder"}
    payload["externalURL"] = f"http://alertmanager.example:9093/{bad}"


CHANGES: dict[str, Change] = {
    "label-name": _label_name,
    "label-value": _label_value,
    "alertname": _alertname,
    "annotation-name": _annotation_name,
    "annotation-value": _annotation_value,
    "fingerprint": _fingerprint,
    "no-fingerprint": _no_fingerprint,
    "generatorURL": _generator_url,
    "receiver": _receiver,
    "groupKey": _group_key,
    "service": _service,
    "group-common-external": _common_labels,
}


def hostile_webhook(where: str, bad: str) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """A webhook with `bad` in one place (json.dumps writes it as a \\u escape), its
    payload and its alert as sent."""
    alert = make_alert(labels={"alertname": "Intruder"}, fingerprint="fp-intruder")
    payload = make_payload(alert)
    alert = payload["alerts"][0]
    CHANGES[where](payload, alert, bad)
    return json.dumps(payload).encode(), payload, alert


async def no_server_errors(client: Client) -> None:
    for code in ("500", "502", "503"):
        assert await metric(client, "firstresponder_webhook_requests_total", code=code) == 0
        assert await metric(client, "firstresponder_api_requests_total", code=code) == 0


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("where", CHANGES)
async def test_webhook_text_is_stored_with_replacement_characters(
    client: Client,
    accepted: dict[str, Any],
    config: Config,
    hook_headers: dict[str, str],
    where: str,
    bad: str,
) -> None:
    body, payload, alert = hostile_webhook(where, bad)
    headers = {**hook_headers, "Content-Type": "application/json"}
    answer = await call(client, "POST", WEBHOOK, 200, data=body, headers=headers)
    assert (answer["new"], answer["duplicates"]) == (1, 0)

    [*_, row] = await stored_rows(config, EVENTS)
    labels = cleaned_map(alert["labels"])
    assert json.loads(row["labels"]) == labels
    assert json.loads(row["annotations"]) == cleaned_map(alert["annotations"])
    fingerprint = alert.get("fingerprint")
    assert row["fingerprint"] == (
        cleaned(fingerprint) if fingerprint else labels_fingerprint(labels)
    )
    assert row["generator_url"] == cleaned(alert["generatorURL"])
    assert row["receiver"] == cleaned(payload["receiver"])
    assert row["group_key"] == cleaned(row["group_key"])  # the service's group, from labels

    # Alertmanager's retry, or its HA peer: the same alert, not a new one.
    again = await call(client, "POST", WEBHOOK, 200, data=body, headers=headers)
    assert (again["new"], again["duplicates"]) == (0, 1)
    for incident_id in answer["incidents"]:
        seen = await call(client, "GET", f"/api/v1/incidents/{incident_id}", 200)
        shown = [a for a in seen["alerts"] if a["fingerprint"] == row["fingerprint"]]
        assert [a["labels"] for a in shown] == [labels]
    assert await snapshot(client, 1) == accepted
    await no_server_errors(client)


async def test_one_bad_alert_does_not_cost_the_others(
    client: Client, accepted: dict[str, Any], config: Config, hook_headers: dict[str, str]
) -> None:
    good = make_alert(labels={"alertname": "Good"}, fingerprint="fp-good")
    bad = make_alert(labels={"alertname": "Bad\x00"}, fingerprint="fp-bad\ud800")
    body = json.dumps(make_payload(good, bad)).encode()
    answer = await call(client, "POST", WEBHOOK, 200, data=body, headers=hook_headers)
    assert answer["new"] == 2
    rows = await stored_rows(config, EVENTS)
    assert [r["fingerprint"] for r in rows[-2:]] == ["fp-good", f"fp-bad{FFFD}"]
    assert await snapshot(client, 1) == accepted


# --- Slack --------------------------------------------------------------------------------


async def slack_command(client: Client, text: str, user: str = "UALICE001") -> str:
    fields = {"command": "/incident", "text": text, "user_id": user, "channel_id": "CX"}
    return await signed_slack_command(client, urlencode(fields).encode())


async def signed_slack_command(client: Client, body: bytes, status: int = 200) -> str:
    headers = slack_signed("", SIGNING_SECRET)  # the timestamp; signed again below, over bytes
    mac = hmac.new(SIGNING_SECRET.encode(), digestmod=hashlib.sha256)
    mac.update(f"v0:{headers['X-Slack-Request-Timestamp']}:".encode() + body)
    headers["X-Slack-Signature"] = f"v0={mac.hexdigest()}"
    response = await client.post("/api/v1/slack/commands", data=body, headers=headers)
    assert response.status == status, await response.text()
    answer = await response.json()
    return str(answer["text"] if status == 200 else answer["error"])


async def timeline_notes(client: Client, incident_id: int) -> list[tuple[str, str]]:
    entries = (await snapshot(client, incident_id))["timeline"]
    return [(e["actor"], e["message"]) for e in entries if e["kind"] == "note"]


async def test_slack_command_text_is_stored_with_replacement_characters(
    client: Client, accepted: dict[str, Any]
) -> None:
    answer = await slack_command(client, "#1 note disk\x00full", user="UAL\x00ICE")
    assert answer == "Incident #1: note added."
    answer = await slack_command(client, "declare search Search\x00 is down")
    assert answer.startswith("Incident #2 declared on search")
    incident = await call(client, "GET", "/api/v1/incidents/2", 200)
    assert incident["title"] == f"Search{FFFD} is down"
    # What percent-decoding cannot make text of (a surrogate's UTF-8 bytes, a lone \xff)
    # arrives as U+FFFD; a body that is not UTF-8 at all is refused by the signature check.
    fields = b"command=%2Fincident&user_id=U1&channel_id=CX&text=%231+note+a%ED%A0%80b%FFc"
    await signed_slack_command(client, fields)
    not_utf8 = fields.replace(b"user_id=U1", b"user_id=U\xff2")
    assert await signed_slack_command(client, not_utf8, 401) == "body is not UTF-8"
    assert (await timeline_notes(client, 1))[-2:] == [
        (f"UAL{FFFD}ICE", f"disk{FFFD}full"),
        ("U1", f"a{FFFD * 3}b{FFFD}c"),
    ]
    await no_server_errors(client)


async def test_slack_button_from_a_user_id_with_a_surrogate(
    client: Client, accepted: dict[str, Any]
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U\ud800B", "name": "bob\x00"},
        "actions": [{"action_id": "firstresponder_ack", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await client.post(
        "/api/v1/slack/interactions", data=body, headers=slack_signed(body, SIGNING_SECRET)
    )
    assert response.status == 200
    incident = await call(client, "GET", "/api/v1/incidents/1", 200)
    assert incident["acknowledged_by"] == f"U{FFFD}B"


@pytest.mark.parametrize("value", ["²", "9" * 19, "1" * 5000])
async def test_slack_button_with_an_impossible_incident_id_is_ignored(
    client: Client, accepted: dict[str, Any], value: str
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "UBOB"},
        "actions": [{"action_id": "firstresponder_ack", "value": value}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await client.post(
        "/api/v1/slack/interactions", data=body, headers=slack_signed(body, SIGNING_SECRET)
    )
    assert response.status == 200
    assert await snapshot(client, 1) == accepted


# --- PagerDuty ----------------------------------------------------------------------------


def pagerduty_signed(body: bytes) -> dict[str, str]:
    mac = hmac.new(PAGERDUTY_WEBHOOK_SECRET.encode(), body, hashlib.sha256)
    return {"X-PagerDuty-Signature": f"v1={mac.hexdigest()}", "Content-Type": "application/json"}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
async def test_pagerduty_ack_by_a_name_with_bad_text(
    client: Client, accepted: dict[str, Any], bad: str
) -> None:
    event = {
        "event_type": "incident.acknowledged",
        "agent": {"summary": f"Al{bad}ice"},
        "data": {"number": f"8{bad}12", "incident_key": "firstresponder-1-eoc"},
    }
    body = json.dumps({"event": event}).encode()
    headers = {**pagerduty_signed(body), "X-Webhook-Id": "x" * 400}
    path = "/api/v1/pagerduty/webhook"
    answer = await call(client, "POST", path, 200, data=body, headers=headers)
    assert answer == {"status": "applied", "incident_id": 1}
    again = await call(client, "POST", path, 200, data=body, headers=headers)
    assert again["status"] == "duplicate"
    incident = await call(client, "GET", "/api/v1/incidents/1", 200)
    assert incident["acknowledged_by"] == f"Al{FFFD}ice (PagerDuty)"


async def test_pagerduty_body_nested_too_deeply_is_refused(client: Client) -> None:
    body = b'{"event": ' * 100_000
    answer = await call(
        client, "POST", "/api/v1/pagerduty/webhook", 400, data=body, headers=pagerduty_signed(body)
    )
    assert "nested too deeply" in answer["error"]
