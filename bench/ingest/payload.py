"""Alertmanager v4 bodies with new events each time; the Python twin of ingest.lua.

A request is one Alertmanager group: its alerts share a service, and the service rotates
over `services` values so each gets an incident. Fingerprints are `<run>-<source>-<n>-<i>`
(n a per-source counter, or counter % pool when pool > 0); startsAt grows with the counter,
so every (fingerprint, startsAt, status) the daemon sees is new and costs a real write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class PayloadFactory:
    alerts: int
    run: str
    source: int = 0
    pool: int = 0
    services: int = 5
    counter: int = 0
    base: datetime = field(
        default_factory=lambda: datetime.fromtimestamp(int(time.time()) - 86400, UTC)
    )

    def next_body(self) -> bytes:
        n = self.counter
        self.counter += 1
        key = n % self.pool if self.pool > 0 else n
        service = f"svc-{n % self.services}"
        at = self.base + timedelta(milliseconds=n)
        starts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        alerts = [
            _alert(service, f"{self.run}-{self.source}-{key}-{i}", starts)
            for i in range(self.alerts)
        ]
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{service="{service}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "firstresponder",
            "groupLabels": {"service": service},
            "commonLabels": {"service": service},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": alerts,
        }
        return json.dumps(body, separators=(",", ":")).encode()


def _alert(service: str, fingerprint: str, starts: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {
            "alertname": "BenchHighErrorRate",
            "service": service,
            "severity": "critical",
            "instance": fingerprint,
        },
        "annotations": {"summary": f"bench alert {fingerprint}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.bench:9090/graph",
        "fingerprint": fingerprint,
    }
