"""What an outbox channel of operations (Slack calls, ticket calls, Alertmanager
silences) says on the timeline when a call fails: one shape for the three of them.

Each message's payload names its operation (`op`); `<kind>_failed` is a failure for good,
`<kind>_delayed` the first failure of a call that is retried until it is delivered.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from .domain.incident import TimelineEntry
from .pagers.base import PageMessage


class OperationTexts:
    """The failure half of `dispatch.DeliveryTexts`; a channel adds `delivered` and `count`."""

    def __init__(self, kind: str, label: str, operations: Collection[str]) -> None:
        self._kind = kind  # timeline kinds start with it: slack_failed
        self._label = label  # how a person names the service: "Slack"
        self._operations = frozenset(operations)

    def op(self, message: PageMessage) -> str:
        """The message's operation, or "unknown" (a bounded metric label either way)."""
        op = str(message.payload.get("op", ""))
        return op if op in self._operations else "unknown"

    def what(self, message: PageMessage) -> str:
        """The call as the timeline names it (a channel may add what it was about)."""
        return self.op(message)

    def failed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        return TimelineEntry(
            now,
            f"{self._kind}_failed",
            f"{self._label} {self.what(message)} failed for good: {error}",
            data={"op": self.op(message), "attempts": attempts, "error": error},
        )

    def delayed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        return TimelineEntry(
            now,
            f"{self._kind}_delayed",
            self.delay_said(message, error),
            data={"op": self.op(message), "attempts": attempts, "error": error},
        )

    def delay_said(self, message: PageMessage, error: str) -> str:
        return (
            f"{self._label} {self.op(message)} is failing ({error}); retrying until it is delivered"
        )
