"""The bounded store reads behind the HTML pages: open incidents, and those resolved lately.

Both pages must stay cheap however large the history grows, so each list is capped and
says how many it left out, and neither reads the incidents' alerts, which they do not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.incident import Incident
from ..store.ports import IncidentFilter, IncidentReader

MAX_OPEN = 200  # open incidents a page lists
MAX_RESOLVED = 100  # resolved incidents a page lists
RESOLVED_SCAN = 1000  # resolved incidents of the window read, at most


@dataclass(frozen=True)
class Listing:
    """What a page shows, and how many more matched but were cut."""

    incidents: list[Incident]
    more: int = 0


async def open_incidents(store: IncidentReader) -> Listing:
    """Open incidents, newest first, at most `MAX_OPEN`."""
    query = IncidentFilter(open_only=True, limit=MAX_OPEN + 1, with_alerts=False)
    found = await store.list_incidents(query)
    if len(found) <= MAX_OPEN:
        return Listing(found)
    # Counted only when cut; a count taken a moment later may be smaller, never below 1.
    total = sum((await store.open_counts()).values())
    return Listing(found[:MAX_OPEN], max(total - MAX_OPEN, 1))


async def resolved_since(store: IncidentReader, since: datetime) -> Listing:
    """Incidents resolved at or after `since`, latest resolution first, at most
    `MAX_RESOLVED`; "more" counts up to `RESOLVED_SCAN` of those left out."""
    query = IncidentFilter(resolved_since=since, limit=RESOLVED_SCAN, with_alerts=False)
    recent = await store.list_incidents(query)
    recent.sort(key=_resolved_at, reverse=True)
    return Listing(recent[:MAX_RESOLVED], max(len(recent) - MAX_RESOLVED, 0))


def _resolved_at(incident: Incident) -> datetime:
    assert incident.resolved_at is not None  # resolved_since keeps only resolved ones
    return incident.resolved_at
