"""Malformed and hostile requests: each gets a 4xx JSON error naming what is wrong, never a 5xx.

Alertmanager does not retry 4xx, so a wrong 5xx here would make it hammer the daemon, and a
wrong 2xx would drop alerts silently. An incident accepted before the bad requests must come
through untouched. Every case runs on SQLite and on PostgreSQL (skipped, saying where it
looked, when no PostgreSQL server answers): text one store holds and the other refuses
(a NUL, a lone surrogate) must be refused the same way on both. Text that is accepted and
made storable instead (webhooks from Alertmanager, PagerDuty, Slack) is in test_bad_text.py.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from firstresponder.config import Config, load_config

from ..factories import API_TOKEN, WEBHOOK_TOKEN, ZERO, make_alert, make_payload, write_config
from .support import (
    DOC,
    SLOTH_PAGE,
    WEBHOOK,
    Client,
    basic,
    metric,
    payload_from,
    post_alerts,
    snapshot,
    stored_event_count,
)

MAX_BODY = 1024 * 1024  # the config's default server.max_body_size
HOOK = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
API = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
JSON_ONLY = {"Content-Type": "application/json"}
MISSING = object()
Body = Callable[[], Any]


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    message: str  # a substring the error message must contain
    body: Body | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: HOOK)


def raw(data: bytes) -> Body:
    return lambda: data


def doc(value: Any) -> Body:
    return raw(json.dumps(value).encode())


def _changed(target: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is MISSING:
            target.pop(key, None)
        else:
            target[key] = value
    return target


def intruder(**changes: Any) -> dict[str, Any]:
    """A firing alert the accepted incident has never seen: accepting it would show."""
    alert = make_alert(labels={"alertname": "Intruder"}, fingerprint="fp-intruder")
    return _changed(alert, changes)


def hook(**changes: Any) -> Body:
    """A webhook body: the intruder alert's notification with top-level fields changed."""
    return doc(_changed(make_payload(intruder()), changes))


def hook_alert(**changes: Any) -> Body:
    """A webhook body whose single alert has these fields changed."""
    payload = make_payload(intruder())
    payload["alerts"] = [intruder(**changes)]
    return doc(payload)


def huge_payload() -> bytes:
    alert = intruder(annotations={"description": "x" * MAX_BODY})
    return json.dumps(make_payload(alert)).encode()


def huge_with_length() -> io.BytesIO:
    return io.BytesIO(huge_payload())


def huge_chunked() -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        data = huge_payload()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    return chunks()


def auth(value: str) -> dict[str, str]:
    return {"Authorization": value, "Content-Type": "application/json"}


def b64(text: bytes) -> str:
    return base64.b64encode(text).decode()


# One line per case reads as a table; the formatter would spread each over ten.
# fmt: off
WEBHOOK_FIELDS = [
    Case("version-3", "POST", WEBHOOK, 400, "version", hook(version="3")),
    Case("version-int", "POST", WEBHOOK, 400, "version", hook(version=4)),
    Case("version-missing", "POST", WEBHOOK, 400, "'version' is a required", hook(version=MISSING)),
    Case("status-missing", "POST", WEBHOOK, 400, "'status' is a required", hook(status=MISSING)),
    Case("alerts-missing", "POST", WEBHOOK, 400, "'alerts' is a required", hook(alerts=MISSING)),
    Case("status-unknown", "POST", WEBHOOK, 400, "status: 'pending'", hook(status="pending")),
    Case("alerts-object", "POST", WEBHOOK, 400, "alerts: {} is not of type 'array'", hook(alerts={})),
    Case("alert-number", "POST", WEBHOOK, 400, "alerts[0]: 1 is not of type 'object'", hook(alerts=[1])),
    Case("groupKey-null", "POST", WEBHOOK, 400, "groupKey: None", hook(groupKey=None)),
    Case("receiver-int", "POST", WEBHOOK, 400, "receiver: 7", hook(receiver=7)),
    Case("externalURL-list", "POST", WEBHOOK, 400, "externalURL", hook(externalURL=["x"])),
    Case("truncated-negative", "POST", WEBHOOK, 400, "truncatedAlerts: -1", hook(truncatedAlerts=-1)),
    Case("truncated-string", "POST", WEBHOOK, 400, "truncatedAlerts: '3'", hook(truncatedAlerts="3")),
    Case("truncated-float", "POST", WEBHOOK, 400, "truncatedAlerts: 1.5", hook(truncatedAlerts=1.5)),
    Case("truncated-bool", "POST", WEBHOOK, 400, "truncatedAlerts: True", hook(truncatedAlerts=True)),
    Case("truncated-5000-digits", "POST", WEBHOOK, 400, "malformed JSON", raw(b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": ' + b"9" * 5000 + b"}")),
    Case("groupLabels-int", "POST", WEBHOOK, 400, "groupLabels.alertname", hook(groupLabels={"alertname": 1})),
    Case("commonLabels-list", "POST", WEBHOOK, 400, "commonLabels", hook(commonLabels=["a"])),
    Case("alert-labels-missing", "POST", WEBHOOK, 400, "alerts[0]: 'labels' is a required", hook_alert(labels=MISSING)),
    Case("alert-startsAt-missing", "POST", WEBHOOK, 400, "alerts[0]: 'startsAt' is a required", hook_alert(startsAt=MISSING)),
    Case("alert-status-missing", "POST", WEBHOOK, 400, "alerts[0]: 'status' is a required", hook_alert(status=MISSING)),
    Case("alert-status-suppressed", "POST", WEBHOOK, 400, "alerts[0].status", hook_alert(status="suppressed")),
    Case("alert-labels-list", "POST", WEBHOOK, 400, "alerts[0].labels", hook_alert(labels=["service"])),
    Case("alert-label-int", "POST", WEBHOOK, 400, "alerts[0].labels.service: 5", hook_alert(labels={"service": 5})),
    Case("alert-label-null", "POST", WEBHOOK, 400, "alerts[0].labels.service: None", hook_alert(labels={"service": None})),
    Case("alert-label-nested", "POST", WEBHOOK, 400, "alerts[0].labels.service", hook_alert(labels={"service": {"a": "b"}})),
    Case("alert-labels-empty", "POST", WEBHOOK, 400, "alerts[0].labels: {} should be non-empty", hook_alert(labels={})),
    Case("alert-annotation-int", "POST", WEBHOOK, 400, "alerts[0].annotations.summary", hook_alert(annotations={"summary": 3})),
    Case("alert-startsAt-int", "POST", WEBHOOK, 400, "alerts[0].startsAt: 1700000000", hook_alert(startsAt=1700000000)),
    Case("alert-startsAt-words", "POST", WEBHOOK, 400, "alerts[0].startsAt: 'yesterday'", hook_alert(startsAt="yesterday")),
    Case("alert-startsAt-month-13", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="2026-13-01T00:00:00Z")),
    Case("alert-startsAt-hour-25", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="2026-11-23T25:00:00Z")),
    Case("alert-startsAt-no-zone", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="2026-11-23T03:00:00")),
    Case("alert-startsAt-zero", "POST", WEBHOOK, 400, "alerts[0].startsAt: the zero time", hook_alert(startsAt=ZERO)),
    Case("alert-startsAt-offset-99", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="2026-11-23T03:00:00+99:99")),
    Case("alert-startsAt-past-9999", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="9999-12-31T23:59:59-01:00")),
    Case("alert-startsAt-too-long", "POST", WEBHOOK, 400, "alerts[0].startsAt", hook_alert(startsAt="2026-11-23T03:00:00." + "1" * 80 + "Z")),
    Case("alert-endsAt-words", "POST", WEBHOOK, 400, "alerts[0].endsAt: 'soon'", hook_alert(status="resolved", endsAt="soon")),
    Case("alert-endsAt-int", "POST", WEBHOOK, 400, "alerts[0].endsAt", hook_alert(endsAt=0)),
    Case("alert-generatorURL-int", "POST", WEBHOOK, 400, "alerts[0].generatorURL", hook_alert(generatorURL=1)),
    Case("alert-fingerprint-empty", "POST", WEBHOOK, 400, "alerts[0].fingerprint", hook_alert(fingerprint="")),
    Case("alert-fingerprint-long", "POST", WEBHOOK, 400, "alerts[0].fingerprint", hook_alert(fingerprint="f" * 65)),
    Case("second-alert-bad", "POST", WEBHOOK, 400, "alerts[1].startsAt", doc(make_payload(intruder(), intruder(fingerprint="fp-2", startsAt="2026-11-31T00:00:00Z")))),
]

WEBHOOK_BODIES = [
    Case("empty-body", "POST", WEBHOOK, 400, "malformed JSON", raw(b"")),
    Case("blank-body", "POST", WEBHOOK, 400, "malformed JSON", raw(b"  \n ")),
    Case("not-json", "POST", WEBHOOK, 400, "malformed JSON at line 1 column 1", raw(b"hello")),
    Case("cut-off-json", "POST", WEBHOOK, 400, "malformed JSON", raw(b'{"version": "4", "alerts": [')),
    Case("json-array", "POST", WEBHOOK, 400, "(body): [] is not of type 'object'", raw(b"[]")),
    Case("json-string", "POST", WEBHOOK, 400, "(body): 'x' is not of type 'object'", raw(b'"x"')),
    Case("json-null", "POST", WEBHOOK, 400, "(body): None is not of type 'object'", raw(b"null")),
    Case("non-utf8", "POST", WEBHOOK, 400, "not valid UTF-8", raw(b'{"version": "\xff\xfe"}')),
    Case("nested-lists", "POST", WEBHOOK, 400, "nested too deeply", raw(b"[" * 100_000)),
    Case("nested-objects", "POST", WEBHOOK, 400, "nested too deeply", raw(b'{"a":' * 100_000)),
    Case("nan", "POST", WEBHOOK, 400, "truncatedAlerts: nan", raw(b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": NaN}')),
    Case("huge-content-length", "POST", WEBHOOK, 413, "too large", huge_with_length),
    Case("huge-chunked", "POST", WEBHOOK, 413, "too large", huge_chunked),
    Case("text-plain", "POST", WEBHOOK, 415, "Content-Type must be application/json", hook(), auth(f"Bearer {WEBHOOK_TOKEN}") | {"Content-Type": "text/plain"}),
    Case("form-encoded", "POST", WEBHOOK, 415, "'application/x-www-form-urlencoded'", hook(), auth(f"Bearer {WEBHOOK_TOKEN}") | {"Content-Type": "application/x-www-form-urlencoded"}),
    Case("no-content-type", "POST", WEBHOOK, 415, "'application/octet-stream'", hook(), {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
]

WEBHOOK_AUTH = [
    Case("no-credentials", "POST", WEBHOOK, 401, "webhook credentials", hook(), JSON_ONLY),
    Case("wrong-token", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth("Bearer not-the-token")),
    Case("api-token-on-webhook", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(f"Bearer {API_TOKEN}")),
    Case("empty-bearer", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth("Bearer ")),
    Case("wrong-scheme", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(f"Token {WEBHOOK_TOKEN}")),
    Case("token-without-scheme", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(WEBHOOK_TOKEN)),
    Case("basic-bad-base64", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth("Basic !!!not-base64")),
    Case("basic-no-colon", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth("Basic " + b64(b"alertmanager"))),
    Case("basic-wrong-password", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(basic("alertmanager", "guess"))),
    Case("basic-wrong-user", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(basic("root", "am-secret"))),
    Case("basic-not-utf8", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth("Basic " + b64(b"\xff\xfe:\xfd"))),
    Case("basic-token-as-password", "POST", WEBHOOK, 401, "webhook credentials", hook(), auth(basic("alertmanager", WEBHOOK_TOKEN))),
]

ROUTING = [
    Case("webhook-get", "GET", WEBHOOK, 405, "method GET not allowed on /api/v1/alertmanager"),
    Case("webhook-put", "PUT", WEBHOOK, 405, "method PUT not allowed", hook()),
    Case("webhook-delete", "DELETE", WEBHOOK, 405, "method DELETE not allowed"),
    Case("incidents-patch", "PATCH", "/api/v1/incidents", 405, "method PATCH not allowed", doc({}), API),
    Case("incident-delete", "DELETE", "/api/v1/incidents/1", 405, "method DELETE not allowed", None, API),
    Case("unknown-path", "GET", "/nope", 404, "no such endpoint: GET /nope"),
    Case("unknown-version", "POST", "/api/v2/alertmanager", 404, "no such endpoint: POST /api/v2/alertmanager", hook()),
    Case("id-not-integer", "GET", "/api/v1/incidents/abc", 404, "/api/v1/incidents/abc"),
    Case("id-fraction", "GET", "/api/v1/incidents/1.5/timeline", 404, "/api/v1/incidents/1.5/timeline"),
    Case("id-negative", "GET", "/api/v1/incidents/-1", 404, "/api/v1/incidents/-1"),
    Case("id-too-long", "GET", "/api/v1/incidents/" + "9" * 40, 404, "/api/v1/incidents/999"),
    Case("id-not-integer-ack", "POST", "/api/v1/incidents/abc/ack", 404, "/api/v1/incidents/abc/ack", doc({}), API),
    Case("id-absent", "GET", "/api/v1/incidents/99999", 404, "incident 99999 not found"),
    Case("id-absent-timeline", "GET", "/api/v1/incidents/99999/timeline", 404, "incident 99999 not found"),
    Case("id-absent-ack", "POST", "/api/v1/incidents/99999/ack", 404, "incident 99999 not found", doc({}), API),
]

LIST = "/api/v1/incidents"
QUERIES = [
    Case("limit-zero", "GET", f"{LIST}?limit=0", 400, "query parameter limit: '0'"),
    Case("limit-word", "GET", f"{LIST}?limit=ten", 400, "query parameter limit: 'ten'"),
    Case("limit-negative", "GET", f"{LIST}?limit=-5", 400, "query parameter limit: '-5'"),
    Case("limit-superscript", "GET", f"{LIST}?limit=%C2%B2", 400, "query parameter limit"),
    Case("limit-float", "GET", f"{LIST}?limit=1.5", 400, "query parameter limit: '1.5'"),
    Case("before-huge", "GET", f"{LIST}?before=" + "9" * 30, 400, "query parameter before"),
    Case("before-empty", "GET", f"{LIST}?before=", 400, "query parameter before: ''"),
    Case("state-unknown", "GET", f"{LIST}?state=panicking", 400, "query parameter state: 'panicking'"),
    Case("severity-unknown", "GET", f"{LIST}?severity=S9", 400, "query parameter severity: unknown severity 'S9'"),
    Case("open-maybe", "GET", f"{LIST}?open=maybe", 400, "query parameter open: 'maybe'"),
    Case("near-misses-limit", "GET", "/api/v1/near-misses?limit=all", 400, "query parameter limit: 'all'"),
]

ACK = "/api/v1/incidents/1/ack"
MUTATIONS = [
    Case("declare-no-token", "POST", LIST, 401, "needs an API token", doc({"service": "x", "title": "t"}), JSON_ONLY),
    Case("declare-bad-token", "POST", LIST, 401, "unknown API token", doc({"service": "x", "title": "t"}), auth("Bearer nope")),
    Case("declare-webhook-token", "POST", LIST, 401, "unknown API token", doc({"service": "x", "title": "t"}), auth(f"Bearer {WEBHOOK_TOKEN}")),
    Case("declare-basic", "POST", LIST, 401, "needs an API token", doc({"service": "x", "title": "t"}), auth(basic("alertmanager", "am-secret"))),
    Case("declare-no-token-bad-body", "POST", LIST, 401, "needs an API token", raw(b"{oops"), JSON_ONLY),
    Case("ack-no-token", "POST", ACK, 401, "needs an API token", doc({}), JSON_ONLY),
    Case("resolve-bad-token", "POST", "/api/v1/incidents/1/resolve", 401, "unknown API token", doc({}), auth("Bearer nope")),
    Case("declare-malformed", "POST", LIST, 400, "malformed JSON", raw(b'{"service": '), API),
    Case("declare-array", "POST", LIST, 400, "(body): [] is not of type 'object'", raw(b"[]"), API),
    Case("declare-empty", "POST", LIST, 400, "'service' is a required property", None, API),
    Case("declare-no-title", "POST", LIST, 400, "'title' is a required property", doc({"service": "search"}), API),
    Case("declare-extra-field", "POST", LIST, 400, "'colour' was unexpected", doc({"service": "search", "title": "t", "colour": "red"}), API),
    Case("declare-impact-enum", "POST", LIST, 400, "impact: 'catastrophic'", doc({"service": "search", "title": "t", "impact": "catastrophic"}), API),
    Case("declare-severity-enum", "POST", LIST, 400, "severity: 'S7'", doc({"service": "search", "title": "t", "severity": "S7"}), API),
    Case("declare-title-empty", "POST", LIST, 400, "title: '' should be non-empty", doc({"service": "search", "title": ""}), API),
    Case("declare-service-int", "POST", LIST, 400, "service: 42", doc({"service": 42, "title": "t"}), API),
    Case("declare-label-int", "POST", LIST, 400, "labels.team: 1", doc({"service": "search", "title": "t", "labels": {"team": 1}}), API),
    Case("declare-nested", "POST", LIST, 400, "nested too deeply", raw(b"[" * 100_000), API),
    Case("declare-non-utf8", "POST", LIST, 400, "not valid UTF-8", raw(b'{"service": "\xc3"}'), API),
    Case("declare-text-plain", "POST", LIST, 415, "Content-Type must be application/json", raw(b"service=x"), auth(f"Bearer {API_TOKEN}") | {"Content-Type": "text/plain"}),
    Case("declare-huge", "POST", LIST, 413, "too large", huge_with_length, API),
    Case("ack-extra-field", "POST", ACK, 400, "'force' was unexpected", doc({"force": True}), API),
    Case("ack-by-empty", "POST", ACK, 400, "by: '' should be non-empty", doc({"by": ""}), API),
    Case("ack-by-too-long", "POST", ACK, 400, "by: ", doc({"by": "x" * 201}), API),
    Case("state-missing", "POST", "/api/v1/incidents/1/state", 400, "'state' is a required property", doc({}), API),
    Case("state-enum", "POST", "/api/v1/incidents/1/state", 400, "state: 'fixed'", doc({"state": "fixed"}), API),
    Case("state-int", "POST", "/api/v1/incidents/1/state", 400, "state: 3", doc({"state": 3}), API),
    Case("role-enum", "POST", "/api/v1/incidents/1/roles", 400, "role: 'boss'", doc({"role": "boss", "person": "x"}), API),
    Case("role-no-person", "POST", "/api/v1/incidents/1/roles", 400, "'person' is a required property", doc({"role": "imoc"}), API),
    Case("note-empty", "POST", "/api/v1/incidents/1/notes", 400, "text: '' should be non-empty", doc({"text": ""}), API),
    Case("note-int", "POST", "/api/v1/incidents/1/notes", 400, "text: 5", doc({"text": 5}), API),
    Case("severity-word", "POST", "/api/v1/incidents/1/severity", 400, "severity: 'high'", doc({"severity": "high"}), API),
    Case("resolve-note-int", "POST", "/api/v1/incidents/1/resolve", 400, "note: 1", doc({"note": 1}), API),
    Case("declare-label-nan", "POST", LIST, 400, "labels.team: nan is not of type 'string'", raw(b'{"service": "search", "title": "t", "labels": {"team": NaN}}'), API),
    Case("declare-title-infinity", "POST", LIST, 400, "title: inf is not of type 'string'", raw(b'{"service": "search", "title": Infinity}'), API),
    Case("webhook-truncated-infinity", "POST", WEBHOOK, 400, "truncatedAlerts: inf", raw(b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": Infinity}')),
    Case("list-service-nul", "GET", f"{LIST}?service=%00", 400, "query parameter service: holds a NUL character"),
]

# fmt: on
# Text no store can hold, in every text field of every POST under /api/v1/incidents: a
# person sent it, so it is refused, naming the field, on both stores alike.
UNSTORABLE = {
    "nul": ("\x00", "holds a NUL character (\\u0000)"),
    "surrogate": ("\ud800", "holds a lone surrogate (\\ud800)"),
}
DECLARE = {"service": "search", "title": "t"}
ITEM = {"title": "t", "owner": "o", "criticality": "high", "due": "2026-12-01"}
# (path, a valid body, the field given bad text, where the message says it is)
TEXT_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    (LIST, DECLARE, "service"),
    (LIST, DECLARE, "title"),
    (LIST, DECLARE, "description"),
    (LIST, DECLARE, "by"),
    (LIST, {**DECLARE, "labels": {"team": "x"}}, "labels.team"),
    (LIST, {**DECLARE, "labels": {"team": "x"}}, "labels key"),
    (ACK, {}, "by"),
    ("/api/v1/incidents/1/state", {"state": "identified"}, "note"),
    ("/api/v1/incidents/1/state", {"state": "identified"}, "by"),
    ("/api/v1/incidents/1/roles", {"role": "imoc", "person": "p"}, "person"),
    ("/api/v1/incidents/1/roles", {"role": "imoc", "person": "p"}, "by"),
    ("/api/v1/incidents/1/notes", {"text": "t"}, "text"),
    ("/api/v1/incidents/1/notes", {"text": "t"}, "by"),
    ("/api/v1/incidents/1/resolve", {}, "note"),
    ("/api/v1/incidents/1/resolve", {}, "by"),
    ("/api/v1/incidents/1/severity", {"severity": "S2"}, "by"),
    ("/api/v1/incidents/1/action-items", ITEM, "title"),
    ("/api/v1/incidents/1/action-items", ITEM, "owner"),
    ("/api/v1/incidents/1/action-items", ITEM, "by"),
]


def _with_bad_text(body: dict[str, Any], where: str, bad: str) -> tuple[dict[str, Any], str]:
    """The body with `bad` inside the field, and the field as the message names it."""
    changed = json.loads(json.dumps(body))
    if where == "labels key":
        key = f"te{bad}am"
        changed["labels"] = {key: "x"}
        return changed, f"labels: the key {key!r}"
    if where == "labels.team":
        changed["labels"]["team"] = f"a{bad}b"
        return changed, "labels.team:"
    changed[where] = f"a{bad}b"
    return changed, f"{where}:"


def unstorable_cases() -> list[Case]:
    cases = []
    for path, body, where in TEXT_FIELDS:
        for kind, (bad, words) in UNSTORABLE.items():
            changed, named = _with_bad_text(body, where, bad)
            name = f"{path.rsplit('/', 1)[-1]}-{where.replace(' ', '-')}-{kind}"
            message = f"{named} {words}"
            cases.append(Case(name, "POST", path, 400, message, doc(changed), API))
    return cases


UNSTORABLE_API = unstorable_cases()
CASES = [
    *(WEBHOOK_FIELDS + WEBHOOK_BODIES + WEBHOOK_AUTH),
    *(ROUTING + QUERIES + MUTATIONS + UNSTORABLE_API),
]


async def expect_refusal(client: Client, case: Case) -> None:
    data = case.body() if case.body is not None else None
    response = await client.request(case.method, case.path, data=data, headers=dict(case.headers))
    text = await response.text()
    assert response.status == case.status, f"{case.id}: {response.status} {text}"
    assert response.content_type == "application/json", f"{case.id}: {response.content_type}"
    body = json.loads(text)
    assert list(body) == ["error"], f"{case.id}: {body}"
    assert case.message in body["error"], f"{case.id}: {body['error']!r}"
    if case.status == 401:
        assert response.headers["WWW-Authenticate"].endswith('realm="firstresponder"')
    if case.status == 405:
        assert response.headers["Allow"]
    DOC.schema("Error").validate(body)
    path = case.path.partition("?")[0]
    template = DOC.template(path)
    if template is not None and case.method.lower() in DOC.document["paths"][template]:
        DOC.check(case.method, path, case.status, body)  # the status is documented too


@pytest.fixture
def config(tmp_path: Path, app_store_url: str) -> Config:
    """The app on SQLite, then on PostgreSQL (tests/integration/conftest.py)."""
    return load_config(write_config(tmp_path, store={"url": app_store_url}))


@pytest.fixture
async def accepted(client: Client, hook_headers: dict[str, str]) -> dict[str, Any]:
    """Incident 1, accepted before any bad request arrives, as a user sees it."""
    answer = await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    assert answer["incidents"] == [1]
    return await snapshot(client, 1)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_bad_request_is_refused_with_a_message(
    client: Client, accepted: dict[str, Any], case: Case
) -> None:
    await expect_refusal(client, case)
    assert await snapshot(client, 1) == accepted


async def test_incident_survives_the_whole_suite(
    client: Client, accepted: dict[str, Any], config: Config
) -> None:
    for case in CASES:
        await expect_refusal(client, case)
    assert await snapshot(client, 1) == accepted
    assert await stored_event_count(config) == 2
    for code in ("500", "502", "503"):
        assert await metric(client, "firstresponder_webhook_requests_total", code=code) == 0
    webhook_cases = [c for c in CASES if c.path == WEBHOOK and c.method == "POST"]
    refused = sum(
        [
            await metric(client, "firstresponder_webhook_requests_total", code=str(code))
            for code in (400, 401, 413, 415)
        ]
    )
    assert refused == len(webhook_cases)
