"""The dead-man's switch part of the config: which alert is the heartbeat, how long it may
be missing, and what incident its absence declares.

On when the `heartbeat` section is present (and `enabled` is not false). `timeout`
defaults to three times `repeat_interval`, the `repeat_interval` of the Alertmanager route
that sends the heartbeat (Alertmanager re-sends a firing alert once per repeat_interval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .domain.matchers import Matcher, MatcherError, parse_matcher_list
from .domain.vocabulary import Impact, Severity
from .durations import DURATION_PATTERN, parse_duration

DEFAULT_MATCHERS = ('alertname="Watchdog"',)
DEFAULT_SERVICE = "alerting-pipeline"
_DURATION = {"type": "string", "pattern": DURATION_PATTERN}

HEARTBEAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "matchers": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
        },
        "repeat_interval": _DURATION,
        "timeout": _DURATION,
        "service": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
        "impact": {"enum": ["degraded", "partial_disruption", "outage"]},
        "severity": {"type": "string", "pattern": "^[SsPp][1-4]$"},
    },
}


@dataclass(frozen=True)
class HeartbeatConfig:
    enabled: bool = False
    matchers: tuple[Matcher, ...] = field(
        default_factory=lambda: parse_matcher_list(DEFAULT_MATCHERS)
    )
    repeat_interval: timedelta = timedelta(minutes=1)
    timeout: timedelta = timedelta(minutes=3)
    service: str = DEFAULT_SERVICE
    # The pipeline is blind, users are not known to be hurt: the handbook's "no alerts is
    # not no problem" asks for a cheap, low severity incident (degraded -> S3 pages the EOC).
    impact: Impact = Impact.DEGRADED
    severity: Severity | None = None  # None: the severity map's for `impact`


def build_heartbeat(raw: Mapping[str, Any] | None) -> tuple[HeartbeatConfig, list[str]]:
    """The heartbeat config and every problem with it, keys named."""
    if raw is None or not raw.get("enabled", True):
        return HeartbeatConfig(), []
    problems: list[str] = []
    try:
        matchers = parse_matcher_list(raw.get("matchers", DEFAULT_MATCHERS))
    except MatcherError as exc:
        problems.append(f"heartbeat.matchers: {exc}")
        matchers = parse_matcher_list(DEFAULT_MATCHERS)
    repeat = parse_duration(raw.get("repeat_interval", "1m"))
    timeout = parse_duration(raw["timeout"]) if "timeout" in raw else 3 * repeat
    if repeat <= timedelta(0):
        problems.append("heartbeat.repeat_interval: must be more than 0s")
    if "timeout" in raw and timeout <= repeat:
        problems.append(
            f"heartbeat.timeout: bad value {raw['timeout']!r} (must be longer than "
            f"repeat_interval {raw.get('repeat_interval', '1m')}, or every repeat would page)"
        )
    severity = raw.get("severity")
    config = HeartbeatConfig(
        enabled=True,
        matchers=matchers,
        repeat_interval=repeat,
        timeout=timeout,
        service=raw.get("service", DEFAULT_SERVICE),
        impact=Impact(raw.get("impact", Impact.DEGRADED.value)),
        severity=Severity.parse(severity) if severity else None,
    )
    return config, problems
