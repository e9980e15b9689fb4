"""What every tracker adapter provides, and what a ticket is made of.

A tracker makes exactly one attempt per call and reports failures as the pagers do
(`TransientDeliveryError` for 429, 5xx and the network; `PermanentDeliveryError` for
every other refusal); the outbox dispatcher retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

TICKET = "ticket"  # the outbox channel and the pager target of tracker calls


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class NewTicket:
    """A ticket to open: `lines` are plain-text paragraphs, each tracker formats them."""

    title: str
    lines: tuple[str, ...]
    links: tuple[Link, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class TicketRef:
    key: str  # what people call it: "IM-123" (Jira), "42" (a GitHub issue number)
    url: str  # where a person opens it

    def encoded(self) -> str:
        """The outbox reference of the create message: `IM-123|https://…/browse/IM-123`."""
        return f"{self.key}|{self.url}"

    @classmethod
    def decoded(cls, reference: str) -> TicketRef:
        key, _, url = reference.partition("|")
        return cls(key, url)


class Tracker(Protocol):
    kind: str  # "jira_cloud", "jira_dc", "github": the metric's `tracker` label

    async def create(self, ticket: NewTicket) -> TicketRef: ...

    async def comment(self, key: str, text: str, document: str = "") -> None:
        """`text` is a plain paragraph; `document`, when given, Markdown shown as a block."""

    async def assign(self, key: str, users: Sequence[str]) -> None:
        """Make `users` the assignees (trackers with one assignee take the first)."""

    async def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None: ...

    async def close(self, key: str) -> None: ...

    async def check(self) -> list[str]:
        """What is wrong with the project and the token's rights; [] when all is well.
        Raises a DeliveryError when the tracker cannot be asked at all."""
