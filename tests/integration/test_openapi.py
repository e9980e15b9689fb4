"""GET /api/v1/openapi.json: a structurally valid OpenAPI 3.1 document that matches the
routes the app serves and the answers it gives.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing.exceptions import Unresolvable

from firstresponder.api.openapi import build_openapi
from firstresponder.config import Config, load_config

from ..factories import (
    PAGERDUTY_WEBHOOK_SECRET,
    WEBHOOK_TOKEN,
    make_alert,
    make_payload,
    write_config,
)
from .support import (
    DOC,
    DOC_URI,
    MIXED_TRUNCATED,
    SLOTH_PAGE,
    SLOTH_RESOLVED,
    WEBHOOK,
    ApiDoc,
    Client,
    call,
    payload_from,
    slack_signed,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SLACK_SECRET = "openapi-slack-signing-secret"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Slack on (the scheduler does not run here, so nothing is sent to it)."""
    slack = {
        "api_url": "http://127.0.0.1:9/api/",
        "bot_token": "xoxb-t",
        "signing_secret": SLACK_SECRET,
    }
    return load_config(write_config(tmp_path, slack=slack))


# The parts of the OpenAPI 3.1 schema (spec.openapis.org/oas/3.1/schema) this document uses,
# with the same constraints: required keys, allowed keys, status code and parameter shapes.
OPENAPI_31: dict[str, Any] = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+(-.+)?$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {
                "title": {"type": "string"},
                "version": {"type": "string"},
                "summary": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "jsonSchemaDialect": {"type": "string"},
        "servers": {"type": "array"},
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {"$ref": "#/$defs/path-item"},
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {
                    "type": "object",
                    "additionalProperties": {"type": ["object", "boolean"]},
                },
                "securitySchemes": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/security-scheme"},
                },
            },
            "propertyNames": {
                "enum": [
                    "schemas",
                    "responses",
                    "parameters",
                    "examples",
                    "requestBodies",
                    "headers",
                    "securitySchemes",
                    "links",
                    "callbacks",
                    "pathItems",
                ]
            },
        },
        "security": {"type": "array", "items": {"$ref": "#/$defs/security-requirement"}},
        "tags": {"type": "array"},
        "externalDocs": {"type": "object"},
    },
    "propertyNames": {
        "anyOf": [
            {
                "enum": [
                    "openapi",
                    "info",
                    "jsonSchemaDialect",
                    "servers",
                    "paths",
                    "webhooks",
                    "components",
                    "security",
                    "tags",
                    "externalDocs",
                ]
            },
            {"pattern": "^x-"},
        ]
    },
    "$defs": {
        "path-item": {
            "type": "object",
            "properties": {m: {"$ref": "#/$defs/operation"} for m in METHODS},
            "propertyNames": {
                "enum": [*METHODS, "$ref", "summary", "description", "servers", "parameters"]
            },
        },
        "operation": {
            "type": "object",
            "required": ["responses"],
            "properties": {
                "operationId": {"type": "string"},
                "summary": {"type": "string"},
                "description": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "parameters": {"type": "array", "items": {"$ref": "#/$defs/parameter"}},
                "requestBody": {"$ref": "#/$defs/request-body"},
                "responses": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^([1-5](?:[0-9]{2}|XX)|default)$"},
                    "additionalProperties": {"$ref": "#/$defs/response"},
                },
                "security": {"type": "array", "items": {"$ref": "#/$defs/security-requirement"}},
                "deprecated": {"type": "boolean"},
            },
            "propertyNames": {
                "enum": [
                    "tags",
                    "summary",
                    "description",
                    "externalDocs",
                    "operationId",
                    "parameters",
                    "requestBody",
                    "responses",
                    "callbacks",
                    "deprecated",
                    "security",
                    "servers",
                ]
            },
        },
        "parameter": {
            "type": "object",
            "required": ["name", "in"],
            "properties": {
                "name": {"type": "string"},
                "in": {"enum": ["query", "header", "path", "cookie"]},
                "required": {"type": "boolean"},
                "schema": {"type": ["object", "boolean"]},
            },
            "if": {"properties": {"in": {"const": "path"}}},
            "then": {"required": ["required"], "properties": {"required": {"const": True}}},
        },
        "request-body": {
            "type": "object",
            "required": ["content"],
            "properties": {"content": {"$ref": "#/$defs/content"}, "required": {"type": "boolean"}},
        },
        "response": {
            "type": "object",
            "required": ["description"],
            "properties": {
                "description": {"type": "string"},
                "content": {"$ref": "#/$defs/content"},
            },
        },
        "content": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z*]+/[a-z0-9.+*-]+$"},
            "additionalProperties": {
                "type": "object",
                "properties": {"schema": {"type": ["object", "boolean"]}},
            },
        },
        "security-scheme": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"]}
            },
            "if": {"properties": {"type": {"const": "http"}}},
            "then": {"required": ["scheme"]},
        },
        "security-requirement": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def schemas_in(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every JSON Schema the document holds, named by where it is."""
    for name, schema in document["components"]["schemas"].items():
        yield f"components.schemas.{name}", schema
    for method, path, op in operations(document):
        for param in op.get("parameters", []):
            yield f"{method} {path} parameter {param['name']}", param["schema"]
        bodies = [("request", op.get("requestBody", {}))] + list(op["responses"].items())
        for where, part in bodies:
            for media, content in part.get("content", {}).items():
                yield f"{method} {path} {where} {media}", content["schema"]


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


async def test_served_document_is_the_built_one(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == build_openapi()


def test_document_has_the_openapi_31_shape() -> None:
    document = build_openapi()
    jsonschema.Draft202012Validator.check_schema(OPENAPI_31)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(document)
    ]
    assert errors == []
    assert document["openapi"] == "3.1.0"


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in operations(build_openapi())]
    assert len(ids) == len(set(ids))


def test_path_parameters_match_the_templates() -> None:
    for method, path, op in operations(build_openapi()):
        in_template = set(re.findall(r"\{([^}]+)\}", path))
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == in_template, f"{method} {path}"


def test_security_requirements_name_defined_schemes() -> None:
    document = build_openapi()
    schemes = set(document["components"]["securitySchemes"])
    for method, path, op in operations(document):
        for requirement in op.get("security", []):
            assert set(requirement) <= schemes, f"{method} {path}: {requirement}"


@pytest.mark.parametrize(
    ("where", "schema"),
    list(schemas_in(build_openapi())),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_schema_is_valid_json_schema(where: str, schema: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_ref_resolves() -> None:
    document = build_openapi()
    resolver = ApiDoc(document).registry.resolver(base_uri=DOC_URI)
    refs = set(refs_in(document))
    assert refs, "the document should share its schemas by $ref"
    for ref in sorted(refs):
        assert ref.startswith("#/"), ref
        try:
            resolved = resolver.lookup(ref).contents
        except Unresolvable as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{ref} does not resolve: {exc}")
        assert isinstance(resolved, dict), ref


async def test_every_route_is_documented_and_every_documented_route_exists(
    client: Client,
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for method, path, _ in operations(build_openapi())}
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


async def test_real_answers_fit_the_documented_schemas(
    client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    """Drive every operation, successes and failures, through `call`, which validates each
    answer against the document; then check nothing was left out."""
    DOC.checked.clear()
    api = api_headers

    async def post(path: str, status: int, body: Any, headers: dict[str, str]) -> Any:
        valid = DOC.request("POST", path).is_valid(body)
        # The documented request schema accepts what the server accepts; for the REST API,
        # whose handlers validate with these very schemas, it refuses what the server refuses.
        if status < 300 or path != WEBHOOK:
            assert valid == (status != 400), (path, body)
        return await call(client, "POST", path, status, json=body, headers=headers)

    await post(WEBHOOK, 200, payload_from(SLOTH_PAGE), hook_headers)
    await post(WEBHOOK, 200, payload_from(MIXED_TRUNCATED), hook_headers)
    await post(WEBHOOK, 200, payload_from(SLOTH_RESOLVED), hook_headers)
    await post(WEBHOOK, 400, make_payload(make_alert(startsAt="now")), hook_headers)
    await post(WEBHOOK, 401, make_payload(), {"Authorization": "Bearer wrong"})
    await call(
        client,
        "POST",
        WEBHOOK,
        415,
        data=b"{}",
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "text/plain"},
    )
    await call(
        client,
        "POST",
        WEBHOOK,
        413,
        data=io.BytesIO(b"x" * (1024 * 1024 + 1)),
        headers=hook_headers,
    )

    await post("/api/v1/incidents", 201, {"service": "search", "title": "slow"}, api)
    await post("/api/v1/incidents", 409, {"service": "search", "title": "again"}, api)
    await post("/api/v1/incidents", 400, {"service": "search"}, api)
    await post("/api/v1/incidents", 401, {"service": "x", "title": "y"}, {})
    await post("/api/v1/incidents/3/ack", 200, {"by": "alice"}, api)
    await post("/api/v1/incidents/3/state", 200, {"state": "identified", "note": "found it"}, api)
    await post("/api/v1/incidents/3/roles", 200, {"role": "imoc", "person": "bob"}, api)
    await post("/api/v1/incidents/3/notes", 200, {"text": "rolling back"}, api)
    await post("/api/v1/incidents/3/severity", 200, {"severity": "S4"}, api)
    await post("/api/v1/incidents/3/resolve", 200, {"note": "done"}, api)
    await post("/api/v1/incidents/3/ack", 409, {}, api)
    await post("/api/v1/incidents/99/notes", 404, {"text": "x"}, api)
    await post("/api/v1/incidents/3/roles", 400, {"role": "king", "person": "x"}, api)
    item = {"title": "canary deploys", "owner": "bob", "criticality": "high", "due": "2026-12-04"}
    await post("/api/v1/incidents/3/action-items", 201, item, api)
    await post("/api/v1/incidents/3/action-items", 400, {**item, "criticality": "urgent"}, api)
    await post("/api/v1/incidents/3/action-items", 401, item, {})
    await post("/api/v1/incidents/99/action-items", 404, item, api)

    pd_hook = "/api/v1/pagerduty/webhook"
    event = b'{"event": {"event_type": "incident.acknowledged", "data": {"incident_key": "x"}}}'
    signature = hmac.new(PAGERDUTY_WEBHOOK_SECRET.encode(), event, hashlib.sha256).hexdigest()
    signed = {"X-PagerDuty-Signature": f"v1={signature}", "Content-Type": "application/json"}
    await call(client, "POST", pd_hook, 200, data=event, headers=signed)
    await call(client, "POST", pd_hook, 401, data=event, headers={"X-PagerDuty-Signature": "v1=00"})

    commands, interactions = "/api/v1/slack/commands", "/api/v1/slack/interactions"
    form = "command=%2Fincident&text=%233+status&user_id=UALICE001&channel_id=C1"
    await call(client, "POST", commands, 200, data=form, headers=slack_signed(form, SLACK_SECRET))
    await call(client, "POST", commands, 401, data=form, headers=slack_signed(form, "wrong"))
    press = "payload=%7B%22type%22%3A%22block_actions%22%7D"
    response = await client.post(
        interactions, data=press, headers=slack_signed(press, SLACK_SECRET)
    )
    assert response.status == 200
    DOC.check("POST", interactions, 200, None)
    await call(client, "POST", interactions, 401, data=press, headers=slack_signed(press, "x"))

    await call(client, "GET", "/api/v1/incidents", 200)
    await call(client, "GET", "/api/v1/incidents?open=true&limit=1", 200)
    await call(client, "GET", "/api/v1/incidents?limit=0", 400)
    await call(client, "GET", "/api/v1/incidents/1", 200)
    await call(client, "GET", "/api/v1/incidents/99", 404)
    await call(client, "GET", "/api/v1/incidents/2/timeline", 200)
    await call(client, "GET", "/api/v1/incidents/99/timeline", 404)
    await call(client, "GET", "/api/v1/incidents/3/action-items", 200)
    await call(client, "GET", "/api/v1/incidents/99/action-items", 404)
    draft = await client.get("/api/v1/incidents/3/postmortem")
    assert (draft.status, draft.content_type, draft.charset) == (200, "text/markdown", "utf-8")
    DOC.check("GET", "/api/v1/incidents/3/postmortem", 200, await draft.text())
    await call(client, "GET", "/api/v1/incidents/99/postmortem", 404)
    await call(client, "GET", "/api/v1/near-misses", 200)
    await call(client, "GET", "/api/v1/near-misses?limit=x", 400)
    await call(client, "GET", "/api/v1/openapi.json", 200)
    await call(client, "GET", "/healthz", 200)
    await call(client, "GET", "/readyz", 200)
    await call(client, "GET", "/status?format=json", 200)
    await call(client, "GET", "/status?format=nope", 400)
    for path in ("/status", "/"):
        page = await client.get(path)
        assert (page.status, page.content_type) == (200, "text/html")
    DOC.check("GET", "/", 200, await page.text())
    icon = await client.get("/favicon.ico")
    assert (icon.status, icon.content_type) == (200, "image/svg+xml")
    assert (await icon.read()).startswith(b"<svg")
    DOC.check("GET", "/favicon.ico", 200, None)
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    DOC.check("GET", "/metrics", 200, None)

    succeeded = {(m, t) for m, t, status in DOC.checked if status < 300}
    assert succeeded == {(m, p) for m, p, _ in operations(DOC.document)}
