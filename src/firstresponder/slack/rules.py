"""Slack's own rules for what firstresponder sends: channel names and text lengths.

A channel name is lowercase letters, digits, `-` and `_`, at most 80 characters. Topics
and purposes hold at most 250 characters.
"""

from __future__ import annotations

import re
import unicodedata

CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
PURPOSE_MAX = 250
DEFAULT_CHANNEL_TEMPLATE = "inc-{number}-{service}"

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")
_VALID_NAME = re.compile(r"[a-z0-9_-]{1,80}")


def slug(text: str) -> str:
    """`text` in channel-name characters: accents dropped ("Zürich" -> "zurich"), anything
    else a single `-`, no `-` at either end. May be empty."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _DASHES.sub("-", _NOT_ALLOWED.sub("-", bare.casefold())).strip("-")


def is_valid_channel_name(name: str) -> bool:
    return _VALID_NAME.fullmatch(name) is not None and name.strip("-_") != ""


def check_channel_template(template: str) -> None:
    """Raise ValueError (saying what is wrong) unless `template` makes channel names."""
    if "{number}" not in template and "{ticket}" not in template:
        raise ValueError(f"channel template {template!r} must contain {{number}} or {{ticket}}")
    try:
        template.format(number="1", service="x", ticket="im-1")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"channel template {template!r} may use only {{number}}, {{service}} and "
            f"{{ticket}} ({exc})"
        ) from None


def channel_name(
    incident_id: int,
    service: str,
    template: str = DEFAULT_CHANNEL_TEMPLATE,
    ticket: str = "",
) -> str:
    """The incident channel's name, e.g. `inc-42-checkout` or, with `{ticket}`, `im-123-checkout`.

    Over 80 characters, the service part is shortened; the number and the ticket never
    are. A template with `{ticket}` and no ticket to fill it falls back to the default.
    """
    check_channel_template(template)
    if "{ticket}" in template and not slug(ticket):
        template = DEFAULT_CHANNEL_TEMPLATE
    number, ticket_part = str(incident_id), slug(ticket)
    service_part = slug(service)

    def render(service_part: str) -> str:
        return slug(template.format(number=number, service=service_part, ticket=ticket_part))

    name = render(service_part)
    while len(name) > CHANNEL_NAME_MAX and service_part:
        keep = max(0, len(service_part) - (len(name) - CHANNEL_NAME_MAX))
        service_part = service_part[:keep].rstrip("-")
        name = render(service_part)
    if len(name) > CHANNEL_NAME_MAX:
        raise ValueError(
            f"channel template {template!r} cannot name incident {number} "
            f"within {CHANNEL_NAME_MAX} characters"
        )
    return name


def numbered(base_name: str, n: int) -> str:
    """`base-n`, still at most 80 characters (the base is cut at its end to make room)."""
    suffix = f"-{n}"
    return base_name[: CHANNEL_NAME_MAX - len(suffix)].rstrip("-") + suffix


def truncate(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in "…" when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
