"""The storm's Alertmanager v4 notifications: one per service, five alerts each.

Service i is `storm-<i>` with alerts `StormAlert0..4`; every alert has a fixed fingerprint
(16 hex digits, as Alertmanager's) and one `startsAt`, so the second copy of a notification
(the HA peer's) holds exactly the same events as the first: duplicates, not new alerts.
`severity="warning"` classifies as degraded, so each incident is S3: the EOC is paged on
declaration and the IMOC when `ack_timeout` passes unacknowledged.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

ALERTS_PER_SERVICE = 5


def service_name(index: int) -> str:
    return f"storm-{index:05d}"


def notification(run: str, index: int, starts_at: datetime) -> bytes:
    service = service_name(index)
    starts = starts_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    alerts = [_alert(run, service, j, starts) for j in range(ALERTS_PER_SERVICE)]
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firstresponder",
        "groupLabels": {"service": service},
        "commonLabels": {"service": service, "severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.storm:9093",
        "alerts": alerts,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _alert(run: str, service: str, j: int, starts: str) -> dict[str, Any]:
    fingerprint = hashlib.sha1(f"{run}/{service}/{j}".encode()).hexdigest()[:16]
    return {
        "status": "firing",
        "labels": {
            "alertname": f"StormAlert{j}",
            "service": service,
            "severity": "warning",
            "instance": f"{service}-host-{j}",
        },
        "annotations": {"summary": f"storm alert {j} on {service}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.storm:9090/graph",
        "fingerprint": fingerprint,
    }
