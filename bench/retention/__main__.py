"""How big the SQLite database gets per 1,000 incidents, before and after retention.

Builds N resolved incidents (default 1,000) through the real store, each as a storm would
leave it: 5 alerts that fire and recover (10 alert events), the timeline, pages to the EOC
and IMOC (trigger, acknowledge, resolve), a Slack channel with 8 calls, and an inbound
PagerDuty delivery id. Then moves 40 days on and runs one retention pass with the
default ages, and reports the database's size in use (pages not on the free list) and
the file's size after VACUUM.

    python -m bench.retention [N]
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from firstresponder.config_retention import RetentionConfig
from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import Classification
from firstresponder.domain.escalation import PageAction
from firstresponder.domain.grouping import ClassifiedAlert, GroupEngine
from firstresponder.domain.vocabulary import DEFAULT_SEVERITY_MAP, Impact, Role
from firstresponder.metrics import Metrics
from firstresponder.pagers.base import PageMessage
from firstresponder.retention import Retention
from firstresponder.store.ports import UnitOfWork
from firstresponder.store.sql import SqlStore

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
ENGINE = GroupEngine(DEFAULT_SEVERITY_MAP)
LEASE = timedelta(minutes=5)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def _event(n: int, k: int, status: AlertStatus, at: datetime) -> ClassifiedAlert:
    service = f"service-{n}"
    labels = {
        "alertname": f"HighErrorRate{k}",
        "service": service,
        "severity": "critical",
        "namespace": "production",
        "pod": f"{service}-7d9f8b6c5-{k:05d}",
        "instance": f"10.0.{n % 250}.{k}:8080",
        "job": service,
        "team": "payments",
    }
    annotations = {
        "summary": f"{service} is answering 5% errors on route {k}",
        "description": "The error ratio over 5m is above the outage line for this route.",
        "runbook_url": f"https://runbooks.example/{service}/errors",
    }
    ends = at + timedelta(minutes=30) if status is AlertStatus.RESOLVED else None
    alert = Alert(
        status, labels, annotations, at, ends, "http://prom:9090/graph", f"{n:08x}{k:08x}"
    )
    classification = Classification(
        service,
        f"service={service}",
        Impact.OUTAGE,
        'label severity="critical"',
        Impact.DEGRADED,
        timedelta(0),
    )
    return ClassifiedAlert(alert, classification)


def _apply(uow: UnitOfWork, events: list[ClassifiedAlert], now: datetime) -> int:
    fresh = uow.record_events(events, "firstresponder", now)
    state = uow.load_group(events[0].classification.group_key)
    outcome = ENGINE.apply_events(state, fresh, now)
    incident = uow.save_group(state, outcome, now)
    assert incident is not None
    return incident.id


def _messages(incident_id: int) -> list[tuple[str, PageMessage, str | None]]:
    details = {"alerts": [{"name": f"HighErrorRate{k}", "summary": "5% errors"} for k in range(5)]}
    out: list[tuple[str, PageMessage, str | None]] = []
    for role in (Role.EOC, Role.IMOC):
        key = f"firstresponder-{incident_id}-{role.value}"
        for action in PageAction:
            payload = {"summary": f"service-{incident_id}: outage", "custom_details": details}
            out.append(
                (
                    "pager",
                    PageMessage(0, incident_id, "pagerduty", role, action, key, payload),
                    None,
                )
            )
    key = f"firstresponder-{incident_id}-slack"
    ops = ["create_channel", "set_topic", "set_purpose", "invite", "post", "post", "post", "post"]
    for op in ops:
        blocks: list[dict[str, str]] = [{"type": "section"}] * 3
        call: dict[str, Any] = {"op": op, "text": "Incident update " * 20, "blocks": blocks}
        reference = f"C{incident_id:08d}|inc-{incident_id}" if op == "create_channel" else None
        message = PageMessage(0, incident_id, "slack", Role.CMOC, PageAction.TRIGGER, key, call)
        out.append(("slack", message, reference))
    return out


def _incident(uow: UnitOfWork, *, n: int, now: datetime) -> None:
    fired = [_event(n, k, AlertStatus.FIRING, now) for k in range(5)]
    incident_id = _apply(uow, fired, now)
    later = now + timedelta(minutes=30)
    _apply(uow, [_event(n, k, AlertStatus.RESOLVED, now) for k in range(5)], later)
    incident = uow.lock_incident(incident_id)
    uow.save_incident(incident, incident.resolve("alice", later))
    for channel, message, reference in _messages(incident_id):
        uow.enqueue([message], channel, now)
        [claimed] = uow.claim_outbox("bench", now, LEASE, 1, channel)
        uow.finish_outbox(
            claimed.message.id, failed=False, now=later, attempts=1, reference=reference
        )
    uow.first_delivery(f"pd-delivery-{n}", now)


def _in_use(path: Path) -> tuple[int, int]:
    """(bytes in pages in use, file bytes after VACUUM)."""
    conn = sqlite3.connect(path)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        conn.execute("VACUUM")
        return (pages - free) * size, path.stat().st_size
    finally:
        conn.close()


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fr.db"
        store = SqlStore(f"sqlite:///{path}")
        await store.migrate()
        for n in range(count):
            now = T0 + timedelta(minutes=n)
            await store.transact(functools.partial(_incident, n=n, now=now))
        clock = _Clock(T0 + timedelta(minutes=count) + timedelta(days=40))
        await store.close()
        before = _in_use(path)
        store = SqlStore(f"sqlite:///{path}")
        pruned = await Retention(store, RetentionConfig(), clock, Metrics()).pass_once()
        await store.close()
        after = _in_use(path)
    per = 1000 / count
    print(f"{count} resolved incidents (5 alerts, 6 pages, 8 Slack calls each)")
    print(f"pruned: {pruned}")
    print(f"before retention: {before[0] * per / 2**20:.2f} MiB per 1,000 incidents")
    print(f"after retention:  {after[0] * per / 2**20:.2f} MiB per 1,000 incidents")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
