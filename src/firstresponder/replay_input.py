"""Read a recording for `firstresponder replay`: JSON Lines, one webhook per line.

A line is `{"at": "<RFC 3339>", "payload": {<Alertmanager v4 body>}}`, or a bare body,
which is timed at its latest alert event (a firing alert's startsAt, a resolved one's
endsAt) and never before the line above it: a bare body says when its alerts changed,
not when it was delivered. Blank lines and `#` comments are skipped.

Every line is checked before anything is replayed, with the webhook's own validation
(`parse_notification`), so a replay never stops half-way on line 4,000 of a week. Every
problem names its line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .api.payload import decode_json, parse_notification, parse_time
from .clock import utc_iso
from .domain.alerts import Notification
from .errors import FirstResponderError, PayloadError

PROBLEMS_SHOWN = 20
_WRAPPER_KEYS = ("at", "payload")
_HOW_TO_WRAP = 'wrap it as {"at": "<RFC 3339 time>", "payload": {...}}'


class RecordingError(FirstResponderError):
    """The recording cannot be replayed; `problems` name the file or the line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class RecordedWebhook:
    line: int
    at: datetime
    notification: Notification
    timed_by_alerts: bool  # a bare body: `at` was read from its alerts


@dataclass(frozen=True)
class Recording:
    path: Path
    webhooks: tuple[RecordedWebhook, ...]

    @property
    def start(self) -> datetime:
        return self.webhooks[0].at

    @property
    def end(self) -> datetime:
        return self.webhooks[-1].at


def read_recording(path: Path) -> Recording:
    """Every webhook of the file, in time order; RecordingError lists every bad line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecordingError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    webhooks: list[RecordedWebhook] = []
    problems: list[str] = []
    for number, raw in _lines(data):
        previous = webhooks[-1] if webhooks else None
        try:
            webhooks.append(_webhook(number, raw, previous))
        except PayloadError as exc:
            problems.append(f"{path} line {number}: {exc}")
    if not webhooks and not problems:
        problems.append(f"{path}: no webhooks to replay (every line is blank or a # comment)")
    if problems:
        raise RecordingError(_capped(problems))
    return Recording(path, tuple(webhooks))


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(data.splitlines(), start=1):
        stripped = raw.strip()
        if stripped and not stripped.startswith(b"#"):
            yield number, stripped


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= PROBLEMS_SHOWN:
        return problems
    return [*problems[:PROBLEMS_SHOWN], f"... and {len(problems) - PROBLEMS_SHOWN} more"]


def _webhook(number: int, raw: bytes, previous: RecordedWebhook | None) -> RecordedWebhook:
    value = _json(raw)
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}")
    if any(key in value for key in _WRAPPER_KEYS):
        at, notification = _wrapped(value)
        if previous is not None and at < previous.at:
            raise PayloadError(
                f"at: {utc_iso(at)} is earlier than line {previous.line} ({utc_iso(previous.at)}); "
                "lines must be in time order"
            )
        return RecordedWebhook(number, at, notification, timed_by_alerts=False)
    notification = parse_notification(raw)
    at = _alerts_time(notification, previous)
    return RecordedWebhook(number, at, notification, timed_by_alerts=True)


def _json(raw: bytes) -> Any:
    """The line as JSON; the decoder's "line 1" is the file's line, named by the caller."""
    try:
        return decode_json(raw)
    except PayloadError as exc:
        message = str(exc).replace(" at line 1 column ", " at column ")
        raise PayloadError(message.replace("body is not", "not")) from exc


def _wrapped(value: dict[str, Any]) -> tuple[datetime, Notification]:
    for key in _WRAPPER_KEYS:
        if key not in value:
            raise PayloadError(f"{key}: missing ({_HOW_TO_WRAP})")
    at = value["at"]
    if not isinstance(at, str):
        raise PayloadError(f"at: expected an RFC 3339 time string, got {type(at).__name__}")
    when = parse_time(at, "at")
    # Written back as the standard library reads it (NaN, huge integers), then checked as
    # the webhook checks a body.
    body = json.dumps(value["payload"]).encode()
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        raise PayloadError(f"payload: {exc}") from exc
    return when, notification


def _alerts_time(notification: Notification, previous: RecordedWebhook | None) -> datetime:
    """When a bare body's alerts last changed, but never before the previous line."""
    times = [
        alert.starts_at if alert.is_firing or alert.ends_at is None else alert.ends_at
        for alert in notification.alerts
    ]
    if previous is not None:
        times.append(previous.at)
    if not times:
        raise PayloadError(f"a bare payload without alerts has no time; {_HOW_TO_WRAP}")
    return max(times)
