"""Helpers for the HTTP integration tests.

`call` makes a real request and checks the answer against the OpenAPI document the server
publishes, so every test that uses it also proves the document tells the truth.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from datetime import datetime
from typing import Any

import asyncpg
import jsonschema
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import create_engine

from firstresponder.api.openapi import build_openapi
from firstresponder.config import Config

from ..factories import load_data

Client = TestClient[Any, Any]
DOC_URI = "urn:firstresponder:openapi"
WEBHOOK = "/api/v1/alertmanager"
SLOTH_PAGE = "alertmanager-sloth-page.json"
SLOTH_RESOLVED = "alertmanager-sloth-resolved.json"
MIXED_TRUNCATED = "alertmanager-mixed-truncated.json"

# jsonschema checks "date-time" only with an optional package; check it here instead.
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return "T" in value and datetime.fromisoformat(value).tzinfo is not None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class ApiDoc:
    """Finds the documented operation of a request and validates answers against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str, int]] = set()  # (method, path template, status)
        resource: Resource[Any] = DRAFT202012.create_resource(document)
        self.registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
        self._templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
            for p in document["paths"]
        ]

    def template(self, path: str) -> str | None:
        matches = [t for pattern, t in self._templates if pattern.match(path)]
        # A literal path wins over a template that also matches it.
        return min(matches, key=lambda t: t.count("{"), default=None)

    def validator(self, pointer: str) -> jsonschema.protocols.Validator:
        schema = {"$ref": f"{DOC_URI}#{pointer}"}
        return jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=FORMATS
        )

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """Fail unless `status` is documented for the operation and `body` fits its schema."""
        template = self.template(path)
        assert template is not None, f"{path} is not in the OpenAPI document"
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not in the OpenAPI document"
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template} answered {status}, not documented"
        self.checked.add((method.upper(), template, status))
        if "application/json" not in response.get("content", {}):
            return
        pointer = "/".join(
            ("", "paths", _escape(template), method.lower(), "responses", str(status)),
        )
        pointer += "/content/application~1json/schema"
        self.validator(pointer).validate(body)

    def request(self, method: str, path: str) -> jsonschema.protocols.Validator:
        """The documented JSON schema of the operation's request body."""
        template = self.template(path)
        assert template is not None, f"{path} is not in the OpenAPI document"
        parts = ("", "paths", _escape(template), method.lower(), "requestBody", "content")
        return self.validator("/".join(parts) + "/application~1json/schema")

    def schema(self, name: str) -> jsonschema.protocols.Validator:
        return self.validator(f"/components/schemas/{name}")


DOC = ApiDoc(build_openapi())


async def call(client: Client, method: str, path: str, status: int, **kwargs: Any) -> Any:
    """Request, assert the status, and check the JSON answer against the OpenAPI document."""
    response = await client.request(method, path, **kwargs)
    text = await response.text()
    assert response.status == status, f"{method} {path}: {response.status} {text}"
    assert response.content_type == "application/json", (response.content_type, text)
    body = json.loads(text)
    DOC.check(method, path.partition("?")[0], status, body)
    return body


async def post_alerts(
    client: Client, payload: dict[str, Any], headers: dict[str, str], status: int = 200
) -> dict[str, Any]:
    answer: dict[str, Any] = await call(
        client, "POST", WEBHOOK, status, json=payload, headers=headers
    )
    return answer


def payload_from(name: str, **overrides: Any) -> dict[str, Any]:
    payload = load_data(name)
    payload.update(overrides)
    return payload


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def metric(client: Client, name: str, **labels: str) -> float:
    """A sample from the served /metrics page (0 when absent)."""
    response = await client.get("/metrics")
    assert response.status == 200
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def snapshot(client: Client, incident_id: int) -> dict[str, Any]:
    """What a user sees of an incident: the incident itself and its timeline."""
    incident = await call(client, "GET", f"/api/v1/incidents/{incident_id}", 200)
    timeline = await call(client, "GET", f"/api/v1/incidents/{incident_id}/timeline", 200)
    return {"incident": incident, "timeline": timeline["entries"]}


async def stored_rows(config: Config, sql: str) -> list[dict[str, Any]]:
    """Rows as committed to the database (SQLite or PostgreSQL), read through a connection
    of its own; JSON columns come back as the text the store wrote."""
    url = config.store.url
    if url.startswith("postgresql"):
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return [dict(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    def read() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return [dict(row) for row in conn.exec_driver_sql(sql).mappings()]
        finally:
            engine.dispose()

    return await asyncio.to_thread(read)


async def stored_event_count(config: Config) -> int:
    """Alert events committed to the database."""
    found = await stored_rows(config, "SELECT count(*) AS n FROM alert_events")
    return int(found[0]["n"])


def slack_signed(body: str, secret: str, at: int | None = None) -> dict[str, str]:
    """Headers Slack would send with `body`: v0 signature over v0:timestamp:body."""
    timestamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
