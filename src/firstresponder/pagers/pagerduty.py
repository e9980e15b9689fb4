"""PagerDuty Events API v2, through the PyPI `pagerduty` package (7.x).

The package is synchronous (httpx2 underneath, `time.sleep` between its own retries), so
each send runs in a worker thread, and its retrying is switched off (`one_attempt`): a
pager makes one attempt and the dispatcher's tenacity owns every retry. PagerDuty
deduplicates on `dedup_key`, so delivering a trigger twice is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx2
import pagerduty

from ..domain.escalation import PageAction
from ..domain.vocabulary import Role
from .base import PageMessage, PermanentDeliveryError, TransientDeliveryError
from .http import Answer, failure, timed_out, unreachable

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
_SEVERITY = {"S1": "critical", "S2": "error", "S3": "warning", "S4": "info"}
_NO_RETRY = {status: 1 for status in (429, 500, 502, 503, 504)}


def one_attempt(client: pagerduty.ApiClient, timeout_s: float) -> None:
    """Make a `pagerduty` client try exactly once, as read in `ApiClient.request` (7.2):

    - a failed status whose `retry[status]` is n > 0 is returned unretried as soon as the
      attempts made so far exceed `max_http_attempts`; at -1 that holds from the start;
    - a 429 *without* a `retry` entry is retried forever, so it gets an entry too, and
      the entries EventsApiV2Client sets for 500/502/503/504 are replaced the same way;
    - a transport error (timeouts included) raises `pagerduty.Error` once the failures
      exceed `max_network_attempts`; at 0 that is the first one.
    Any other status comes back as is (401 raises `HttpError` at once).
    """
    client.retry = dict(_NO_RETRY)
    client.max_http_attempts = -1
    client.max_network_attempts = 0
    client.timeout = timeout_s  # type: ignore[assignment]  # typed int; httpx2 takes float seconds


def answer_of(exc: pagerduty.HttpError) -> Answer:
    """The answer a `pagerduty.HttpError` carries (typed `None` in the package)."""
    response = cast(httpx2.Response, exc.response)
    return Answer(response.status_code, response.text, response.headers.get("Retry-After"))


@dataclass(frozen=True)
class TriggerEvent:
    """The arguments of `EventsApiV2Client.trigger` for one page."""

    summary: str
    source: str
    severity: str
    payload: dict[str, Any]
    custom_details: dict[str, Any]
    links: list[dict[str, str]]


def trigger_event(message: PageMessage) -> TriggerEvent:
    """Map a page's payload snapshot onto the fields of a PagerDuty trigger event."""
    page = message.payload
    service = _text(page.get("service"))
    summary = _text(page.get("summary")) or _text(page.get("title"))
    summary = summary or f"incident {message.incident_id}"
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    extras = {
        "component": service,
        "group": service,
        "class": _text(page.get("impact")),
        "timestamp": _text(page.get("timestamp")),
    }
    details = page.get("details")
    custom_details = dict(details) if isinstance(details, Mapping) else {}
    if details is not None and not isinstance(details, Mapping):
        custom_details["details"] = details
    for key in ("reason", "incident_url"):
        if page.get(key) is not None:
            custom_details[key] = page[key]
    custom_details["role"] = message.role.value
    return TriggerEvent(
        summary=summary,
        source=service or "firstresponder",
        # An unknown severity pages loudly rather than quietly.
        severity=_SEVERITY.get(_text(page.get("severity")).upper(), "critical"),
        payload={key: value for key, value in extras.items() if value},
        custom_details=custom_details,
        links=_links(page.get("links")),
    )


def dedup_key(key: str) -> str:
    """PagerDuty's limit is 255 characters; longer keys are shortened the same way every
    time, so a trigger and its resolve still meet."""
    if len(key) <= DEDUP_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: DEDUP_KEY_LIMIT - len(digest) - 1]}-{digest}"


class PagerDutyEvents:
    """A pager target sending to one PagerDuty routing key per role."""

    def __init__(
        self,
        name: str,
        routing_keys: Mapping[Role, str],
        events_url: str = DEFAULT_EVENTS_URL,
        timeout_s: float = 10.0,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not events_url.startswith("https://"):
            raise ValueError(f"{name}: events_url must be an https:// URL, got {events_url!r}")
        self.name = name
        self._timeout_s = timeout_s
        self._secrets = tuple(routing_keys.values())
        by_key = {key: self._client(key, events_url, tls) for key in set(routing_keys.values())}
        self._clients = {role: by_key[key] for role, key in routing_keys.items()}

    def _client(
        self, routing_key: str, events_url: str, tls: ssl.SSLContext | None
    ) -> pagerduty.EventsApiV2Client:
        client = pagerduty.EventsApiV2Client(
            routing_key, base_url=events_url.rstrip("/"), verify=tls if tls is not None else True
        )
        one_attempt(client, self._timeout_s)
        return client

    async def send(self, message: PageMessage) -> str | None:
        client = self._clients.get(message.role)
        if client is None:
            raise PermanentDeliveryError(
                f"{self.name}: no routing key for role {message.role.value}"
            )
        try:
            await asyncio.to_thread(_deliver, client, message)
        except pagerduty.HttpError as exc:
            # `from None`: the package's own message names part of the routing key on a 401.
            raise failure(self.name, answer_of(exc), secrets=self._secrets) from None
        except pagerduty.Error as exc:
            raise self._unreachable(exc) from None
        return None  # the dedup_key is ours; PagerDuty has nothing else to remember

    def _unreachable(self, exc: pagerduty.Error) -> TransientDeliveryError:
        cause = exc.__cause__
        if isinstance(cause, httpx2.TimeoutException):
            return timed_out(self.name, self._timeout_s)
        return unreachable(self.name, cause or exc)

    async def close(self) -> None:
        for client in set(self._clients.values()):
            client.close()


def _deliver(client: pagerduty.EventsApiV2Client, message: PageMessage) -> None:
    key = dedup_key(message.dedup_key)
    if message.action is PageAction.ACKNOWLEDGE:
        client.acknowledge(key)
    elif message.action is PageAction.RESOLVE:
        client.resolve(key)
    else:
        event = trigger_event(message)
        client.trigger(
            event.summary,
            event.source,
            dedup_key=key,
            severity=event.severity,
            payload=event.payload,
            custom_details=event.custom_details,
            links=event.links,
        )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _links(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    links = []
    for link in value:
        if isinstance(link, Mapping) and _text(link.get("href")):
            entry = {"href": _text(link.get("href"))}
            if _text(link.get("text")):
                entry["text"] = _text(link.get("text"))
            links.append(entry)
    return links
