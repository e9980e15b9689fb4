"""Factories for tests: Alertmanager payloads, config files, and a fake clock."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

WEBHOOK_TOKEN = "test-webhook-token"
API_TOKEN = "test-api-token"
PAGERDUTY_WEBHOOK_SECRET = "test-pagerduty-webhook-secret"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ZERO = "0001-01-01T00:00:00Z"
DATA = Path(__file__).parent / "data"


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def make_alert(
    status: str = "firing",
    *,
    labels: dict[str, str] | None = None,
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    fingerprint: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    base_labels = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
    base_labels.update(labels or {})
    alert: dict[str, Any] = {
        "status": status,
        "labels": base_labels,
        "annotations": {
            "summary": f"{base_labels['alertname']} on {base_labels.get('service', '?')}"
        },
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at)
        if ends_at
        else (ZERO if status == "firing" else iso(starts_at + timedelta(minutes=5))),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        "fingerprint": fingerprint
        or f"fp-{base_labels['alertname']}-{base_labels.get('service', '')}"[:64],
    }
    alert.update(overrides)
    return alert


def make_payload(*alerts: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    alerts = alerts or (make_alert(),)
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    payload: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "firstresponder",
        "groupLabels": {"alertname": alerts[0]["labels"].get("alertname", "")},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }
    payload.update(overrides)
    return copy.deepcopy(payload)


def load_data(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text())
    return loaded


def write_config(directory: Path, **overrides: Any) -> Path:
    """A complete config in `directory` (SQLite there, the repo's rules unless overridden)."""
    config: dict[str, Any] = {
        "server": {"listen": "127.0.0.1:0", "public_url": "http://fr.example"},
        "store": {"url": f"sqlite:///{directory / 'fr.db'}"},
        "auth": {
            "webhook": {
                "bearer_token": WEBHOOK_TOKEN,
                "basic_auth": {"username": "alertmanager", "password": "am-secret"},
            },
            "api_tokens": [{"name": "tester", "token": API_TOKEN}],
        },
        "rules_dir": str(Path(__file__).parent.parent / "rules"),
        "logging": {"level": "warning", "format": "text"},
        "escalation": {"enabled": False},
        "pagerduty": {"webhook_secrets": [PAGERDUTY_WEBHOOK_SECRET]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class FakeClock:
    """Time moves only when a test says so; `sleep` yields once and advances the clock."""

    def __init__(self, start: datetime = T0 + timedelta(minutes=1)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)
