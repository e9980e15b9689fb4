"""The REST API over incidents: list, get, declare, ack, state, roles, notes, resolve, timeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from ..domain.incident import Incident, TimelineEntry
from ..domain.storable import unstorable_at, why_unstorable
from ..domain.vocabulary import Impact, IncidentState, Role, Severity
from ..errors import PayloadError
from ..store.ports import IncidentFilter
from .auth import check_api_token
from .keys import COMMANDS, CONFIG, STORE
from .payload import CheckedSchema, decode_json
from .schemas import REQUESTS
from .views import entry_view, incident_view, near_miss_view

log = logging.getLogger(__name__)
_VALIDATORS = {name: CheckedSchema(schema) for name, schema in REQUESTS.items()}
MAX_LIMIT = 500
MAX_ID = 2**63 - 1  # the largest id a BIGINT column (and SQLite) can hold
T = TypeVar("T")


def _incident_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _body(request: web.Request, schema: str) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        data: Any = {}
    else:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(
                text='{"error": "Content-Type must be application/json"}',
                content_type="application/json",
            )
        data = decode_json(raw)
    _VALIDATORS[schema].check(data)
    assert isinstance(data, dict)
    problem = unstorable_at(data)  # a person can fix it: refuse, naming the field
    if problem is not None:
        raise PayloadError(problem)
    return data


async def _authorized_body(request: web.Request, schema: str) -> tuple[dict[str, Any], str]:
    """Check the API token before reading the body: strangers learn nothing about the schema."""
    name = check_api_token(request, request.app[CONFIG].api_tokens)
    body = await _body(request, schema)
    by = body.get("by")
    if by and by != name:
        # The person acts (and may become EOC); which token spoke for them goes to the log.
        log.info("API change on behalf", extra={"token": name, "by": by, "path": request.path})
    return body, by or name


def _base(request: web.Request) -> str:
    return request.app[CONFIG].server.public_url


def _query_int(request: web.Request, name: str, default: int | None) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    # isascii: str.isdigit() also accepts digits such as '²' that int() refuses.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
        raise PayloadError(
            f"query parameter {name}: {text[:40]!r} is not an integer from 1 to {MAX_ID}"
        )
    return int(text)


def _query_text(request: web.Request, name: str) -> str | None:
    text = request.query.get(name) or None
    reason = None if text is None else why_unstorable(text)
    if reason is not None:
        raise PayloadError(f"query parameter {name}: {reason}")
    return text


def _enum(kind: Callable[[str], T], request: web.Request, name: str) -> T | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise PayloadError(f"query parameter {name}: {exc}") from exc


async def list_incidents(request: web.Request) -> web.Response:
    open_text = request.query.get("open", "").lower()
    if open_text not in ("", "true", "false", "1", "0"):
        raise PayloadError(f"query parameter open: {open_text[:40]!r} is not true or false")
    limit = min(_query_int(request, "limit", 100) or 100, MAX_LIMIT)
    query = IncidentFilter(
        state=_enum(IncidentState, request, "state"),
        open_only=open_text in ("true", "1"),
        service=_query_text(request, "service"),
        severity=_enum(Severity.parse, request, "severity"),
        limit=limit,
        before_id=_query_int(request, "before", None),
    )
    found = await request.app[STORE].list_incidents(query)
    next_before = found[-1].id if len(found) == limit else None
    return web.json_response(
        {"incidents": [incident_view(i, _base(request)) for i in found], "next_before": next_before}
    )


async def get_incident(request: web.Request) -> web.Response:
    incident = await request.app[STORE].get_incident(_incident_id(request))
    return web.json_response(incident_view(incident, _base(request)))


async def get_timeline(request: web.Request) -> web.Response:
    incident_id = _incident_id(request)
    entries = await request.app[STORE].timeline(incident_id)
    return web.json_response(
        {"incident_id": incident_id, "entries": [entry_view(e) for e in entries]}
    )


async def near_misses(request: web.Request) -> web.Response:
    limit = min(_query_int(request, "limit", 100) or 100, MAX_LIMIT)
    found = await request.app[STORE].near_misses(limit)
    return web.json_response({"near_misses": [near_miss_view(m) for m in found]})


async def declare(request: web.Request) -> web.Response:
    body, actor = await _authorized_body(request, "DeclareRequest")
    impact = Impact(body.get("impact", "degraded"))
    severity = Severity.parse(body["severity"]) if "severity" in body else None
    incident = await request.app[COMMANDS].declare(
        service=body["service"],
        title=body["title"],
        impact=impact,
        severity=severity,
        description=body.get("description", ""),
        labels=body.get("labels", {}),
        actor=actor,
    )
    return web.json_response(incident_view(incident, _base(request)), status=201)


Change = Callable[[Incident, datetime], list[TimelineEntry]]


async def _apply(
    request: web.Request, schema: str, make: Callable[[dict[str, Any], str], Change]
) -> web.Response:
    body, actor = await _authorized_body(request, schema)
    incident, entries = await request.app[COMMANDS].change(_incident_id(request), make(body, actor))
    changes = [
        {
            "at": e.at.isoformat(),
            "kind": e.kind,
            "actor": e.actor,
            "message": e.message,
            "data": dict(e.data),
        }
        for e in entries
    ]
    return web.json_response(
        {"incident": incident_view(incident, _base(request)), "changes": changes}
    )


async def acknowledge(request: web.Request) -> web.Response:
    return await _apply(
        request, "AckRequest", lambda b, actor: lambda i, now: i.acknowledge(actor, now)
    )


async def set_state(request: web.Request) -> web.Response:
    return await _apply(
        request,
        "StateRequest",
        lambda b, actor: (
            lambda i, now: i.set_state(IncidentState(b["state"]), actor, now, b.get("note", ""))
        ),
    )


async def assign_role(request: web.Request) -> web.Response:
    return await _apply(
        request,
        "RoleRequest",
        lambda b, actor: lambda i, now: i.assign_role(Role(b["role"]), b["person"], actor, now),
    )


async def add_note(request: web.Request) -> web.Response:
    return await _apply(
        request, "NoteRequest", lambda b, actor: lambda i, now: i.add_note(b["text"], actor, now)
    )


async def resolve(request: web.Request) -> web.Response:
    return await _apply(
        request,
        "ResolveRequest",
        lambda b, actor: lambda i, now: i.resolve(actor, now, b.get("note", "")),
    )


async def set_severity(request: web.Request) -> web.Response:
    return await _apply(
        request,
        "SeverityRequest",
        lambda b, actor: lambda i, now: i.set_severity(Severity.parse(b["severity"]), actor, now),
    )


ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/incidents", list_incidents, "IncidentList"),
    ("POST", "/api/v1/incidents", declare, "Incident"),
    ("GET", "/api/v1/incidents/{id}", get_incident, "Incident"),
    ("GET", "/api/v1/incidents/{id}/timeline", get_timeline, "Timeline"),
    ("POST", "/api/v1/incidents/{id}/ack", acknowledge, "IncidentChange"),
    ("POST", "/api/v1/incidents/{id}/state", set_state, "IncidentChange"),
    ("POST", "/api/v1/incidents/{id}/roles", assign_role, "IncidentChange"),
    ("POST", "/api/v1/incidents/{id}/notes", add_note, "IncidentChange"),
    ("POST", "/api/v1/incidents/{id}/resolve", resolve, "IncidentChange"),
    ("POST", "/api/v1/incidents/{id}/severity", set_severity, "IncidentChange"),
    ("GET", "/api/v1/near-misses", near_misses, "NearMissList"),
]
