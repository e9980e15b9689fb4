"""A quick yes for the webhook bodies Alertmanager sends, before the JSON Schema is asked.

`plain_alerts(body)` gives every alert's fields only when the decoded body satisfies
`ALERTMANAGER_SCHEMA` (payload.py), checked with plain type tests in a fraction of the
schema validator's time, reading each field once for the parser too. None means "not
sure": the schema then decides, and names the field when it refuses.
It may say None to a valid body (a float that is an integer, say) but never yes to an
invalid one; tests/unit/test_plain_check.py holds it (through `plainly_valid`) to that
against the schema itself.
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


# An alert's fields as the parser reads them: status, labels, annotations, startsAt,
# endsAt, generatorURL, fingerprint (None: absent or "", the parser makes one).
AlertFields = tuple[str, dict[str, str], dict[str, str], str, str | None, str, str | None]


def plain_alert(alert: Any) -> AlertFields | None:
    """The alert's fields when it plainly satisfies the schema, else None ("not sure")."""
    if type(alert) is not dict:
        return None
    status = alert.get("status")
    labels = alert.get("labels")
    starts = alert.get("startsAt")
    ends = alert.get("endsAt")
    fingerprint = alert.get("fingerprint")
    annotations = alert.get("annotations", _MISSING)
    generator = alert.get("generatorURL", "")
    if (
        status in _STATUSES
        and type(labels) is dict
        and len(labels) > 0
        and all(map(isinstance, labels.values(), repeat(str)))
        and type(starts) is str
        and len(starts) <= _MAX_TIME
        and (ends is None and "endsAt" not in alert or type(ends) is str and len(ends) <= _MAX_TIME)
        and (
            fingerprint is None
            and "fingerprint" not in alert
            or type(fingerprint) is str
            and 0 < len(fingerprint) <= _MAX_FINGERPRINT
        )
        and type(generator) is str
        and (annotations is _MISSING or _strings(annotations))
    ):
        return (
            status,
            labels,
            {} if annotations is _MISSING else annotations,
            starts,
            ends,
            generator,
            fingerprint,
        )
    return None


def plain_alerts(body: Any) -> list[AlertFields] | None:
    """Every alert's fields when the body plainly satisfies the schema, else None."""
    if type(body) is not dict or body.get("version") != "4":
        return None
    alerts = body.get("alerts")
    truncated = body.get("truncatedAlerts", 0)
    if not (
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
    ):
        return None
    found = []
    for alert in alerts:
        fields = plain_alert(alert)
        if fields is None:
            return None
        found.append(fields)
    return found


def plainly_valid(body: Any) -> bool:
    return plain_alerts(body) is not None
