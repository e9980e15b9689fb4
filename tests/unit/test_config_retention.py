"""The `retention` section: defaults, values, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firstresponder.config_retention import RetentionConfig

from .test_config import MINIMAL, load, problems


def test_defaults_keep_a_week_of_pages_and_a_month_of_alerts(tmp_path: Path) -> None:
    config = load(tmp_path).retention
    assert config == RetentionConfig()
    assert (config.outbox, config.alert_events) == (timedelta(days=7), timedelta(days=30))
    assert (config.batch, config.interval) == (500, timedelta(minutes=10))


def test_values_are_read_and_zero_keeps_forever(tmp_path: Path) -> None:
    raw = {"outbox": "2d", "alert_events": "0s", "batch": 100, "interval": "1h"}
    config = load(tmp_path, retention=raw).retention
    assert config.age("outbox") == timedelta(days=2)
    assert config.age("alert_events") is None
    assert config.age("webhook_deliveries") == timedelta(days=7)
    assert (config.batch, config.interval) == (100, timedelta(hours=1))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"outbox": "a week"}, "retention.outbox: bad value 'a week'"),
        ({"batch": 0}, "retention.batch: bad value 0"),
        ({"batch": 5000}, "retention.batch: bad value 5000"),
        ({"interval": "500ms"}, "retention.interval: bad value '500ms' (must be at least 1s)"),
        ({"alerts": "1d"}, "retention: unknown key(s) 'alerts'"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, raw: dict[str, Any], problem: str) -> None:
    found = problems(tmp_path, {**MINIMAL, "retention": raw})
    assert any(p.startswith(problem) for p in found), found
