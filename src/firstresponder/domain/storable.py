"""Text that both stores can hold, and where a request's text cannot be held.

PostgreSQL refuses U+0000 (NUL) in `text` and in JSON; neither store can write a lone
surrogate (U+D800..U+DFFF, which JSON's `\\ud800` escape and undecodable header bytes
produce) as UTF-8. SQLite would keep a NUL, so the same request would be stored on one
store and fail on the other. docs/input-rules.md says, per source, which of the two rules
applies:

- `storable(text)`: machine senders (Alertmanager, PagerDuty, Slack) are never refused for
  it: each such character becomes U+FFFD, the same on both stores, so a retry or a
  duplicate gives the same text, and the same fingerprint, again.
- `unstorable_at(value)`: people calling the REST API are told which field to fix (400).
"""

from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable_map(values: dict[str, str]) -> dict[str, str]:
    """A map of strings (labels, annotations, form fields) made storable, keys included.
    Two keys that differ only in such characters become one: the later value is kept, as
    a JSON object with a repeated key keeps its later value."""
    return {storable(key): storable(value) for key, value in values.items()}


def why_unstorable(text: str) -> str | None:
    """What in `text` no store can hold, in words, or None when it can be stored."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "holds a NUL character (\\u0000), which cannot be stored"
    return f"holds a lone surrogate (\\u{ord(char):04x}), which is not Unicode text"


def unstorable_at(value: Any, path: str = "") -> str | None:
    """`field: reason` for the first thing in a decoded JSON document that no store can
    hold (a string with NUL or a lone surrogate, such a key, NaN or an infinity), or None.
    Iterative, so a deep document costs no recursion."""
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            reason = why_unstorable(item)
            if reason is not None:
                return f"{where or '(body)'}: {reason}"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{where or '(body)'}: {item} is not a number JSON can store"
        elif isinstance(item, dict):
            for key in item:
                reason = why_unstorable(key) if isinstance(key, str) else None
                if reason is not None:
                    return f"{where or '(body)'}: the key {key!r} {reason}"
            inner = [(f"{where}.{key}" if where else str(key), v) for key, v in item.items()]
            pending.extend(reversed(inner))
        elif isinstance(item, list):
            pending.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None
