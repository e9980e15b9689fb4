"""The webhook body's JSON: orjson first, the standard library for what orjson refuses."""

from __future__ import annotations

import json
import math

import pytest

from firstresponder.api.payload import decode_json, parse_notification
from firstresponder.errors import PayloadError


@pytest.mark.parametrize(
    "body",
    [
        b'{"labels": {"r\\u00e9gion": "z\xc3\xbcrich", "emoji": "\xf0\x9f\x9a\xa8"}}',
        b'{"a": 1, "a": 2, "n": -3, "f": 1.5e-7, "t": true, "z": null, "l": [[], {}]}',
        b'  ["spaces", "\\n\\t\\"quoted\\"", 18446744073709551615]  ',
    ],
)
def test_what_orjson_reads_is_what_the_standard_library_reads(body: bytes) -> None:
    assert decode_json(body) == json.loads(body)


def test_what_orjson_refuses_the_standard_library_still_decides() -> None:
    assert math.isnan(decode_json(b'{"x": NaN}')["x"])
    assert decode_json(b'"\\ud800"') == "\ud800"  # a lone surrogate, as before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"hello", "malformed JSON at line 1 column 1: Expecting value"),
        (b'{"a": [1, 2', "malformed JSON at line 1 column 12"),
        (b"\xff{}", "body is not valid UTF-8 (byte 0)"),
        (b"[" * 100_000, "JSON nested too deeply"),
        (b"9" * 5000, "malformed JSON: Exceeds the limit"),
    ],
)
def test_refused_bodies_keep_the_standard_library_messages(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_json(body)


def test_a_whole_float_truncated_count_is_an_int() -> None:
    for text in ("3.0", "123456789012345678901234"):
        body = f'{{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": {text}}}'
        truncated = parse_notification(body.encode()).truncated_alerts
        assert type(truncated) is int and truncated == int(float(text))


def _body(labels: dict[str, str], **alert: str) -> bytes:
    """A webhook with one alert; json.dumps writes NUL and surrogates as \\u escapes."""
    item = {"status": "firing", "labels": labels, "startsAt": "2026-01-01T00:00:00Z", **alert}
    return json.dumps({"version": "4", "status": "firing", "alerts": [item]}).encode()


def test_webhook_text_is_made_storable_before_the_fingerprint() -> None:
    nul = parse_notification(_body({"alertname": "A\x00", "k\x00": "v"}, generatorURL="g\x00"))
    lone = parse_notification(
        _body({"alertname": "A\ud800", "k\udfff": "v"}, generatorURL="g\ud800")
    )
    clean = parse_notification(
        _body({"alertname": "A\ufffd", "k\ufffd": "v"}, generatorURL="g\ufffd")
    )
    assert nul.alerts == lone.alerts == clean.alerts
    assert nul.alerts[0].labels == {"alertname": "A\ufffd", "k\ufffd": "v"}


def test_webhook_text_that_only_looks_like_a_nul_is_kept() -> None:
    """A literal backslash before u0000 takes the cleaning path, which then changes nothing."""
    text = "a\\u0000b"  # six characters after the a, no NUL among them
    notification = parse_notification(_body({"alertname": text}, fingerprint=text))
    assert notification.alerts[0].labels == {"alertname": text}
    assert notification.alerts[0].fingerprint == text
