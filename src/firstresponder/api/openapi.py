"""The OpenAPI 3 document, built from the same routes and schemas the server uses."""

from __future__ import annotations

from typing import Any

from .. import __version__
from . import incidents, postmortem
from .payload import ALERTMANAGER_SCHEMA
from .schemas import REQUESTS, RESPONSES
from .status_page import BANNER, CUSTOMER_WORDS

_REQUEST_OF = {
    "declare": "DeclareRequest",
    "acknowledge": "AckRequest",
    "set_state": "StateRequest",
    "assign_role": "RoleRequest",
    "add_note": "NoteRequest",
    "resolve": "ResolveRequest",
    "set_severity": "SeverityRequest",
    "add_action_item": "ActionItemRequest",
}
_CREATED = ("declare", "add_action_item")  # 201 with what was made; their body is required
_NO_CONFLICT = ("add_action_item",)  # allowed in every state of the incident: never 409
_QUERY: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "list_incidents": [
        ("state", {"type": "string"}),
        ("open", {"type": "boolean"}),
        ("service", {"type": "string"}),
        ("severity", {"type": "string"}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        ("before", {"type": "integer", "minimum": 1}),
    ],
    "near_misses": [("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "bad request (the message names the field)",
        401: "missing or wrong credentials",
        404: "no such incident",
        409: "conflicts with the incident's state",
        413: "body too large",
        415: "not JSON",
        503: "store unavailable; retry",
    }
    return {str(code): _json("Error", text[code]) for code in codes}


def _success(response: str) -> dict[str, Any]:
    if response == "Markdown":
        media = {"text/markdown": {"schema": {"type": "string"}}}
        return {"description": "success (Markdown, UTF-8)", "content": media}
    return _json(response, "success")


def _operation(method: str, path: str, handler: Any, response: str) -> dict[str, Any]:
    name = handler.__name__
    op: dict[str, Any] = {
        "operationId": name,
        "summary": (handler.__doc__ or name).strip().splitlines()[0],
    }
    params = (
        [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
        if "{id}" in path
        else []
    )
    params += [
        {"name": q, "in": "query", "required": False, "schema": s} for q, s in _QUERY.get(name, [])
    ]
    if params:
        op["parameters"] = params
    ok = "201" if name in _CREATED else "200"
    op["responses"] = {ok: _success(response), **_errors(400, 503)}
    if "{id}" in path:
        op["responses"].update(_errors(404))
    if method == "POST":
        op["requestBody"] = {
            "required": name in _CREATED,
            "content": {"application/json": {"schema": _ref(_REQUEST_OF[name])}},
        }
        op["security"] = [{"apiToken": []}]
        op["responses"].update(_errors(401, 413, 415))
        if name not in _NO_CONFLICT:
            op["responses"].update(_errors(409))
    return op


def build_openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler, response in (*incidents.ROUTES, *postmortem.ROUTES):
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, handler, response)
    paths["/api/v1/alertmanager"] = {
        "post": {
            "operationId": "alertmanager_webhook",
            "summary": "Alertmanager webhook (payload version 4); answered once the alerts are stored",
            "security": [{"webhookBearer": []}, {"webhookBasic": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("AlertmanagerNotification")}},
            },
            "responses": {
                "200": _json("WebhookAccepted", "stored"),
                **_errors(400, 401, 413, 415, 503),
            },
        }
    }
    paths["/api/v1/pagerduty/webhook"] = {
        "post": {
            "operationId": "pagerduty_webhook",
            "summary": "PagerDuty webhooks v3 (signed): acknowledgements and resolutions made "
            "in PagerDuty, mapped back to the incident by dedup key",
            "parameters": [
                {
                    "name": "X-PagerDuty-Signature",
                    "in": "header",
                    "required": True,
                    "description": "v1=<hex HMAC-SHA256(secret, body)>[,v1=…]",
                    "schema": {"type": "string"},
                },
                {
                    "name": "X-Webhook-Id",
                    "in": "header",
                    "required": False,
                    "description": "delivery id; a redelivery is answered 'duplicate'",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PagerDutyWebhook")}},
            },
            "responses": {
                "200": _json("PagerDutyWebhookAnswer", "applied, unchanged, duplicate or ignored"),
                **_errors(400, 401, 404, 413, 503),
            },
        }
    }
    for path, op, summary in (
        (
            "/api/v1/slack/commands",
            "slack_commands",
            "`/incident` slash commands (signed by Slack): declare, ack, state, severity, "
            "role, note, status, help; the answer is an ephemeral message",
        ),
        (
            "/api/v1/slack/interactions",
            "slack_interactions",
            "Slack interactivity (signed): the Acknowledge button; answered 200 at once",
        ),
    ):
        paths[path] = {"post": _slack_request(op, summary, answers=op == "slack_commands")}
    for path, summary in (
        ("/healthz", "the process is alive"),
        ("/readyz", "the store answers"),
        ("/metrics", "Prometheus metrics"),
        ("/api/v1/openapi.json", "this document"),
    ):
        paths[path] = {
            "get": {
                "operationId": path.strip("/").replace("/", "_").replace(".", "_"),
                "summary": summary,
                "responses": {"200": {"description": "ok"}},
            }
        }
    paths["/readyz"]["get"]["responses"]["503"] = {"description": "the store does not answer"}
    paths.update(_pages())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "firstresponder",
            "version": __version__,
            "description": "Prometheus/Alertmanager alerts in, well-run incidents out.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **REQUESTS,
                **RESPONSES,
                "AlertmanagerNotification": ALERTMANAGER_SCHEMA,
                "StatusPage": _STATUS_PAGE,
            },
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer"},
                "webhookBearer": {"type": "http", "scheme": "bearer"},
                "webhookBasic": {"type": "http", "scheme": "basic"},
            },
        },
    }


def _slack_request(operation: str, summary: str, answers: bool) -> dict[str, Any]:
    signed = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in (
            ("X-Slack-Signature", "v0=<hex HMAC-SHA256(signing secret, v0:timestamp:body)>"),
            ("X-Slack-Request-Timestamp", "Unix time; at most 5 minutes old"),
        )
    ]
    spec: dict[str, Any] = {
        "operationId": operation,
        "summary": summary,
        "parameters": signed,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            },
        },
        "responses": {
            "200": {
                "description": "handled: an ephemeral message for the person",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "response_type": {"type": "string"},
                                "text": {"type": "string"},
                            },
                        }
                    }
                },
            },
            **_errors(401, 404, 413, 503),
        },
    }
    if not answers:
        spec["responses"]["200"] = {"description": "handled (Slack needs no body)"}
    return spec


_TIME = {"type": "string", "format": "date-time"}
_IMPACT = {"type": "string", "enum": [i.value for i in CUSTOMER_WORDS]}


def _record(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


# What GET /status?format=json answers (status_page.as_json).
_STATUS_PAGE = _record(
    {
        "status": {"type": "string", "enum": [status for status, _ in BANNER.values()]},
        "description": {"type": "string"},
        "updated_at": _TIME,
        "services": {
            "type": "array",
            "items": _record(
                {
                    "service": {"type": "string"},
                    "impact": _IMPACT,
                    "impact_description": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": ["investigating", "identified", "monitoring"],
                    },
                    "since": _TIME,
                }
            ),
        },
        "more_open_incidents": {"type": "integer", "minimum": 0},
        "past_incidents": {
            "type": "array",
            "items": _record(
                {
                    "service": {"type": "string"},
                    "impact": _IMPACT,
                    "impact_description": {"type": "string"},
                    "started_at": _TIME,
                    "resolved_at": _TIME,
                    "duration_seconds": {"type": "integer", "minimum": 0},
                }
            ),
        },
        "more_past_incidents": {"type": "integer", "minimum": 0},
    }
)


def _pages() -> dict[str, Any]:
    """The two server-rendered pages: HTML for people, and the status page's JSON twin."""
    html = {"text/html": {"schema": {"type": "string"}}}
    unavailable = {
        "description": "store unavailable: a short page that says to retry",
        "content": {**html, "application/json": {"schema": _ref("Error")}},
    }
    status_format = {"type": "string", "enum": ["html", "json"], "default": "html"}
    return {
        "/status": {
            "get": {
                "operationId": "status_page",
                "summary": "Public status page: services with an open incident, their "
                "impact in customer words, and incidents resolved in the last 7 days; "
                "nothing internal (no titles, notes, people or labels)",
                "parameters": [
                    {"name": "format", "in": "query", "required": False, "schema": status_format}
                ],
                "responses": {
                    "200": {
                        "description": "HTML, or JSON with ?format=json (cacheable 30 s)",
                        "content": {**html, "application/json": {"schema": _ref("StatusPage")}},
                    },
                    **_errors(400),
                    "503": unavailable,
                },
            }
        },
        "/": {
            "get": {
                "operationId": "incident_board",
                "summary": "Incident board for responders: open incidents, then those "
                "resolved in the last 24 hours (HTML, refreshes itself every "
                "`server.board_refresh`, 30 s by default)",
                "responses": {
                    "200": {"description": "the board", "content": html},
                    "503": {"description": unavailable["description"], "content": html},
                },
            }
        },
        "/favicon.ico": {
            "get": {
                "operationId": "favicon",
                "summary": "The icon browsers ask for with every page (an SVG siren light)",
                "responses": {
                    "200": {
                        "description": "the icon (cacheable for a day)",
                        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
