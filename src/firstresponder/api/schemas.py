"""JSON Schemas of the REST API: the handlers validate with them and OpenAPI publishes them."""

from __future__ import annotations

from typing import Any

IMPACT = {"type": "string", "enum": ["operational", "degraded", "partial_disruption", "outage"]}
SEVERITY = {"type": "string", "pattern": "^[SsPp][1-4]$", "description": "S1..S4 (P1..P4 accepted)"}
STATE = {"type": "string", "enum": ["investigating", "identified", "monitoring", "resolved"]}
ROLE = {"type": "string", "enum": ["eoc", "imoc", "cmoc", "lead", "scribe"]}
ACTOR = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "description": "who acts; defaults to the API token's name",
}
TIME = {"type": ["string", "null"], "format": "date-time"}
CRITICALITY = {"type": "string", "enum": ["critical", "high", "medium", "low"]}


def body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": required or [],
    }


REQUESTS: dict[str, dict[str, Any]] = {
    "DeclareRequest": body(
        {
            "service": {"type": "string", "minLength": 1, "maxLength": 200},
            "title": {"type": "string", "minLength": 1, "maxLength": 500},
            "impact": IMPACT,
            "severity": SEVERITY,
            "description": {"type": "string", "maxLength": 10000},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "by": ACTOR,
        },
        ["service", "title"],
    ),
    "AckRequest": body({"by": ACTOR}),
    "StateRequest": body(
        {"state": STATE, "note": {"type": "string", "maxLength": 2000}, "by": ACTOR}, ["state"]
    ),
    "RoleRequest": body(
        {"role": ROLE, "person": {"type": "string", "minLength": 1, "maxLength": 200}, "by": ACTOR},
        ["role", "person"],
    ),
    "NoteRequest": body(
        {"text": {"type": "string", "minLength": 1, "maxLength": 10000}, "by": ACTOR}, ["text"]
    ),
    "ResolveRequest": body({"note": {"type": "string", "maxLength": 2000}, "by": ACTOR}),
    "SeverityRequest": body({"severity": SEVERITY, "by": ACTOR}, ["severity"]),
    "ActionItemRequest": body(
        {
            # pattern \S: not blanks only (the text is trimmed before it is stored)
            "title": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"},
            "owner": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
            "criticality": CRITICALITY,
            "due": {
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "description": "target date, YYYY-MM-DD, not before the day of declaration",
            },
            "by": ACTOR,
        },
        ["title", "owner", "criticality", "due"],
    ),
}

TRACKED_ALERT = {
    "type": "object",
    "required": ["fingerprint", "name", "status", "starts_at", "labels", "impact"],
    "properties": {
        "fingerprint": {"type": "string"},
        "name": {"type": "string"},
        "status": {"enum": ["firing", "resolved"]},
        "starts_at": TIME,
        "ends_at": TIME,
        "labels": {"type": "object"},
        "summary": {"type": "string"},
        "impact": IMPACT,
        "reason": {"type": "string"},
        "evidence": {"type": "array", "items": {"type": "object"}},
        "runbook_url": {"type": "string", "description": "the alert's runbook_url annotation"},
        "generator_url": {"type": "string", "description": "Prometheus graph of the alert"},
    },
}

TIMELINE_ENTRY = {
    "type": "object",
    "required": ["at", "kind", "actor", "message", "data"],
    "properties": {
        "id": {"type": "integer"},
        "at": TIME,
        "kind": {"type": "string"},
        "actor": {"type": "string"},
        "message": {"type": "string"},
        "data": {"type": "object"},
    },
}

INCIDENT = {
    "type": "object",
    "required": [
        "id",
        "title",
        "service",
        "impact",
        "severity",
        "state",
        "declared_at",
        "owner",
        "roles",
        "alerts",
    ],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "service": {"type": "string"},
        "group_key": {"type": "string"},
        "source": {"type": "string"},
        "description": {"type": "string"},
        "impact": IMPACT,
        "severity": {"type": "string", "enum": ["S1", "S2", "S3", "S4"]},
        "state": STATE,
        "declared_at": TIME,
        "updated_at": TIME,
        "acknowledged_at": TIME,
        "acknowledged_by": {"type": ["string", "null"]},
        "resolved_at": TIME,
        "owner": {
            "type": "object",
            "properties": {"role": ROLE, "person": {"type": ["string", "null"]}},
        },
        "roles": {"type": "object", "additionalProperties": {"type": "string"}},
        "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/TrackedAlert"}},
        "classification": {"type": "object"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

ACTION_ITEM = {
    "type": "object",
    "required": [
        "id",
        "incident_id",
        "title",
        "owner",
        "criticality",
        "due",
        "created_at",
        "created_by",
        "status",
    ],
    "properties": {
        "id": {"type": "integer"},
        "incident_id": {"type": "integer"},
        "title": {"type": "string"},
        "owner": {"type": "string"},
        "criticality": CRITICALITY,
        "due": {"type": "string", "format": "date"},
        "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "done"]},
    },
}

RESPONSES: dict[str, dict[str, Any]] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "TrackedAlert": TRACKED_ALERT,
    "TimelineEntry": TIMELINE_ENTRY,
    "Incident": INCIDENT,
    "IncidentList": {
        "type": "object",
        "required": ["incidents"],
        "properties": {
            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}},
            "next_before": {"type": ["integer", "null"]},
        },
    },
    "IncidentChange": {
        "type": "object",
        "required": ["incident", "changes"],
        "properties": {
            "incident": {"$ref": "#/components/schemas/Incident"},
            "changes": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEntry"}},
        },
    },
    "Timeline": {
        "type": "object",
        "required": ["incident_id", "entries"],
        "properties": {
            "incident_id": {"type": "integer"},
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEntry"}},
        },
    },
    "ActionItem": ACTION_ITEM,
    "ActionItemList": {
        "type": "object",
        "required": ["incident_id", "action_items"],
        "properties": {
            "incident_id": {"type": "integer"},
            "action_items": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ActionItem"},
            },
        },
    },
    "NearMissList": {
        "type": "object",
        "required": ["near_misses"],
        "properties": {"near_misses": {"type": "array", "items": {"type": "object"}}},
    },
    "WebhookAccepted": {
        "type": "object",
        "required": ["status", "received", "new", "duplicates"],
        "properties": {
            "status": {"const": "accepted"},
            "received": {"type": "integer"},
            "new": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "truncated": {"type": "integer"},
            "incidents": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "PagerDutyWebhookAnswer": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["applied", "unchanged", "duplicate", "ignored"]},
            "incident_id": {"type": "integer"},
            "reason": {"type": "string"},
        },
    },
    "PagerDutyWebhook": {
        "type": "object",
        "description": "PagerDuty webhooks v3: one event per delivery",
        "required": ["event"],
        "properties": {
            "event": {
                "type": "object",
                "required": ["event_type"],
                "properties": {
                    "id": {"type": "string"},
                    "event_type": {"type": "string"},
                    "resource_type": {"type": "string"},
                    "occurred_at": {"type": "string"},
                    "agent": {"type": ["object", "null"]},
                    "data": {"type": "object"},
                },
            }
        },
    },
}
