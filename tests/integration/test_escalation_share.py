"""Escalations keep their own share: a storm's backlog of declarations and pages never
holds an escalation deadline back.

The real app on a fake clock, its scheduler running (`Scheduler.run`). An incident's
acknowledge deadline falls due while the scheduler works through a backlog of groups
waiting to be declared, and the outbox holds thousands of undelivered pages. The
escalation must fire at its due time, in the middle of the declarations, not after them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from firstresponder.api.keys import SCHEDULER, STORE
from firstresponder.app import build_app
from firstresponder.config import load_config
from firstresponder.domain.escalation import PageAction
from firstresponder.domain.vocabulary import Role
from firstresponder.metrics import Metrics
from firstresponder.pagers.base import PageMessage
from firstresponder.store.ports import IncidentFilter
from firstresponder.store.sql import SqlStore

from ..conftest import AiohttpClient
from ..factories import T0, FakeClock, make_alert, make_payload, write_config
from ..fakes import CA_FILE, FakePagerDuty
from .support import post_alerts
from .test_paging_app import KEYS

Client = TestClient[Any, Any]
BACKLOG_GROUPS = 100  # one declaration pass (`groups_due` reads 100 at a time)
BACKLOG_PAGES = 3000
WAIT_S = 60.0


@pytest.fixture
async def app(
    aiohttp_client: AiohttpClient, tmp_path: Path, clock: FakeClock, metrics: Metrics
) -> AsyncIterator[Client]:
    async with FakePagerDuty() as pd:
        config = load_config(
            write_config(
                tmp_path,
                incidents={"declare_after": "5m"},
                escalation={"enabled": True},
                pagerduty={"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
            )
        )
        yield await aiohttp_client(
            build_app(config, clock=clock, metrics=metrics, run_scheduler=False)
        )


def alert(service: str, **overrides: Any) -> dict[str, Any]:
    labels = {"service": service, "impact": "degraded", "alertname": "Slow"}
    return make_alert(labels=labels, **overrides)


async def entries_of(store: SqlStore, incident_id: int, kind: str) -> list[tuple[int, Any]]:
    return [(s.id, s.entry.at) for s in await store.timeline(incident_id) if s.entry.kind == kind]


async def test_an_escalation_fires_on_time_in_a_backlog_of_declarations_and_pages(
    app: Client, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    store: SqlStore = app.app[STORE]
    # An incident declared now (its alert waited long enough): acknowledge due in 15 min.
    answer = await post_alerts(
        app, make_payload(alert("payments", starts_at=T0 - timedelta(minutes=10))), hook_headers
    )
    [incident_id] = answer["incidents"]
    due = clock.now() + timedelta(minutes=15)
    # The storm: a hundred services whose alerts wait 5 minutes before they are declared,
    # and thousands of pages nobody has delivered (no dispatcher runs here).
    storm = [alert(f"svc{n}", starts_at=clock.now()) for n in range(BACKLOG_GROUPS)]
    assert (await post_alerts(app, make_payload(*storm), hook_headers))["incidents"] == []
    backlog = [
        PageMessage(0, incident_id, "pagerduty", Role.CMOC, PageAction.TRIGGER, f"k{n}", {})
        for n in range(BACKLOG_PAGES)
    ]
    await store.transact(lambda uow: uow.enqueue(backlog, "pager", clock.now()))
    # Every group is due for declaration a few seconds before the acknowledge deadline.
    clock.current = due - timedelta(seconds=3)

    scheduler = asyncio.create_task(app.app[SCHEDULER].run())
    try:
        await asyncio.wait_for(everything_done(store, incident_id), WAIT_S)
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)

    [(escalated_id, escalated_at)] = await entries_of(store, incident_id, "escalated")
    assert escalated_at == due, "fired at its due time"
    declared_ids = []
    for other in await store.list_incidents(IncidentFilter(limit=500, with_alerts=False)):
        if other.id != incident_id:
            declared_ids += [i for i, _ in await entries_of(store, other.id, "declared")]
    assert len(declared_ids) == BACKLOG_GROUPS
    # The escalation went in among the declarations, not after the whole pass.
    assert escalated_id < max(declared_ids)


async def everything_done(store: SqlStore, incident_id: int) -> None:
    """Until the escalation has fired and every group of the backlog is declared."""
    while True:
        escalated = await entries_of(store, incident_id, "escalated")
        declared = await store.list_incidents(IncidentFilter(limit=500, with_alerts=False))
        if escalated and len(declared) > BACKLOG_GROUPS:
            return
        await asyncio.sleep(0.05)  # polls threads' progress; asserts nothing about time
