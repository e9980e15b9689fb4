"""What happens, inside a change's transaction, after an incident changed: pages and
deadlines (`paging.Paging`), Slack calls and communication timers
(`slack.notices.SlackNotices`). Ingestion and commands call one hook; this runs them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from .domain.incident import Incident, TimelineEntry
from .store.ports import UnitOfWork


class ChangeHook(Protocol):
    def after_change(
        self,
        uow: UnitOfWork,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None: ...


class Reactions:
    """Every hook, in order (paging first: a page matters more than a Slack post)."""

    def __init__(self, hooks: Sequence[ChangeHook]) -> None:
        self._hooks = tuple(hooks)

    def after_change(
        self,
        uow: UnitOfWork,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None:
        for hook in self._hooks:
            hook.after_change(uow, incident, entries, now)


def reactions(*hooks: ChangeHook | None) -> ChangeHook | None:
    """The hooks that are configured, as one; None when there are none."""
    present = [hook for hook in hooks if hook is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else Reactions(present)
