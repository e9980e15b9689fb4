"""What a replay found, as one chronological list of events (pure: no I/O).

The facts come from where the daemon keeps them: each incident's timeline and the near
misses in the store, and the messages the recording pagers were handed. Only what an
SRE asks of a replay is listed (declared, severity raised, paged, escalated, recovered,
near misses); the rest of a timeline (each alert firing, each alert recovering) is one
`GET /api/v1/incidents/{id}/timeline` away in a real run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import utc_iso
from .domain.escalation import Deadline, PageAction
from .domain.grouping import NearMiss
from .domain.incident import Incident, TimelineEntry
from .replay_engine import SentPage
from .store.ports import StoredEntry


@dataclass(frozen=True)
class Facts:
    incidents: Sequence[Incident]  # oldest first
    entries: Sequence[StoredEntry]  # every timeline entry of every incident
    near_misses: Sequence[NearMiss]
    pages: Sequence[SentPage]  # in the order the pagers were handed them
    waiting: Sequence[Deadline]  # escalation deadlines not yet due when the replay stopped


# What an entry says in a report: (kind, text, the facts behind the text).
Description = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # declared, impact_raised, severity_raised, paged, escalated, ...
    incident: int | None
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


def events(facts: Facts) -> list[Event]:
    """Every event, in time order; at one instant an incident's own changes come before
    the pages they caused, and incidents in the order they were declared."""
    services = {incident.id: incident.service for incident in facts.incidents}
    ordered: list[tuple[tuple[Any, ...], Event]] = []
    for stored in facts.entries:
        event = _from_entry(stored.incident_id, stored.entry, services)
        if event is not None:
            ordered.append(((event.at, stored.incident_id, 0, stored.id), event))
    for number, page in enumerate(facts.pages):
        ordered.append(((page.at, page.incident_id, 1, number), _from_page(page)))
    for number, miss in enumerate(facts.near_misses):
        ordered.append(((miss.recovered_at, float("inf"), 2, number), _from_near_miss(miss)))
    ordered.sort(key=lambda item: item[0])
    return [event for _, event in ordered]


def _from_entry(
    incident_id: int, entry: TimelineEntry, services: Mapping[int, str]
) -> Event | None:
    describe = _DESCRIBE.get(entry.kind)
    if describe is None:
        return None
    kind, text, data = describe(entry, services.get(incident_id, "?"))
    return Event(entry.at, kind, incident_id, text, data)


def _declared(entry: TimelineEntry, service: str) -> Description:
    d = entry.data
    data = {
        "service": service,
        "impact": d.get("impact"),
        "severity": d.get("severity"),
        "alert": d.get("alert"),
        "reason": d.get("reason"),
        "alert_started_at": str(d.get("alert_started_at", "")).replace("+00:00", "Z"),
    }
    text = f"{service}: {d.get('impact')} ({d.get('severity')}) from {d.get('alert')}"
    return "declared", f"{text} — {d.get('reason')}", data


def _changed(prefix: str, kind: str) -> Callable[[TimelineEntry, str], Description]:
    """Entries whose own message says it best, without the word the kind already says."""

    def describe(entry: TimelineEntry, service: str) -> Description:
        data = {"service": service, "from": entry.data.get("from"), "to": entry.data.get("to")}
        return kind, entry.message.removeprefix(prefix), data

    return describe


def _escalation(entry: TimelineEntry, service: str) -> Description:
    data = {"service": service, "to": entry.data.get("to"), "reason": entry.data.get("reason")}
    if entry.kind == "escalated":
        return "escalated", entry.message.removeprefix("Escalated "), data
    return "escalation_skipped", entry.message, data


def _state(entry: TimelineEntry, service: str) -> Description:
    before, after = entry.data.get("from"), entry.data.get("to")
    data = {"service": service, "from": before, "to": after}
    kind = {"monitoring": "monitoring", "investigating": "reopened"}.get(str(after), "state")
    if entry.kind == "resolved":
        kind = "resolved"
    return kind, entry.message.removeprefix("State "), data


def _page_failed(entry: TimelineEntry, service: str) -> Description:
    return "page_failed", entry.message, {"service": service, **entry.data}


_DESCRIBE: Mapping[str, Callable[[TimelineEntry, str], Description]] = {
    "declared": _declared,
    "impact_raised": _changed("Impact raised ", "impact_raised"),
    "severity_raised": _changed("Severity raised ", "severity_raised"),
    "severity_set": _changed("Severity set ", "severity_set"),
    "escalated": _escalation,
    "escalation_skipped": _escalation,
    "state_changed": _state,
    "resolved": _state,
    "page_failed": _page_failed,
}


def _from_page(page: SentPage) -> Event:
    role = page.role.value.upper()
    kind = "paged" if page.action is PageAction.TRIGGER else f"page_{page.action.value}"
    data = {
        "role": page.role.value,
        "target": page.target,
        "action": page.action.value,
        "reason": page.reason,
    }
    return Event(page.at, kind, page.incident_id, f"{role} via {page.target}: {page.reason}", data)


def _from_near_miss(miss: NearMiss) -> Event:
    alert = miss.alert
    data = {
        "service": miss.service,
        "alert": alert.name,
        "impact": alert.impact.value,
        "started_at": utc_iso(alert.starts_at),
        "recovered_at": utc_iso(miss.recovered_at),
        "reason": miss.reason,
    }
    lasted = _duration(miss.recovered_at - alert.starts_at)
    text = f"{miss.service}: {alert.name} ({alert.impact.value}) fired {lasted}, {miss.reason}"
    return Event(miss.recovered_at, "near_miss", None, text, data)


def _duration(value: timedelta) -> str:
    seconds = max(0, int(value.total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
