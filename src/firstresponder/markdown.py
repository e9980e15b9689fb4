"""Markdown building blocks for generated documents: tables, escaping, times and durations.

Everything a person or an alert wrote goes through `inline`, `cell`, `heading` or `code`,
so that it stays text: it cannot break a table, start a heading or inject HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta


def when(moment: datetime) -> str:
    """`2026-11-23 03:04 UTC`; a naive time is taken to be UTC already."""
    utc = moment if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def duration(span: timedelta) -> str:
    """`17 min`, `1 h 10 min`, `2 d 3 h`, `45 s`; never negative (clock skew reads 0 s)."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    found = [(days, "d"), (hours, "h"), (minutes, "min")]
    return " ".join(f"{count} {unit}" for count, unit in found if count)


def table(head: list[str], rows: list[list[str]], empty: list[str]) -> list[str]:
    """A table's lines; `empty` is the one row shown when there are none (no row if [])."""
    shown = rows or ([empty] if empty else [])
    return [
        row(head),
        row(["---"] * len(head)),
        *(row([text or " " for text in cells]) for cells in shown),
    ]


def row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def escape(line: str) -> str:
    """Text that stays text: no cell breaks, no HTML, no heading or block at its start."""
    text = line.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
    return re.sub(r"^([#>=+*-])", r"\\\1", text)


def inline(value: object) -> str:
    """One line of text: every run of whitespace (line breaks too) becomes one space."""
    return escape(" ".join(str(value).split()))


def cell(value: object) -> str:
    """A table cell: line breaks kept as `<br>`, everything else escaped."""
    lines = [" ".join(line.split()) for line in str(value).strip().splitlines()]
    return "<br>".join(escape(line) for line in lines if line)


def heading(value: object) -> str:
    """Heading text: also escape a trailing `#` run, which Markdown would drop."""
    text = inline(value)
    return re.sub(r"(?<!\\)(#+)$", lambda m: "\\#" * len(m.group(1)), text)


def code(text: str) -> str:
    """A code span that survives any backticks and pipes in `text`."""
    flat = " ".join(text.split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
