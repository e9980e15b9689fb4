"""Retention through the real app: a resolved incident reads the same after pruning.

The post-incident review's scripted incident (webhooks, pages, escalation, resolution,
an action item) is run, left for 40 days, then pruned with the default ages: its detail,
timeline and post-incident review are served exactly as before, and the pruning did
delete its alert events and finished pages.
"""

from __future__ import annotations

from typing import Any

from firstresponder.api.keys import STORE
from firstresponder.config_retention import RetentionConfig
from firstresponder.metrics import Metrics
from firstresponder.retention import Retention

from ..factories import FakeClock
from ..fakes import FakePagerDuty
from .support import call
from .test_postmortem_api import Client, SlothPrometheus, app, pd, prometheus, script

__all__ = ["app", "pd", "prometheus"]  # the fixtures this module shares


async def reads(client: Client, incident_id: int) -> tuple[Any, Any, str]:
    base = f"/api/v1/incidents/{incident_id}"
    detail = await call(client, "GET", base, 200)
    timeline = await call(client, "GET", f"{base}/timeline", 200)
    response = await client.get(f"{base}/postmortem")
    assert response.status == 200
    return detail, timeline, await response.text()


async def test_a_resolved_incident_reads_the_same_after_pruning(
    app: Client,
    pd: FakePagerDuty,
    clock: FakeClock,
    prometheus: SlothPrometheus,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
) -> None:
    incident_id = await script(app, clock, prometheus, hook_headers, api_headers)
    clock.advance(days=40)
    before = await reads(app, incident_id)
    assert len(before[0]["alerts"]) == 2

    pruned = await Retention(app.app[STORE], RetentionConfig(), clock, Metrics()).pass_once()

    assert pruned["alert_events"] == 4  # both alerts' firing and resolved events
    assert pruned["outbox"] == 6  # trigger, acknowledge and resolve to the EOC and IMOC
    assert await reads(app, incident_id) == before
    # Every page went: PagerDuty's trigger returns no reference (the dedup key is ours)
    # and a resolved incident pages no more.
    assert await app.app[STORE].transact(lambda uow: uow.outbox_of(incident_id)) == []
