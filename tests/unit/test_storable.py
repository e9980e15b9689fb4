"""Text no store can hold: what is cleaned (webhooks), what is refused and where (the API)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from firstresponder.api.pagerduty_webhook import delivery_key
from firstresponder.domain.storable import storable, storable_map, unstorable_at, why_unstorable
from firstresponder.pagers.base import PermanentDeliveryError, TransientDeliveryError

FFFD = "\ufffd"


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain", "plain"),
        ("", ""),
        ("a\x00b", f"a{FFFD}b"),
        ("\x00\x00", FFFD * 2),
        ("\ud800", FFFD),
        ("x\udfffy", f"x{FFFD}y"),
        ("\ud83d\ude00", FFFD * 2),  # two lone halves in a str are not a pair: UTF-8 has neither
        ("😀 région \t\n\x01", "😀 région \t\n\x01"),  # other control characters are storable
        (FFFD, FFFD),
    ],
)
def test_storable(text: str, stored: str) -> None:
    assert storable(text) == stored
    assert why_unstorable(stored) is None
    stored.encode("utf-8")  # what both stores do with text


def test_a_map_keeps_the_later_of_two_keys_that_become_one() -> None:
    assert storable_map({"a\x00": "1", "a\ud800": "2", "b": "c\x00"}) == {
        f"a{FFFD}": "2",
        "b": f"c{FFFD}",
    }


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"title": "ok", "labels": {"team": "a"}}, None),
        ({"title": "a\x00"}, "title: holds a NUL character (\\u0000)"),
        ({"title": "\udc80"}, "title: holds a lone surrogate (\\udc80)"),
        ({"labels": {"ok": "x", "team": "\x00"}}, "labels.team: holds a NUL"),
        ({"labels": {"te\x00am": "x"}}, "labels: the key 'te\\x00am' holds a NUL"),
        ({"a\ud800": 1}, "(body): the key 'a\\ud800' holds a lone surrogate"),
        ({"items": [1, "ok", {"x": ["\x00"]}]}, "items[2].x[0]: holds a NUL"),
        ({"n": math.nan}, "n: nan is not a number JSON can store"),
        ({"n": [-math.inf]}, "n[0]: -inf is not a number JSON can store"),
        ("\x00", "(body): holds a NUL"),
        ({"first": "\x00", "second": "\ud800"}, "first: holds a NUL"),  # the first one is named
    ],
)
def test_unstorable_at_names_the_field(document: Any, where: str | None) -> None:
    found = unstorable_at(document)
    if where is None:
        assert found is None
    else:
        assert found is not None and found.startswith(where), found


def test_a_deep_document_costs_no_recursion() -> None:
    document: Any = "\x00"
    for _ in range(50_000):
        document = [document]
    found = unstorable_at({"deep": document})
    assert found is not None and found.startswith("deep[0][0]")


def test_delivery_errors_are_storable_whatever_the_vendor_answered() -> None:
    assert (
        str(PermanentDeliveryError("pagerduty: HTTP 400: bad\x00key"))
        == f"pagerduty: HTTP 400: bad{FFFD}key"
    )
    transient = TransientDeliveryError("slack: \ud800", retry_after=3.0)
    assert (str(transient), transient.retry_after) == (f"slack: {FFFD}", 3.0)


def test_pagerduty_delivery_keys_fit_their_column() -> None:
    assert delivery_key(None) is None
    assert delivery_key("") is None
    assert delivery_key("0f6a-\udcff") == f"pagerduty:0f6a-{FFFD}"
    long = delivery_key("x" * 1000)
    assert long is not None and long.startswith("pagerduty:sha256:") and len(long) <= 200
    assert long == delivery_key("x" * 1000) != delivery_key("x" * 1001)
