"""Is this request from Slack? Its signing secret, checked with slack_sdk's verifier.

Slack signs `v0:<X-Slack-Request-Timestamp>:<raw body>` with HMAC-SHA256 and sends
`X-Slack-Signature: v0=<hex>`. Requests signed more than five minutes from `now` are
refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from slack_sdk.signature import Clock, SignatureVerifier

MAX_AGE_S = 5 * 60
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


class SignatureError(Exception):
    """The request is not provably from Slack; the message says why (no secrets in it)."""


class _At(Clock):
    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def verify(
    signing_secret: str, headers: Mapping[str, str], body: bytes | str, now: datetime
) -> None:
    """Return quietly for a request Slack signed within five minutes of `now`; else raise
    SignatureError naming what is wrong: a missing header, a stale timestamp, a bad
    signature. `body` is the raw body, exactly as received."""
    if not signing_secret.strip():
        raise ValueError("the Slack signing secret is empty")
    found = {name.lower(): value for name, value in headers.items()}
    timestamp = found.get(TIMESTAMP_HEADER.lower())
    signature = found.get(SIGNATURE_HEADER.lower())
    missing = [
        name
        for name, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature))
        if not value
    ]
    if missing or timestamp is None or signature is None:
        raise SignatureError(f"missing header {' and '.join(missing)}")
    _check_age(timestamp.strip(), now)
    if not signature.startswith("v0="):
        raise SignatureError(f"{SIGNATURE_HEADER} is not a v0= signature")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("body is not UTF-8") from None
    verifier = SignatureVerifier(signing_secret, clock=_At(now))
    if not verifier.is_valid(body=body, timestamp=timestamp.strip(), signature=signature.strip()):
        raise SignatureError(f"bad signature: {SIGNATURE_HEADER} does not match the body")


def _check_age(timestamp: str, now: datetime) -> None:
    if not timestamp.isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix time: {timestamp[:20]!r}")
    age = now.timestamp() - int(timestamp)
    if abs(age) > MAX_AGE_S:
        when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
        raise SignatureError(
            f"stale timestamp: {TIMESTAMP_HEADER} is {when} (at most {MAX_AGE_S} s allowed)"
        )
