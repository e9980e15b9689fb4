"""The quick check never says yes to a body the Alertmanager JSON Schema refuses."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from firstresponder.api.payload import ALERTMANAGER_SCHEMA, CheckedSchema, parse_notification
from firstresponder.api.plain_check import plainly_valid
from firstresponder.errors import PayloadError
from tests.factories import make_alert, make_payload

SCHEMA = CheckedSchema(ALERTMANAGER_SCHEMA)
MISSING = object()


def schema_accepts(body: Any) -> bool:
    try:
        SCHEMA.check(body)
    except PayloadError:
        return False
    return True


def body(**changes: Any) -> dict[str, Any]:
    doc = make_payload(make_alert(), make_alert("resolved", fingerprint="fp-2"))
    return _changed(doc, changes)


def alert(**changes: Any) -> dict[str, Any]:
    doc = make_payload(make_alert(fingerprint="fp-1"))
    doc["alerts"] = [_changed(doc["alerts"][0], changes)]
    return doc


def _changed(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is MISSING:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


VALID = {
    "as sent": body(),
    "extra fields": body(notification_reason="x", routeLabels={"a": "b"}),
    "no optional fields": {"version": "4", "status": "firing", "alerts": []},
    "alert without optional fields": alert(
        annotations=MISSING, endsAt=MISSING, generatorURL=MISSING, fingerprint=MISSING
    ),
    "alert extra fields": alert(silencedBy=[], inhibitedBy=None),
    "64-character fingerprint": alert(fingerprint="f" * 64),
    "64-character startsAt": alert(startsAt="2026-11-23T03:00:00." + "1" * 43 + "Z"),
}

INVALID = {
    "not an object": [body()],
    "version 3": body(version="3"),
    "version 4 as a number": body(version=4),
    "no version": body(version=MISSING),
    "no status": body(status=MISSING),
    "status pending": body(status="pending"),
    "status list": body(status=["firing"]),
    "no alerts": body(alerts=MISSING),
    "alerts object": body(alerts={}),
    "alert not an object": body(alerts=[1]),
    "groupKey null": body(groupKey=None),
    "receiver number": body(receiver=7),
    "externalURL list": body(externalURL=["x"]),
    "truncatedAlerts negative": body(truncatedAlerts=-1),
    "truncatedAlerts string": body(truncatedAlerts="3"),
    "truncatedAlerts fraction": body(truncatedAlerts=1.5),
    "truncatedAlerts bool": body(truncatedAlerts=True),
    "truncatedAlerts null": body(truncatedAlerts=None),
    "groupLabels value number": body(groupLabels={"a": 1}),
    "commonLabels list": body(commonLabels=["a"]),
    "commonAnnotations value null": body(commonAnnotations={"a": None}),
    "alert status missing": alert(status=MISSING),
    "alert status suppressed": alert(status="suppressed"),
    "labels missing": alert(labels=MISSING),
    "labels empty": alert(labels={}),
    "labels list": alert(labels=["service"]),
    "label number": alert(labels={"service": 5}),
    "label null": alert(labels={"service": None}),
    "label object": alert(labels={"service": {"a": "b"}}),
    "annotations list": alert(annotations=["x"]),
    "annotation number": alert(annotations={"summary": 3}),
    "startsAt missing": alert(startsAt=MISSING),
    "startsAt number": alert(startsAt=1700000000),
    "startsAt too long": alert(startsAt="2026-11-23T03:00:00." + "1" * 80 + "Z"),
    "endsAt null": alert(endsAt=None),
    "endsAt number": alert(endsAt=0),
    "endsAt too long": alert(endsAt="x" * 65),
    "generatorURL number": alert(generatorURL=1),
    "generatorURL null": alert(generatorURL=None),
    "fingerprint empty": alert(fingerprint=""),
    "fingerprint too long": alert(fingerprint="f" * 65),
    "fingerprint null": alert(fingerprint=None),
    "second alert bad": body(alerts=[make_alert(), {"status": "firing", "labels": {}}]),
}


@pytest.mark.parametrize("doc", VALID.values(), ids=VALID.keys())
def test_plain_bodies_pass_quickly_and_parse_as_before(doc: Any) -> None:
    assert schema_accepts(doc)
    assert plainly_valid(doc)
    parse_notification(json.dumps(doc).encode())


@pytest.mark.parametrize("doc", INVALID.values(), ids=INVALID.keys())
def test_bodies_the_schema_refuses_are_never_plainly_valid(doc: Any) -> None:
    assert not schema_accepts(doc)
    assert not plainly_valid(doc)


ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.0,
    2.5,
    "",
    "x" * 65,
    [],
    [1],
    {},
    {"k": 1},
    {"k": "v"},
]


def test_random_damage_is_never_plainly_valid_unless_the_schema_agrees() -> None:
    """Replace or drop one field anywhere in a body, many times over."""
    rng = random.Random(20261123)
    template = body(groupLabels={"service": "x"}, commonAnnotations={"a": "b"})
    for _ in range(3000):
        doc = copy.deepcopy(template)
        target = doc if rng.random() < 0.4 else rng.choice(doc["alerts"])
        if rng.random() < 0.3 and isinstance(target.get("labels"), dict):
            target = target["labels"]
        key = rng.choice([*target, "groupKey", "fingerprint", "endsAt", "annotations"])
        if rng.random() < 0.2:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        if plainly_valid(doc):
            assert schema_accepts(doc), doc
