"""What every pager target takes and how it says a delivery failed.

The dispatcher owns retrying (tenacity): a pager makes exactly one attempt per `send` and
reports a failure as transient (try again, maybe after `retry_after` seconds) or
permanent (the request itself is wrong; retrying cannot help).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..domain.escalation import PageAction
from ..domain.storable import storable
from ..domain.vocabulary import Role


@dataclass(frozen=True)
class PageMessage:
    """One outbox row, as the dispatcher hands it to a pager.

    `payload` is the snapshot taken when the page was enqueued (see `paging.page_payload`):
    `summary`, `severity` ("S1".."S4"), `impact`, `service`, `title`, `reason`,
    `incident_url`, `links` (list of {"href", "text"}), `details` (classification evidence,
    firing alerts, roles) and `timestamp` (ISO 8601). Acknowledge and resolve messages
    carry the same keys.
    `reference` is what the pager returned for this `dedup_key`'s delivered trigger
    (Grafana OnCall's alert group id), so acknowledge/resolve can address it.
    """

    id: int
    incident_id: int
    target: str
    role: Role
    action: PageAction
    dedup_key: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    reference: str | None = None


class DeliveryError(Exception):
    """A send that did not succeed. The message is safe to log (no secrets), and to store:
    it goes to the outbox row and the timeline, and may quote what a vendor answered."""

    def __init__(self, message: str) -> None:
        super().__init__(storable(message))


class TransientDeliveryError(DeliveryError):
    """5xx, 429, timeouts and network errors: try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """4xx other than 429 (bad routing key, malformed event): never retried."""


class Pager(Protocol):
    name: str  # the configured target name, e.g. "pagerduty" or "webhook:bridge"

    async def send(self, message: PageMessage) -> str | None:
        """Deliver once; return a vendor reference for later acknowledge/resolve, if any."""

    async def close(self) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (HTTP-date forms are rare for these APIs and ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
