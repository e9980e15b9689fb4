"""PagerDuty webhooks v3: acknowledgements and resolutions made in PagerDuty come back here.

Every delivery is signed (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, body)>`,
several signatures while a secret rotates: any configured secret matching any signature
will do, compared in constant time). Deliveries are at-least-once: `X-Webhook-Id` is
recorded in the same transaction as the change it caused, so a redelivery changes nothing.
PagerDuty retries any non-2xx, so events that are not ours are answered 200 "ignored".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from ..commands import Change
from ..domain.incident import Incident, TimelineEntry, TransitionError
from ..domain.storable import storable
from ..errors import NotFoundError, PayloadError
from .keys import COMMANDS, CONFIG
from .payload import decode_json

log = logging.getLogger(__name__)

# Our dedup keys (domain.escalation.Page.dedup_key) name the incident they page for.
_OUR_KEY = re.compile(r"^firstresponder-(\d{1,18})-(eoc|imoc|cmoc)(?:-r\d+)?$")
_MAX_DELIVERY_ID = 150  # webhook_deliveries.delivery_id is VARCHAR(200), with our prefix
_MAPPED = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}


def verify_signature(secrets: Sequence[str], body: bytes, header: str | None) -> bool:
    """True when any `v1=` signature in `header` is the HMAC of `body` under any secret."""
    if not header or not secrets:
        return False
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for signature in offered:
            # Check every pair: the time taken does not say which one matched.
            matched |= hmac.compare_digest(expected, signature.lower())
    return matched


@dataclass(frozen=True)
class PagerDutyEvent:
    event_type: str
    incident_key: str | None
    agent: str
    pagerduty_incident: str

    @property
    def incident_id(self) -> int | None:
        hit = _OUR_KEY.match(self.incident_key or "")
        return int(hit.group(1)) if hit else None


def parse_event(body: bytes) -> PagerDutyEvent:
    """The event, its text made storable: PagerDuty retries what it is refused, and the
    acknowledgement should not be lost for a NUL in someone's name (domain.storable)."""
    document = decode_json(body)
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        raise PayloadError('body must be a PagerDuty v3 webhook: {"event": {"event_type": …}}')
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    assert isinstance(data, dict) and isinstance(agent, dict)
    key = data.get("incident_key")
    return PagerDutyEvent(
        event_type=event["event_type"],
        incident_key=key if isinstance(key, str) else None,
        agent=storable(str(agent.get("summary") or agent.get("id") or "someone")),
        pagerduty_incident=storable(str(data.get("number") or data.get("id") or "?")),
    )


def delivery_key(webhook_id: str | None) -> str | None:
    """The key a delivery is recorded under: storable (header bytes that are not UTF-8
    arrive as lone surrogates) and short enough for its column on both stores, a long id
    (PagerDuty's are UUIDs) by its digest."""
    if not webhook_id:
        return None
    text = storable(webhook_id)
    if len(text) > _MAX_DELIVERY_ID:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return f"pagerduty:{text}"


def _change(action: str, event: PagerDutyEvent) -> Change:
    actor = f"{event.agent} (PagerDuty)"

    def apply(incident: Incident, now: datetime) -> list[TimelineEntry]:
        if not incident.is_open:
            return []  # resolved here first; PagerDuty is catching up
        if action == "acknowledge":
            return incident.acknowledge(actor, now)
        return incident.resolve(actor, now, f"resolved in PagerDuty (#{event.pagerduty_incident})")

    return apply


def _ignored(reason: str) -> web.Response:
    return web.json_response({"status": "ignored", "reason": reason})


async def pagerduty_webhook(request: web.Request) -> web.StreamResponse:
    secrets = request.app[CONFIG].paging.pagerduty.webhook_secrets
    if not secrets:
        raise NotFoundError("PagerDuty webhooks are not configured (pagerduty.webhook_secrets)")
    body = await request.read()
    if not verify_signature(secrets, body, request.headers.get("X-PagerDuty-Signature")):
        log.warning("PagerDuty webhook with a bad or missing signature")
        return web.json_response(
            {"error": "X-PagerDuty-Signature does not match any configured secret"}, status=401
        )
    event = parse_event(body)
    action = _MAPPED.get(event.event_type)
    if action is None:
        return _ignored(f"{event.event_type} does not change incidents here")
    incident_id = event.incident_id
    if incident_id is None:
        return _ignored("not an incident firstresponder paged for")
    try:
        _, entries, fresh = await request.app[COMMANDS].change_once(
            incident_id, _change(action, event), delivery_key(request.headers.get("X-Webhook-Id"))
        )
    except NotFoundError:
        return _ignored(f"incident {incident_id} does not exist here")
    except TransitionError as exc:
        return _ignored(str(exc))
    if not fresh:
        return web.json_response({"status": "duplicate", "incident_id": incident_id})
    log.info(
        "PagerDuty webhook applied",
        extra={"incident_id": incident_id, "event": event.event_type, "changed": bool(entries)},
    )
    return web.json_response(
        {"status": "applied" if entries else "unchanged", "incident_id": incident_id}
    )
