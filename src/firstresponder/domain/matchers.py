"""Alertmanager matcher syntax: `name="value"`, `!=`, `=~`, `!~`, lists and `{...}` selectors.

Regular expressions are fully anchored, as in Alertmanager and Prometheus.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,}"'\s][^,}]*?)?\s*(?:,|$)""",
    re.VERBOSE,
)


class MatchType(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    """A matcher that does not parse; the message quotes it."""


@dataclass(frozen=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(actual) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        body = raw[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), body)
    return raw.strip()


def _make(name: str, op: str, value: str, text: str) -> Matcher:
    kind = MatchType(op)
    regex = None
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise MatcherError(f"bad regular expression in matcher {text!r}: {exc}") from exc
    return Matcher(name, kind, value, regex)


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse one matcher or a comma-separated selector, with or without braces."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"unclosed '{{' in matcher {text!r}")
        body = body[1:-1]
    found: list[Matcher] = []
    pos = 0
    while pos < len(body) and body[pos:].strip():
        hit = _MATCHER.match(body, pos)
        if hit is None or hit.end() == pos:
            raise MatcherError(f"cannot parse matcher {text!r} at {body[pos:]!r}")
        value = _unquote(hit.group("value") or "")
        found.append(_make(hit.group("name"), hit.group("op"), value, text))
        pos = hit.end()
    if not found:
        raise MatcherError(f"empty matcher {text!r}")
    return tuple(found)


def parse_matcher_list(items: Iterable[str]) -> tuple[Matcher, ...]:
    out: list[Matcher] = []
    for item in items:
        out.extend(parse_matchers(item))
    return tuple(out)


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
