"""Conversion between table rows and domain values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement

from ..domain.alerts import Alert, AlertStatus
from ..domain.grouping import NearMiss, PendingAlert
from ..domain.incident import Incident, TimelineEntry, TrackedAlert
from ..domain.vocabulary import Impact, IncidentState, Role, Severity
from .tables import alert_events, incident_alerts


class _Event(Protocol):
    """What identifies an alert event: an `Alert`, or the `TrackedAlert` made of one."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def status(self) -> AlertStatus: ...


def event_key(alert: _Event, starts_at: str | None = None) -> str:
    """What makes an alert event unique (Alertmanager HA peers and retries deliver the
    same one again); `starts_at`, when given, is `alert.starts_at.isoformat()`."""
    # `_value_`, the member's value as stored: `.value` is a property, slow per alert.
    return f"{alert.fingerprint}|{starts_at or alert.starts_at.isoformat()}|{alert.status._value_}"


# An incident's alerts with the events they name (rows from before revision 0004 have
# their own copy in `data` and no event).
EVENT_FIELDS = (
    "fingerprint",
    "status",
    "starts_at",
    "ends_at",
    "labels",
    "annotations",
    "generator_url",
    "impact",
    "reason",
    "evidence",
)
EVENT_COLUMNS: tuple[ColumnElement[Any], ...] = tuple(
    alert_events.c[name].label(f"event_{name}") for name in EVENT_FIELDS
)
ALERT_EVENT_JOIN = incident_alerts.outerjoin(
    alert_events, alert_events.c.event_key == incident_alerts.c.event_key
)


def tracked_from_row(row: Mapping[Any, Any]) -> TrackedAlert | None:
    """An incident's alert from its row joined with its event (`EVENT_COLUMNS`): the event
    as classified, or the row's own copy; None if it has neither (an event deleted by hand)."""
    data = row["data"]
    if data is not None:
        return TrackedAlert.from_dict(data)
    status = row["event_status"]
    if status is None:
        return None
    alert = Alert(
        AlertStatus(status),
        row["event_labels"],
        row["event_annotations"],
        row["event_starts_at"],
        row["event_ends_at"],
        row["event_generator_url"],
        row["event_fingerprint"],
    )
    return TrackedAlert.of(
        alert, Impact(row["event_impact"]), row["event_reason"], row["event_evidence"]
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_group_values(group_key: str) -> dict[str, Any]:
    """A group's row before anything is pending in it."""
    return {"group_key": group_key, "pending": {}, "next_declare_at": None, "updated_at": _EPOCH}


def incident_values(incident: Incident) -> dict[str, Any]:
    return {
        "group_key": incident.group_key,
        "service": incident.service,
        "title": incident.title,
        "description": incident.description,
        "source": incident.source,
        "impact": incident.impact.value,
        "severity": incident.severity.value,
        "state": incident.state.value,
        "declared_at": incident.declared_at,
        "updated_at": incident.updated_at,
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at,
        "roles": {role.value: person for role, person in incident.roles.items()},
        "firing_count": incident.firing_count,
        "classification": incident.classification,
    }


def incident_from_row(
    row: Mapping[Any, Any], alerts: Mapping[str, TrackedAlert] | None = None
) -> Incident:
    return Incident(
        id=int(row["id"]),
        group_key=row["group_key"],
        service=row["service"],
        title=row["title"],
        description=row["description"],
        source=row["source"],
        impact=Impact(row["impact"]),
        severity=Severity(row["severity"]),
        state=IncidentState(row["state"]),
        declared_at=row["declared_at"],
        updated_at=row["updated_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        resolved_at=row["resolved_at"],
        roles={Role(k): v for k, v in row["roles"].items()},
        alerts=dict(alerts or {}),
        firing_count=int(row["firing_count"]),
        classification=dict(row["classification"]),
    )


def alert_values(incident_id: int, alert: TrackedAlert) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "event_key": event_key(alert),
        "data": None,
    }


def entry_values(incident_id: int, entry: TimelineEntry) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": entry.at,
        "kind": entry.kind,
        "actor": entry.actor,
        "message": entry.message,
        "data": dict(entry.data),
    }


def entry_from_row(row: Mapping[Any, Any]) -> TimelineEntry:
    return TimelineEntry(
        at=row["at"], kind=row["kind"], message=row["message"], actor=row["actor"], data=row["data"]
    )


def pending_values(pending: Mapping[str, PendingAlert]) -> dict[str, Any]:
    return {
        fp: {
            "alert": held.alert.as_dict(),
            "service": held.service,
            "declare_at": held.declare_at.isoformat() if held.declare_at else None,
        }
        for fp, held in pending.items()
    }


def pending_from_row(raw: Mapping[str, Any]) -> dict[str, PendingAlert]:
    return {
        fp: PendingAlert(
            TrackedAlert.from_dict(item["alert"]),
            item["service"],
            datetime.fromisoformat(item["declare_at"]) if item["declare_at"] else None,
        )
        for fp, item in raw.items()
    }


def near_miss_values(miss: NearMiss) -> dict[str, Any]:
    return {
        "group_key": miss.group_key,
        "service": miss.service,
        "alert": miss.alert.as_dict(),
        "recovered_at": miss.recovered_at,
        "reason": miss.reason,
    }


def near_miss_from_row(row: Mapping[Any, Any]) -> NearMiss:
    return NearMiss(
        row["group_key"],
        row["service"],
        TrackedAlert.from_dict(row["alert"]),
        row["recovered_at"],
        row["reason"],
    )
