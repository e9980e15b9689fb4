"""The `retention` section of the config: how long finished work is kept before pruning.

Each age is counted from when the row stopped mattering: an outbox message from when it
was delivered or failed for good (and only once its incident has been resolved that long),
an inbound delivery id from when it arrived, an alert event from when it arrived (and only
when no open incident still shows it), a near miss from its recovery. `0s` keeps a table
forever. Rows go `batch` at a time, one short transaction each, every `interval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .durations import DURATION_PATTERN, parse_duration

_DURATION = {"type": "string", "pattern": DURATION_PATTERN}
AGES = ("outbox", "webhook_deliveries", "alert_events", "near_misses")

RETENTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{name: _DURATION for name in AGES},
        "batch": {"type": "integer", "minimum": 1, "maximum": 1000},
        "interval": _DURATION,
    },
}


@dataclass(frozen=True)
class RetentionConfig:
    outbox: timedelta = timedelta(days=7)
    webhook_deliveries: timedelta = timedelta(days=7)
    alert_events: timedelta = timedelta(days=30)
    near_misses: timedelta = timedelta(days=30)
    batch: int = 500  # rows per transaction: a few milliseconds of the writer
    interval: timedelta = timedelta(minutes=10)

    def age(self, table: str) -> timedelta | None:
        """How long `table`'s finished rows are kept; None: forever."""
        value: timedelta = getattr(self, table)
        return value if value > timedelta(0) else None


def retention_problems(raw: Any) -> list[str]:
    """Ranges the schema cannot check (it checks the shape); named `retention.<key>`."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("interval"), str):
        return []
    try:
        interval = parse_duration(raw["interval"])
    except ValueError:
        return []  # the schema reports it
    if interval < timedelta(seconds=1):
        return [f"retention.interval: bad value {raw['interval']!r} (must be at least 1s)"]
    return []


def build_retention(raw: Mapping[str, Any] | None) -> RetentionConfig:
    """Call after the schema and `retention_problems` passed."""
    raw = raw or {}
    defaults = RetentionConfig()
    ages = {
        name: parse_duration(raw[name]) if name in raw else getattr(defaults, name) for name in AGES
    }
    return RetentionConfig(
        **ages,
        batch=raw.get("batch", defaults.batch),
        interval=parse_duration(raw["interval"]) if "interval" in raw else defaults.interval,
    )
