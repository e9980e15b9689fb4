"""Slack request signatures, checked with slack_sdk's verifier on an injected clock."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from firstresponder.slack.signature import SignatureError, verify

# Slack's published example (docs "Verifying requests from Slack"; python-slack-sdk
# tests/slack_sdk/signature/test_signature_verifier.py).
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SIGNED_AT = datetime.fromtimestamp(int(TIMESTAMP), UTC)


def headers(timestamp: str = TIMESTAMP, signature: str = SIGNATURE) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def reason(
    header_values: dict[str, str], body: bytes | str = BODY, now: datetime = SIGNED_AT
) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(SECRET, header_values, body, now)
    assert SECRET not in str(caught.value)
    return str(caught.value)


def test_slacks_published_example_verifies() -> None:
    verify(SECRET, headers(), BODY, SIGNED_AT)
    verify(SECRET, headers(), BODY.encode(), SIGNED_AT)


def test_header_names_are_case_insensitive() -> None:
    lower = {name.lower(): value for name, value in headers().items()}
    verify(SECRET, lower, BODY, SIGNED_AT)


@pytest.mark.parametrize("skew", [timedelta(seconds=300), timedelta(seconds=-300)])
def test_five_minutes_either_way_is_still_fresh(skew: timedelta) -> None:
    verify(SECRET, headers(), BODY, SIGNED_AT + skew)


def test_a_stale_timestamp_is_refused_even_with_a_good_signature() -> None:
    message = reason(headers(), now=SIGNED_AT + timedelta(seconds=301))
    assert message.startswith("stale timestamp")
    assert "301 s old" in message


def test_a_timestamp_from_the_future_is_refused() -> None:
    message = reason(headers(), now=SIGNED_AT - timedelta(minutes=10))
    assert message.startswith("stale timestamp") and "600 s in the future" in message


def test_a_fresh_request_signed_now_verifies() -> None:
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    stamp = str(int(now.timestamp()))
    verify(SECRET, headers(stamp, sign("payload=%7B%7D", stamp)), "payload=%7B%7D", now)


@pytest.mark.parametrize(
    ("signature", "body"),
    [
        ("v0=" + "0" * 64, BODY),
        (SIGNATURE, BODY + "&extra=1"),
        (SIGNATURE.upper().replace("V0=", "v0="), BODY),
        (sign(BODY, TIMESTAMP, "another-secret"), BODY),
    ],
    ids=["zeros", "body-changed", "uppercase-hex", "other-secret"],
)
def test_a_bad_signature_is_refused(signature: str, body: str) -> None:
    assert reason(headers(signature=signature), body).startswith("bad signature")


def test_a_signature_for_another_timestamp_is_refused() -> None:
    later = str(int(TIMESTAMP) + 1)
    assert reason(headers(timestamp=later)).startswith("bad signature")


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ({"X-Slack-Signature": SIGNATURE}, "X-Slack-Request-Timestamp"),
        ({"X-Slack-Request-Timestamp": TIMESTAMP}, "X-Slack-Signature"),
        ({}, "X-Slack-Request-Timestamp and X-Slack-Signature"),
        (
            {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": SIGNATURE},
            "X-Slack-Request-Timestamp",
        ),
    ],
)
def test_missing_headers_are_named(present: dict[str, str], missing: str) -> None:
    assert reason(present) == f"missing header {missing}"


def test_a_timestamp_that_is_not_a_number_is_named() -> None:
    assert "not a Unix time" in reason(headers(timestamp="yesterday"))


def test_only_v0_signatures_are_understood() -> None:
    assert "not a v0= signature" in reason(headers(signature="v1=" + SIGNATURE[3:]))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    assert reason(headers(), BODY.encode() + b"\xff") == "body is not UTF-8"


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="signing secret is empty"):
        verify(" ", headers(), BODY, SIGNED_AT)
