"""A fake PagerDuty: Events API v2 (`POST /v2/enqueue`) and REST `GET /oncalls`, over TLS
(the `pagerduty` package only talks https). Trust it with `client_tls()`.

Events are validated the way PagerDuty documents them and answered 202 or 400
`{"status": "invalid event", "message": ..., "errors": [...]}`. Incidents follow
PagerDuty's dedup rules: one open incident per routing key and dedup_key; a trigger on
an open one joins it, acknowledge/resolve move it, a trigger after resolve opens a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .server import FakeServer

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32


@dataclass
class FakeIncident:
    routing_key: str
    dedup_key: str
    summary: str
    severity: str
    status: str = "triggered"  # triggered | acknowledged | resolved
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


class FakePagerDuty(FakeServer):
    tls = True

    def __init__(self, api_token: str = "fake-pagerduty-rest-token") -> None:
        super().__init__()
        self.api_token = api_token
        self.incidents: list[FakeIncident] = []
        self.oncall: dict[str, str] = {}  # schedule id -> name of whoever is on call

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/v2/enqueue", self._enqueue), web.get("/oncalls", self._oncalls)]

    def failure_body(self, status: int) -> Any:
        return {"status": HTTPStatus(status).phrase, "message": HTTPStatus(status).phrase}

    @property
    def events(self) -> list[Any]:
        """The JSON bodies sent to the Events API, in order."""
        return [request.json for request in self.requests_to("/v2/enqueue")]

    def incident(self, routing_key: str, dedup_key: str) -> FakeIncident | None:
        """The latest incident for this key (open or not)."""
        matching = [
            incident
            for incident in self.incidents
            if (incident.routing_key, incident.dedup_key) == (routing_key, dedup_key)
        ]
        return matching[-1] if matching else None

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event = await request.json()
        except ValueError:
            event = None
        errors = event_errors(event)
        if errors:
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            return web.json_response(body, status=400)
        key = event.get("dedup_key") or uuid.uuid4().hex
        self._apply(event, key)
        body = {"status": "success", "message": "Event processed", "dedup_key": key}
        return web.json_response(body, status=202)

    def _apply(self, event: Mapping[str, Any], key: str) -> None:
        current = self.incident(event["routing_key"], key)
        if current is not None and not current.is_open:
            current = None
        action = event["event_action"]
        if action == "trigger" and current is None:
            payload = event["payload"]
            current = FakeIncident(
                event["routing_key"], key, payload["summary"], payload["severity"]
            )
            self.incidents.append(current)
        if current is None:
            return  # acknowledging or resolving nothing is accepted and ignored
        current.events.append(dict(event))
        if action != "trigger":
            current.status = "acknowledged" if action == "acknowledge" else "resolved"

    async def _oncalls(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Token token={self.api_token}":
            unauthorized = {"error": {"message": "Unauthorized", "code": 2006}}
            return web.json_response(unauthorized, status=401)
        schedules = request.query.getall("schedule_ids[]", [])
        entries = [
            _oncall(schedule, self.oncall[schedule])
            for schedule in schedules
            if schedule in self.oncall
        ]
        body = {"oncalls": entries, "limit": 25, "offset": 0, "more": False, "total": None}
        return web.json_response(body)


def event_errors(event: Any) -> list[str]:
    """What PagerDuty would reject in an Events API v2 body."""
    if not isinstance(event, Mapping):
        return ["Event object must be a JSON object"]
    errors = []
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors += _payload_errors(event.get("payload"))
        errors += _links_errors(event.get("links", []))
    return errors


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, Mapping):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"].strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of critical, error, warning, info)"
        )
    for name in ("component", "group", "class", "timestamp"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    return errors


def _links_errors(links: Any) -> list[str]:
    if not isinstance(links, list) or not all(
        isinstance(link, Mapping) and isinstance(link.get("href"), str) for link in links
    ):
        return ["'links' must be a list of objects with an 'href'"]
    return []


def _oncall(schedule: str, name: str) -> dict[str, Any]:
    user_id = "P" + uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:6].upper()
    return {
        "escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference"},
        "escalation_level": 1,
        "schedule": {"id": schedule, "type": "schedule_reference", "summary": schedule},
        "user": {"id": user_id, "type": "user_reference", "summary": name},
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-08T00:00:00Z",
    }
