"""Prometheus-style durations and byte sizes as written in the config and rule files."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firstresponder.durations import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2h15m10s", timedelta(hours=2, minutes=15, seconds=10)),
        ("500ms", timedelta(milliseconds=500)),
        ("1s500ms", timedelta(seconds=1, milliseconds=500)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(days=7)),
        ("1y", timedelta(days=365)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "15", "m", "1.5h", "-5m", "15 m", " 15m", "15m ", "15M", "15min", "1h 30m", "P1D"]
)
def test_bad_durations_are_rejected_with_the_value_and_an_example(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"bad duration {text!r} (expected e.g. 30s, 15m, 1h30m)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=5, seconds=1), "5d1s"),
        (timedelta(days=14), "14d"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (2048, 2048),
        ("4096", 4096),
        ("512B", 512),
        ("512KiB", 512 * 1024),
        ("1MiB", 1024 * 1024),
        ("2GiB", 2 * 1024**3),
        ("1KB", 1000),
        ("10MB", 10_000_000),
        ("1GB", 1_000_000_000),
    ],
)
def test_parse_size(value: int | str, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "1 MiB", "1mb", "1.5MiB", "-1", "MiB", "1TiB"])
def test_bad_sizes_are_rejected_with_the_value(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert repr(value) in str(caught.value)
    assert "1MiB" in str(caught.value)
