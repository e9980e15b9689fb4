"""Domain values as JSON for the API."""

from __future__ import annotations

from typing import Any

from ..domain.grouping import NearMiss
from ..domain.incident import Incident
from ..store.ports import StoredEntry


def incident_view(incident: Incident, base_url: str = "") -> dict[str, Any]:
    owner = incident.owner_role
    api = f"{base_url}/api/v1/incidents/{incident.id}"
    return {
        "id": incident.id,
        "title": incident.title,
        "service": incident.service,
        "group_key": incident.group_key,
        "source": incident.source,
        "description": incident.description,
        "impact": incident.impact.value,
        "severity": incident.severity.value,
        "state": incident.state.value,
        "declared_at": incident.declared_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "acknowledged_at": incident.acknowledged_at.isoformat()
        if incident.acknowledged_at
        else None,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "owner": {"role": owner.value, "person": incident.roles.get(owner)},
        "roles": {role.value: person for role, person in incident.roles.items()},
        "alerts": [
            a.as_dict() for a in sorted(incident.alerts.values(), key=lambda a: a.starts_at)
        ],
        "classification": incident.classification,
        "links": {"self": api, "timeline": f"{api}/timeline"},
    }


def entry_view(stored: StoredEntry) -> dict[str, Any]:
    entry = stored.entry
    return {
        "id": stored.id,
        "at": entry.at.isoformat(),
        "kind": entry.kind,
        "actor": entry.actor,
        "message": entry.message,
        "data": dict(entry.data),
    }


def near_miss_view(miss: NearMiss) -> dict[str, Any]:
    return {
        "service": miss.service,
        "group_key": miss.group_key,
        "alert": miss.alert.as_dict(),
        "recovered_at": miss.recovered_at.isoformat(),
        "reason": miss.reason,
    }
