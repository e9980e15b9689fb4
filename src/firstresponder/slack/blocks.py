"""Slack's mrkdwn and Block Kit as plain dicts: escaping, mentions, dates, links, blocks.

Every builder keeps within Block Kit's limits (header 150 characters, section text 3000,
field 2000, 10 fields, 10 context elements), cutting with "…" rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .rules import truncate

Block = dict[str, Any]

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_MAX = 10

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
# A bare user id inside a sentence ("U2CERLKJA is Tech Lead"): at least one digit, so
# that words in capitals stay words.
_BARE_USER_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{6,}\b")


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the notification and the fallback where blocks cannot be shown."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def escape(text: str) -> str:
    """Slack's three control characters, so user text cannot mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(person: str) -> str:
    """`<@U123>` for a Slack user id, the name (escaped) for anyone else."""
    if _USER_ID.fullmatch(person):
        return f"<@{person}>"
    return escape(person)


def mentions_in(text: str) -> str:
    """`text` escaped, with bare Slack user ids in it turned into mentions."""
    return _BARE_USER_ID.sub(lambda found: f"<@{found.group(0)}>", escape(text))


def link(url: str, label: str) -> str:
    """`<url|label>`; characters that would end the link early are percent-encoded."""
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{escape(label)}>"


def date(at: datetime) -> str:
    """A time each reader sees in their own time zone (UTC where that is not possible)."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def code(text: str) -> str:
    """Inline code; a backtick inside would end it, so it becomes a quote."""
    return "`" + escape(text.replace("`", "'")) + "`"


def one_line(text: str) -> str:
    return " ".join(text.split())


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_MAX), "emoji": True},
    }


def section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, SECTION_MAX)}


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
    """A section of `*label*\\nvalue` fields (the first ten)."""
    items = [_mrkdwn(f"*{label}*\n{value}", FIELD_MAX) for label, value in pairs]
    return {"type": "section", "fields": items[:FIELDS_MAX]}


def context(parts: Sequence[str]) -> Block:
    return {
        "type": "context",
        "elements": [_mrkdwn(part, SECTION_MAX) for part in parts[:CONTEXT_MAX]],
    }


def divider() -> Block:
    return {"type": "divider"}


def bullets(items: Iterable[str]) -> str:
    return "\n".join(f"• {item}" for item in items)


def checklist(items: Iterable[str]) -> str:
    return "\n".join(f":white_large_square: {item}" for item in items)


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}
