"""The Slack part of the config: the workspace, who is invited, where incidents are
announced, and the communication cadence.

Slack is on when the `slack` section is present (and `enabled` is not false); then
`bot_token` is required. `signing_secret` is needed only for `/incident` and the
Acknowledge button: without it those endpoints answer 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from .domain.vocabulary import Severity
from .durations import DURATION_PATTERN, parse_duration
from .slack.client import DEFAULT_API_URL
from .slack.limits import HOLD_LIMIT
from .slack.reminders import DEFAULT_STATUS_UPDATE_INTERVALS
from .slack.rules import DEFAULT_CHANNEL_TEMPLATE, check_channel_template

_SLACK_ID = r"^[A-Z][A-Z0-9]{2,}$"
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_OFF = "off"
_MAX_WAIT_LIMIT = timedelta(minutes=1)

SLACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "api_url": {"type": "string", "pattern": "^https?://"},
        "bot_token": {"type": "string", "minLength": 1},
        "bot_token_file": {"type": "string", "minLength": 1},
        "signing_secret": {"type": "string", "minLength": 1},
        "signing_secret_file": {"type": "string", "minLength": 1},
        "announce_channels": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _SLACK_ID},
        },
        "responders": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[UW][A-Z0-9]{2,}$"},
        },
        "users": {
            "type": "object",
            "additionalProperties": {"type": "string", "pattern": "^[UW][A-Z0-9]{2,}$"},
        },
        "channel_template": {"type": "string", "minLength": 1},
        "bridge_url": {"type": "string", "pattern": "^https?://"},
        "status_update_intervals": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {
                "^[SsPp][1-4]$": {
                    "anyOf": [
                        {"type": "string", "pattern": DURATION_PATTERN},
                        {"const": _OFF},
                    ]
                }
            },
        },
        "handoff_times": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _TIME.pattern},
        },
        "timeout": {"type": "string", "pattern": DURATION_PATTERN},
        "delivery": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
                "batch": {"type": "integer", "minimum": 1, "maximum": 500},
                "max_wait": {"type": "string", "pattern": DURATION_PATTERN},
            },
        },
    },
}


@dataclass(frozen=True)
class SlackDelivery:
    """The Slack dispatcher's own share: calls in flight at once (for different incidents;
    one incident's calls go one at a time, in order) and calls claimed per pass. The rate
    limiter, not these, keeps the calls under Slack's limits; `max_wait` is the longest a
    call waits for its turn (or for a 429's Retry-After) while holding a delivery slot:
    a longer wait gives it back to the outbox until its turn."""

    concurrency: int = 8
    batch: int = 50
    max_wait: timedelta = HOLD_LIMIT


@dataclass(frozen=True)
class SlackConfig:
    enabled: bool = False
    api_url: str = DEFAULT_API_URL
    bot_token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    announce_channels: tuple[str, ...] = ()
    responders: tuple[str, ...] = ()  # Slack user ids invited into every incident channel
    users: Mapping[str, str] = field(default_factory=dict)  # person (as paged) -> user id
    channel_template: str = DEFAULT_CHANNEL_TEMPLATE
    bridge_url: str = ""  # may contain {number}
    status_update_intervals: Mapping[Severity, timedelta | None] = field(
        default_factory=lambda: dict(DEFAULT_STATUS_UPDATE_INTERVALS)
    )
    handoff_times: tuple[time, ...] = ()  # UTC
    timeout: timedelta = timedelta(seconds=10)
    delivery: SlackDelivery = field(default_factory=SlackDelivery)

    def bridge_for(self, incident_id: int) -> str:
        return self.bridge_url.replace("{number}", str(incident_id))


def build_slack(raw: Mapping[str, Any] | None) -> tuple[SlackConfig, list[str]]:
    """The Slack config and every problem with it (keys named, secrets never shown)."""
    if raw is None or not raw.get("enabled", True):
        return SlackConfig(), []
    problems = []
    if not raw.get("bot_token"):
        problems.append("slack.bot_token: required when the slack section is present")
    template = raw.get("channel_template", DEFAULT_CHANNEL_TEMPLATE)
    try:
        check_channel_template(template)
    except ValueError as exc:
        problems.append(f"slack.channel_template: {exc}")
    intervals = dict(DEFAULT_STATUS_UPDATE_INTERVALS)
    for name, value in raw.get("status_update_intervals", {}).items():
        intervals[Severity.parse(name)] = None if value == _OFF else parse_duration(value)
    for severity, every in intervals.items():
        if every is not None and every < timedelta(minutes=1):
            problems.append(
                f"slack.status_update_intervals.{severity.value}: bad value "
                f"{every} (at least 1m, or off)"
            )
    handoffs = []
    for text in raw.get("handoff_times", []):
        found = _TIME.match(text)
        if found:  # the schema has already refused anything else
            handoffs.append(time(int(found.group(1)), int(found.group(2))))
    config = SlackConfig(
        enabled=True,
        api_url=_with_slash(raw.get("api_url", DEFAULT_API_URL)),
        bot_token=raw.get("bot_token", ""),
        signing_secret=raw.get("signing_secret", ""),
        announce_channels=tuple(raw.get("announce_channels", ())),
        responders=tuple(raw.get("responders", ())),
        users=dict(raw.get("users", {})),
        channel_template=template,
        bridge_url=raw.get("bridge_url", ""),
        status_update_intervals=intervals,
        handoff_times=tuple(sorted(handoffs)),
        timeout=parse_duration(raw.get("timeout", "10s")),
        delivery=_delivery(raw.get("delivery", {}), problems),
    )
    return config, problems


def _delivery(raw: Mapping[str, Any], problems: list[str]) -> SlackDelivery:
    defaults = SlackDelivery()
    max_wait = parse_duration(raw["max_wait"]) if "max_wait" in raw else defaults.max_wait
    if max_wait > _MAX_WAIT_LIMIT:
        problems.append(
            f"slack.delivery.max_wait: bad value {max_wait} (at most {_MAX_WAIT_LIMIT}; a "
            "longer wait belongs in the outbox, not in a delivery slot)"
        )
    return SlackDelivery(
        concurrency=raw.get("concurrency", defaults.concurrency),
        batch=raw.get("batch", defaults.batch),
        max_wait=max_wait,
    )


def _with_slash(url: str) -> str:
    """slack_sdk joins `base_url` and the method name with no separator."""
    return url if url.endswith("/") else url + "/"
