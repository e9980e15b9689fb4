"""Parse and validate Alertmanager's webhook body (version 4) into a `Notification`.

Unknown extra fields are accepted: newer Alertmanagers add them (`notification_reason`,
`routeLabels`). Every error names the field, e.g. `alerts[2].startsAt`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from ..domain.alerts import ZERO_TIME_PREFIX, Alert, AlertStatus, Notification, labels_fingerprint
from ..domain.storable import storable, storable_map
from ..errors import PayloadError
from ..schema_messages import key_path
from .plain_check import AlertFields, plain_alerts

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_STATUS = {"enum": ["firing", "resolved"]}
_TIME = {"type": "string", "maxLength": 64}

ALERTMANAGER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "status", "alerts"],
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": _STATUS,
        "receiver": {"type": "string"},
        "groupLabels": _STRING_MAP,
        "commonLabels": _STRING_MAP,
        "commonAnnotations": _STRING_MAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["status", "labels", "startsAt"],
                "properties": {
                    "status": _STATUS,
                    "labels": {**_STRING_MAP, "minProperties": 1},
                    "annotations": _STRING_MAP,
                    "startsAt": _TIME,
                    "endsAt": _TIME,
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string", "minLength": 1, "maxLength": 64},
                },
            },
        },
    },
}
# A regular expression, not `in`: on Alertmanager's bodies it is faster than the
# substring search (bench/parse.py: about 2 us for 20 alerts, 3% of their parse).
_NUL_ESCAPE = re.compile(rb"\\u0000")
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def decode_json(body: bytes) -> Any:
    """The body as JSON. orjson reads it in half the standard library's time; a body it
    refuses (NaN, a lone surrogate, too deep, or simply malformed) is read again by the
    standard library, which decides, with the messages it has always given. One
    difference remains: orjson reads an integer past 64 bits as a float (the parser
    turns a whole `truncatedAlerts` back into an int either way)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _decode_json_stdlib(body)


def _decode_webhook(body: bytes) -> tuple[Any, bool]:
    """`decode_json`, and whether the body may hold text no store can (domain.storable).
    orjson refuses a lone surrogate, so only a body it decoded with a `\\u0000` escape
    (JSON has no other way to write a NUL) or one the standard library read may: every
    other body skips the cleaning, whose cost is then one search of the bytes."""
    try:
        return orjson.loads(body), _NUL_ESCAPE.search(body) is not None
    except orjson.JSONDecodeError:
        return _decode_json_stdlib(body), True


def _decode_json_stdlib(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise PayloadError("JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
        raise PayloadError(f"malformed JSON: {str(exc)[:120]}") from exc


class CheckedSchema:
    """A JSON Schema checked fast on the happy path (fastjsonschema compiles it to Python)
    and explained by jsonschema only when a body is rejected, for a message naming the field.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._fast = fastjsonschema.compile(schema)
        self._explain = jsonschema.Draft202012Validator(schema)

    def check(self, instance: Any) -> None:
        try:
            self._fast(instance)
            return
        except fastjsonschema.JsonSchemaException:
            pass
        except RecursionError as exc:
            raise PayloadError("JSON nested too deeply") from exc
        validate(instance, self._explain)


def validate(instance: Any, validator: jsonschema.protocols.Validator) -> None:
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    except RecursionError as exc:
        raise PayloadError("JSON nested too deeply") from exc
    if error is not None:
        where = key_path(error.absolute_path, top="(body)")
        message = error.message
        if len(message) > 200:
            shown = repr(error.instance)
            message = f"bad value {shown[:77]}... ({error.validator} {error.validator_value!r})"[
                :300
            ]
        raise PayloadError(f"{where}: {message}")


_NOTIFICATION = CheckedSchema(ALERTMANAGER_SCHEMA)


def parse_time(text: str, where: str) -> datetime:
    hit = _RFC3339.match(text)
    if hit is None:
        raise PayloadError(f"{where}: {text[:64]!r} is not an RFC 3339 timestamp")
    date, clock, fraction, zone = hit.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        base = datetime.fromisoformat(f"{date}T{clock}")
    except ValueError as exc:
        raise PayloadError(f"{where}: {text[:64]!r} is not a valid date: {exc}") from exc
    if zone in ("Z", "z"):
        return base.replace(microsecond=micros, tzinfo=UTC)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise PayloadError(f"{where}: {text[:64]!r} has an impossible UTC offset {zone}")
    offset = (1 if zone[0] == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    try:
        return base.replace(microsecond=micros, tzinfo=timezone(offset)).astimezone(UTC)
    except OverflowError as exc:
        raise PayloadError(f"{where}: {text[:64]!r} is out of range in UTC") from exc


_STATUSES = {status.value: status for status in AlertStatus}


def _time(text: str, seen: dict[str, datetime], index: int, key: str) -> datetime:
    """`parse_time`, once per distinct text in a notification (its alerts often share one)."""
    found = seen.get(text)
    if found is None:
        found = seen[text] = parse_time(text, f"alerts[{index}].{key}")
    return found


def _fields(raw: Mapping[str, Any]) -> AlertFields:
    """An alert's fields from a body the schema accepted (`plain_alert`'s shape)."""
    return (
        raw["status"],
        raw["labels"],
        raw.get("annotations", {}),
        raw["startsAt"],
        raw.get("endsAt"),
        raw.get("generatorURL", ""),
        raw.get("fingerprint"),
    )


def _storable_fields(fields: AlertFields) -> AlertFields:
    """The alert's text made storable, before a missing fingerprint is made from its labels."""
    status, labels, annotations, starts_raw, ends_raw, generator_url, fingerprint = fields
    return (
        status,
        storable_map(labels),
        storable_map(annotations),
        starts_raw,  # a time: parse_time refuses anything but digits and separators
        ends_raw,
        storable(generator_url),
        None if fingerprint is None else storable(fingerprint),
    )


def _alert(fields: AlertFields, index: int, seen: dict[str, datetime]) -> Alert:
    status, labels, annotations, starts_raw, ends_raw, generator_url, fingerprint = fields
    if starts_raw.startswith(ZERO_TIME_PREFIX):
        raise PayloadError(f"alerts[{index}].startsAt: the zero time is not a start time")
    return Alert(
        _STATUSES[status],
        labels,
        annotations,
        _time(starts_raw, seen, index, "startsAt"),
        None
        if not ends_raw or ends_raw.startswith(ZERO_TIME_PREFIX)
        else _time(ends_raw, seen, index, "endsAt"),
        generator_url,
        fingerprint or labels_fingerprint(labels),
    )


def parse_notification(body: bytes) -> Notification:
    """The notification, its text made storable: an alert is never refused for a NUL or a
    lone surrogate (Alertmanager would retry a 5xx forever and drop a 4xx)."""
    raw, suspect = _decode_webhook(body)
    fields = plain_alerts(raw)
    if fields is None:
        _NOTIFICATION.check(raw)  # refuses with the field named, or finds it valid after all
        fields = [_fields(item) for item in raw["alerts"]]
    if suspect:
        fields = [_storable_fields(item) for item in fields]
    seen: dict[str, datetime] = {}
    alerts = tuple(_alert(item, i, seen) for i, item in enumerate(fields))
    notification = Notification(
        receiver=raw.get("receiver", ""),
        status=AlertStatus(raw["status"]),
        group_key=raw.get("groupKey", ""),
        group_labels=raw.get("groupLabels", {}),
        common_labels=raw.get("commonLabels", {}),
        external_url=raw.get("externalURL", ""),
        # The schema's "integer" admits a whole float (3.0, or a huge count orjson read).
        truncated_alerts=int(raw.get("truncatedAlerts", 0)),
        alerts=alerts,
    )
    return _storable_notification(notification) if suspect else notification


def _storable_notification(notification: Notification) -> Notification:
    """The notification's own text made storable (its alerts' already is)."""
    return dataclasses.replace(
        notification,
        receiver=storable(notification.receiver),
        group_key=storable(notification.group_key),
        group_labels=storable_map(dict(notification.group_labels)),
        common_labels=storable_map(dict(notification.common_labels)),
        external_url=storable(notification.external_url),
    )
