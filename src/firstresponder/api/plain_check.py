"""A quick yes for the webhook bodies Alertmanager sends, before the JSON Schema is asked.

`plainly_valid(body)` is True only when the decoded body satisfies `ALERTMANAGER_SCHEMA`
(payload.py), checked with plain type tests in a fraction of the schema validator's time.
False means "not sure": the schema then decides, and names the field when it refuses.
It may say False to a valid body (a float that is an integer, say) but never True to an
invalid one; tests/unit/test_plain_check.py holds it to that against the schema itself.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

_STATUSES = ("firing", "resolved")
_MISSING: Any = object()
_MAX_TIME = 64  # maxLength of startsAt and endsAt
_MAX_FINGERPRINT = 64


def _strings(value: Any) -> bool:
    """An object whose values are all strings (the schema's string maps)."""
    return type(value) is dict and all(map(isinstance, value.values(), repeat(str)))


def _optional_strings(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, _MISSING)
    return value is _MISSING or _strings(value)


def _optional_string(raw: dict[str, Any], key: str) -> bool:
    return type(raw.get(key, "")) is str


def _plain_alert(alert: Any) -> bool:
    if type(alert) is not dict:
        return False
    labels = alert.get("labels")
    starts = alert.get("startsAt")
    ends = alert.get("endsAt", "")
    fingerprint = alert.get("fingerprint", "-")
    annotations = alert.get("annotations", _MISSING)
    return (
        alert.get("status") in _STATUSES
        and type(labels) is dict
        and len(labels) > 0
        and all(map(isinstance, labels.values(), repeat(str)))
        and type(starts) is str
        and len(starts) <= _MAX_TIME
        and type(ends) is str
        and len(ends) <= _MAX_TIME
        and type(fingerprint) is str
        and 0 < len(fingerprint) <= _MAX_FINGERPRINT
        and type(alert.get("generatorURL", "")) is str
        and (annotations is _MISSING or _strings(annotations))
    )


def plainly_valid(body: Any) -> bool:
    if type(body) is not dict or body.get("version") != "4":
        return False
    alerts = body.get("alerts")
    truncated = body.get("truncatedAlerts", 0)
    return (
        type(alerts) is list
        and body.get("status") in _STATUSES
        and type(truncated) is int
        and truncated >= 0
        and _optional_string(body, "groupKey")
        and _optional_string(body, "receiver")
        and _optional_string(body, "externalURL")
        and _optional_strings(body, "groupLabels")
        and _optional_strings(body, "commonLabels")
        and _optional_strings(body, "commonAnnotations")
        and all(_plain_alert(alert) for alert in alerts)
    )
