"""Markdown building blocks: times, durations, and text that stays text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from firstresponder import markdown as md


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 11, 23, 3, 4, 59, tzinfo=UTC), "2026-11-23 03:04 UTC"),
        (
            datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=-3))),
            "2026-11-23 04:00 UTC",
        ),
        (datetime(2026, 11, 23, 3, 4), "2026-11-23 03:04 UTC"),  # naive: UTC already
    ],
)
def test_when_is_utc_to_the_minute(moment: datetime, shown: str) -> None:
    assert md.when(moment) == shown


@pytest.mark.parametrize(
    ("span", "shown"),
    [
        (timedelta(seconds=-5), "0 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=17, seconds=59), "17 min"),
        (timedelta(hours=1, minutes=10), "1 h 10 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(days=2, hours=3), "2 d 3 h"),
    ],
)
def test_duration(span: timedelta, shown: str) -> None:
    assert md.duration(span) == shown


@pytest.mark.parametrize(
    ("text", "inline", "cell"),
    [
        ("a | b", r"a \| b", r"a \| b"),
        ("# not a heading", r"\# not a heading", r"\# not a heading"),
        ("one\n- two", r"one - two", r"one<br>\- two"),
        ("<b>x</b>  \\", r"&lt;b>x&lt;/b> \\", r"&lt;b>x&lt;/b> \\"),
    ],
)
def test_user_text_stays_text(text: str, inline: str, cell: str) -> None:
    assert md.inline(text) == inline
    assert md.cell(text) == cell


def test_heading_keeps_a_trailing_hash_run() -> None:
    assert md.heading("checkout down ##") == r"checkout down \#\#"


@pytest.mark.parametrize(
    ("query", "span"),
    [
        ('up{job="a"}', '`up{job="a"}`'),
        ('rate(x{a=~"b|c"}[5m])', '`rate(x{a=~"b\\|c"}[5m])`'),
        ("a `b` c", "``a `b` c``"),
        ("`edge`", "`` `edge` ``"),
    ],
)
def test_code_spans_survive_backticks_and_pipes(query: str, span: str) -> None:
    assert md.code(query) == span


def test_a_table_has_its_placeholder_row_only_when_empty() -> None:
    assert md.table(["A", "B"], [], ["—", "none"]) == [
        "| A | B |",
        "| --- | --- |",
        "| — | none |",
    ]
    assert md.table(["A", "B"], [["1", ""]], ["—", "none"])[2:] == ["| 1 |   |"]
    assert md.table(["A"], [], []) == ["| A |", "| --- |"]
