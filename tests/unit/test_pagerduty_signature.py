"""PagerDuty webhooks v3 signatures: `v1=<hex HMAC-SHA256(secret, raw body)>`, several at once."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from firstresponder.api.pagerduty_webhook import parse_event, verify_signature
from firstresponder.errors import PayloadError

BODY = b'{"event":{"event_type":"incident.acknowledged","data":{"incident_key":"firstresponder-12-eoc"}}}'


def sign(secret: str, body: bytes = BODY) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signature_made_with_the_secret_is_accepted() -> None:
    assert verify_signature(["s3cret"], BODY, sign("s3cret"))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=",
        "v0=" + sign("s3cret")[3:],
        sign("other"),
        sign("s3cret", BODY + b" "),
        "garbage",
    ],
    ids=[
        "missing",
        "empty",
        "no-digest",
        "wrong-version",
        "wrong-secret",
        "body-changed",
        "garbage",
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    assert not verify_signature(["s3cret"], BODY, header)


def test_rotation_several_signatures_in_the_header_any_one_will_do() -> None:
    header = f"{sign('old-secret')},{sign('new-secret')}"
    assert verify_signature(["new-secret"], BODY, header)
    assert verify_signature(["old-secret"], BODY, header)
    assert not verify_signature(["third"], BODY, header)


def test_rotation_several_configured_secrets_any_one_will_do() -> None:
    assert verify_signature(["old-secret", "new-secret"], BODY, sign("new-secret"))
    assert verify_signature(["old-secret", "new-secret"], BODY, f" {sign('old-secret')} ")


def test_no_configured_secret_accepts_nothing() -> None:
    assert not verify_signature([], BODY, sign(""))


def test_events_name_our_incident_by_dedup_key() -> None:
    def event(key: object, kind: str = "incident.acknowledged") -> bytes:
        data = {"incident_key": key, "number": 812}
        return json.dumps(
            {"event": {"event_type": kind, "agent": {"summary": "Alice"}, "data": data}}
        ).encode()

    parsed = parse_event(event("firstresponder-12-imoc"))
    assert (parsed.incident_id, parsed.agent, parsed.pagerduty_incident) == (12, "Alice", "812")
    assert parse_event(event("firstresponder-12-imoc-r2")).incident_id == 12
    for foreign in ("other-12-eoc", "firstresponder-x-eoc", "firstresponder-12-lead", None, 12):
        assert parse_event(event(foreign)).incident_id is None


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"event": 1}', b'{"event": {"data": {}}}', b"\xff"]
)
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_event(body)
