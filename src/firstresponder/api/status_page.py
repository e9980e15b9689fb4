"""GET /status: the public status page a company links from its website.

It is built from public facts only: which service hurts, how (in customer words), since
when, and what the incident team's state is. Titles and descriptions (alert summaries),
notes, people, labels and timeline messages never reach it, because the snapshot it is
rendered from has no field to hold them. Incidents of impact "operational" (declared for
something customers do not feel) are left out, and services with nothing open are not
listed: firstresponder does not know the whole service catalogue.

Customers reload this page hardest exactly while an incident runs, when the store is
busiest, so one snapshot serves every request for `CACHE_SECONDS`, one store read in
flight serves every request that arrives meanwhile, and browsers and proxies may keep the
answer for 30 s more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from ..clock import utc_iso
from ..domain.incident import Incident
from ..domain.vocabulary import Impact, IncidentState
from ..errors import PayloadError, StoreUnavailable
from ..store.ports import IncidentReader
from .html import (
    document,
    duration,
    esc,
    html_response,
    more_note,
    store_down,
    table,
    time_tag,
)
from .keys import CLOCK, STORE
from .pages import Listing, open_incidents, resolved_since

PAST_WINDOW = timedelta(days=7)
CACHE_SECONDS = 10
CACHE_CONTROL = "public, max-age=30"

CUSTOMER_WORDS = {
    Impact.DEGRADED: "Degraded performance",
    Impact.PARTIAL_DISRUPTION: "Partial disruption",
    Impact.OUTAGE: "Outage",
}
# The banner for the worst impact among open incidents: (JSON status, words).
BANNER = {
    Impact.OPERATIONAL: ("operational", "All systems operational"),
    Impact.DEGRADED: ("degraded_performance", "Degraded performance"),
    Impact.PARTIAL_DISRUPTION: ("partial_outage", "Partial outage"),
    Impact.OUTAGE: ("major_outage", "Major outage"),
}
# A service with several open incidents shows the least advanced state among them.
_PROGRESS = (IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING)


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    impact: Impact
    state: IncidentState
    since: datetime


@dataclass(frozen=True)
class PastIncident:
    service: str
    impact: Impact
    started_at: datetime
    resolved_at: datetime


@dataclass(frozen=True)
class StatusSnapshot:
    """Everything the status page may say, and nothing else."""

    at: datetime
    services: list[ServiceStatus]
    more_open: int
    past: list[PastIncident]
    more_past: int

    @property
    def overall(self) -> Impact:
        return max((s.impact for s in self.services), default=Impact.OPERATIONAL)


def snapshot_of(open_now: Listing, resolved: Listing, at: datetime) -> StatusSnapshot:
    return StatusSnapshot(
        at=at,
        services=_services([i for i in open_now.incidents if _public(i)]),
        more_open=open_now.more,
        past=[
            PastIncident(i.service, i.impact, i.declared_at, i.resolved_at)
            for i in resolved.incidents
            if _public(i) and i.resolved_at is not None
        ],
        more_past=resolved.more,
    )


def _public(incident: Incident) -> bool:
    return incident.impact > Impact.OPERATIONAL


def _services(incidents: list[Incident]) -> list[ServiceStatus]:
    by_service: dict[str, list[Incident]] = {}
    for incident in incidents:
        by_service.setdefault(incident.service, []).append(incident)
    rows = [
        ServiceStatus(
            service,
            max(i.impact for i in group),
            min((i.state for i in group), key=_PROGRESS.index),
            min(i.declared_at for i in group),
        )
        for service, group in by_service.items()
    ]
    return sorted(rows, key=lambda r: (-r.impact.rank, r.since, r.service))


def as_json(snapshot: StatusSnapshot) -> dict[str, Any]:
    status, words = BANNER[snapshot.overall]
    return {
        "status": status,
        "description": words,
        "updated_at": utc_iso(snapshot.at),
        "services": [
            {
                "service": s.service,
                "impact": s.impact.value,
                "impact_description": CUSTOMER_WORDS[s.impact],
                "state": s.state.value,
                "since": utc_iso(s.since),
            }
            for s in snapshot.services
        ],
        "more_open_incidents": snapshot.more_open,
        "past_incidents": [
            {
                "service": p.service,
                "impact": p.impact.value,
                "impact_description": CUSTOMER_WORDS[p.impact],
                "started_at": utc_iso(p.started_at),
                "resolved_at": utc_iso(p.resolved_at),
                "duration_seconds": int((p.resolved_at - p.started_at).total_seconds()),
            }
            for p in snapshot.past
        ],
        "more_past_incidents": snapshot.more_past,
    }


def render(snapshot: StatusSnapshot) -> str:
    overall = snapshot.overall
    parts = [
        "<h1>Service status</h1>",
        f'<div class="banner {overall.value}">{esc(BANNER[overall][1])}</div>',
        f'<p class="muted">Updated {time_tag(snapshot.at)}. All times are UTC.</p>',
    ]
    if snapshot.services:
        parts += ["<h2>Current incidents</h2>", _current_table(snapshot.services)]
        parts.append(more_note(snapshot.more_open))
    parts.append("<h2>Past incidents (last 7 days)</h2>")
    if snapshot.past:
        parts.append(_past_table(snapshot.past))
        parts.append(more_note(snapshot.more_past))
    else:
        parts.append("<p>No incidents in the last 7 days.</p>")
    return document("Service status", "\n".join(parts))


def _current_table(services: list[ServiceStatus]) -> str:
    return table(
        ("Service", "Impact", "Status", "Since"),
        (
            (
                s.impact.value,
                [
                    esc(s.service),
                    esc(CUSTOMER_WORDS[s.impact]),
                    esc(s.state.value.capitalize()),
                    time_tag(s.since),
                ],
            )
            for s in services
        ),
    )


def _past_table(past: list[PastIncident]) -> str:
    return table(
        ("Service", "Impact", "Started", "Resolved", "Duration"),
        (
            (
                None,
                [
                    esc(p.service),
                    esc(CUSTOMER_WORDS[p.impact]),
                    time_tag(p.started_at),
                    time_tag(p.resolved_at),
                    esc(duration(p.resolved_at - p.started_at)),
                ],
            )
            for p in past
        ),
    )


class StatusPage:
    """The handler, with the snapshot it shares between requests (one per app)."""

    def __init__(self) -> None:
        self._cached: StatusSnapshot | None = None
        self._reading: asyncio.Future[StatusSnapshot] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        """Public status page (HTML, or JSON with ?format=json)"""
        wants = request.query.get("format", "html")
        if wants not in ("html", "json"):
            raise PayloadError(f"query parameter format: {wants[:40]!r} is not html or json")
        if wants == "json":
            # A store that is down raises to the error middleware: a JSON 503.
            facts = as_json(await self._snapshot(request))
            return web.json_response(facts, headers={"Cache-Control": CACHE_CONTROL})
        try:
            snapshot = await self._snapshot(request)
        except StoreUnavailable as exc:
            return store_down(request, exc, "The status page cannot be shown right now.")
        return html_response(render(snapshot), cache_control=CACHE_CONTROL)

    async def _snapshot(self, request: web.Request) -> StatusSnapshot:
        """The cached snapshot while fresh; else the one read in flight, shared by every
        request that arrives meanwhile (a slow store is not asked once per visitor)."""
        now = request.app[CLOCK].now()
        cached = self._cached
        if cached is not None and now - timedelta(seconds=CACHE_SECONDS) < cached.at <= now:
            return cached
        if self._reading is None:
            self._reading = asyncio.ensure_future(read_snapshot(request.app[STORE], now))
            self._reading.add_done_callback(self._settle)
        # Shielded: a visitor who leaves does not cancel the read the others wait for.
        return await asyncio.shield(self._reading)

    def _settle(self, reading: asyncio.Future[StatusSnapshot]) -> None:
        self._reading = None
        if not reading.cancelled() and reading.exception() is None:
            self._cached = reading.result()


async def read_snapshot(store: IncidentReader, now: datetime) -> StatusSnapshot:
    open_now = await open_incidents(store)
    return snapshot_of(open_now, await resolved_since(store, now - PAST_WINDOW), now)
