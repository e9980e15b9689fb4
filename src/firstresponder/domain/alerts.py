"""The Alertmanager webhook (payload version 4) as domain values."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

# Alertmanager sends this for "no end" on firing alerts.
ZERO_TIME_PREFIX = "0001-01-01"


class AlertStatus(enum.Enum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(NamedTuple):
    """One alert of a notification, as received. A named tuple: immutable, and built for
    every alert of every webhook at a third of a frozen dataclass's cost."""

    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")

    @property
    def is_firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    @property
    def summary(self) -> str:
        return (
            self.annotations.get("summary")
            or self.annotations.get("description")
            or self.annotations.get("message")
            or self.name
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook delivery: a group of alerts as Alertmanager saw it."""

    receiver: str
    status: AlertStatus
    group_key: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable identity for an alert that arrived without Alertmanager's fingerprint."""
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode())
        digest.update(b"\xff")
        digest.update(labels[name].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]
