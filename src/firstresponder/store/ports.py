"""The store ports the application uses; the contract suite in tests/ pins their behaviour."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from ..domain.action_items import ActionItem, ActionItemDraft
from ..domain.escalation import Deadline, DeadlineKind
from ..domain.grouping import ClassifiedAlert, GroupState, NearMiss, Outcome
from ..domain.heartbeat import HeartbeatState
from ..domain.incident import Incident, TimelineEntry
from ..domain.vocabulary import IncidentState, Role, Severity
from ..pagers.base import PageMessage

T = TypeVar("T")


@dataclass(frozen=True)
class IncidentFilter:
    state: IncidentState | None = None
    open_only: bool = False
    service: str | None = None
    severity: Severity | None = None
    limit: int = 100
    before_id: int | None = None
    resolved_since: datetime | None = None  # only incidents resolved at or after this
    with_alerts: bool = True  # False: the incidents alone (their firing_count stays true)


@dataclass(frozen=True)
class StoredEntry:
    id: int
    incident_id: int
    entry: TimelineEntry


@dataclass(frozen=True)
class ClaimedMessage:
    message: PageMessage
    channel: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class DueDeadline:
    id: int
    deadline: Deadline


class OutboxWork(Protocol):
    """The outbox, escalation deadlines and inbound deliveries, inside a transaction."""

    def pager_keys(self, incident_id: int) -> dict[Role, list[tuple[str, str]]]:
        """(target, dedup_key) of every trigger enqueued for the incident, by role."""

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None: ...

    def schedule(self, items: Sequence[Deadline]) -> None:
        """Create or replace the incident's deadline of each kind."""

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None: ...

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction: what runs inside is undone alone if it raises."""

    def take_due_deadline(self, now: datetime) -> DueDeadline | None:
        """Claim and remove the earliest due deadline; other replicas skip it."""

    def claim_outbox(
        self, owner: str, now: datetime, lease: timedelta, limit: int, channel: str = ...
    ) -> list[ClaimedMessage]: ...

    def finish_outbox(
        self,
        message_id: int,
        *,
        failed: bool,
        now: datetime,
        attempts: int,
        reference: str | None = None,
        error: str | None = None,
        entry: TimelineEntry | None = None,
        incident_id: int | None = None,
    ) -> bool: ...

    def retry_outbox(
        self, message_id: int, owner: str, *, next_at: datetime, attempts: int, error: str
    ) -> bool:
        """Give `owner`'s claim back, to be tried again at `next_at` (kept in the order of
        the incident's pages); False if `owner` no longer held it."""

    def renew_outbox(self, message_ids: Collection[int], owner: str, until: datetime) -> set[int]:
        """Extend `owner`'s claims on these messages to `until`; the ids it still holds
        (a claim taken over by another dispatcher, or finished, is not renewed)."""

    def add_entries(self, incident_id: int, entries: Sequence[TimelineEntry]) -> None: ...

    def outbox_stats(
        self, channels: Collection[str], cap: int = ...
    ) -> dict[str, tuple[int, datetime | None]]:
        """Pending messages per channel (counted up to `cap`) and the oldest one's
        creation time; channels with none are left out."""

    def outbox_of(self, incident_id: int) -> list[dict[str, Any]]: ...

    def reference_of(self, channel: str, prefix: str) -> int | None:
        """The incident whose delivered `channel` message returned a reference starting
        with `prefix`."""

    def last_entry_at(self, incident_id: int, kinds: Collection[str]) -> datetime | None: ...

    def deadlines_of(self, incident_id: int) -> list[Deadline]: ...

    def first_delivery(self, delivery_id: str, now: datetime) -> bool:
        """Record an inbound delivery; False if it was seen before."""


class ActionItemWork(Protocol):
    """Action items from the post mortem review, inside a transaction."""

    def add_action_item(
        self, incident_id: int, draft: ActionItemDraft, actor: str, now: datetime
    ) -> ActionItem:
        """Store the item with its `action_item_added` timeline entry; NotFoundError if
        the incident does not exist."""

    def action_items(self, incident_id: int) -> list[ActionItem]:
        """The incident's items, oldest first; NotFoundError if the incident does not exist."""


class RetentionWork(Protocol):
    """Retention, one batch per call inside a short transaction; each returns how many
    rows it deleted. What is kept and why: store/retention_sql.py."""

    def prune_outbox(
        self, before: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> tuple[int, tuple[datetime, int] | None]:
        """A step of a sweep in the order messages finished, from `after` (the last
        (finished_at, id) read): (deleted, where it goes on, or None when done)."""

    def prune_webhook_deliveries(self, before: datetime, limit: int) -> int: ...

    def prune_near_misses(self, before: datetime, limit: int) -> int: ...

    def prune_alert_events(
        self, before: datetime, after_id: int, limit: int
    ) -> tuple[int, int | None]:
        """A step of a sweep in id order from `after_id`: (deleted, where it goes on, or
        None when the sweep is done)."""


class HeartbeatWork(Protocol):
    """The dead-man's switch's row, inside a transaction."""

    def heartbeat_seen(self, name: str, now: datetime) -> None:
        """The heartbeat arrived now (creates the row if the watch has not yet)."""

    def lock_heartbeat(self, name: str, now: datetime) -> HeartbeatState:
        """The row, created with `since=now` if absent, locked until commit."""

    def heartbeat_fired(self, name: str, now: datetime, incident_id: int | None) -> None:
        """An absence was declared (incident `incident_id`)."""

    def heartbeat_answered(self, name: str) -> None:
        """The heartbeat came back after its absence was declared."""


class UnitOfWork(OutboxWork, ActionItemWork, RetentionWork, HeartbeatWork, Protocol):
    """One transaction. Everything written through it commits together or not at all.

    Its methods are synchronous: `Store.transact` runs the whole unit of work in one go,
    off the event loop where the driver needs it, so a statement costs no loop round trip.
    """

    def record_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        """Persist alert events; return only those never seen before (idempotency)."""

    def load_group(self, group_key: str, fingerprints: Collection[str] | None = None) -> GroupState:
        """The group's open incident and pending alerts, locked until commit.

        Only the incident's alerts with these fingerprints are loaded (all when None);
        `Incident.firing_count` always counts them all.
        """

    def save_group(self, state: GroupState, outcome: Outcome, now: datetime) -> Incident | None:
        """Write what `outcome` says changed; returns the incident, with its id, if any."""

    def load_groups(self, wanted: Mapping[str, Collection[str] | None]) -> dict[str, GroupState]:
        """`load_group` for many groups (fingerprints per group) in a few statements in all."""

    def save_groups(
        self, changes: Sequence[tuple[GroupState, Outcome]], now: datetime
    ) -> list[Incident | None]:
        """`save_group` for many groups in a few statements; what it returns, for each."""

    def lock_incident(self, incident_id: int) -> Incident:
        """Load an incident for change, locked until commit; NotFoundError if absent."""

    def save_incident(self, incident: Incident, entries: Sequence[TimelineEntry]) -> None: ...


class Store(Protocol):
    async def transact(self, work: Callable[[UnitOfWork], T], *, background: bool = False) -> T:
        """Run `work` in one transaction and commit; roll back if it raises.

        `work` must not touch the event loop: it may run in another thread.
        `background` work (the dispatcher, the scheduler, retention) gives way to the rest
        (webhooks, the API) wherever writes queue for one writer: it runs when no other
        write is waiting, so a webhook waits for at most the one unit of work already
        running. Keep background units short (one claim, one deadline, one group).
        """

    async def groups_due(self, now: datetime, limit: int = 100) -> list[str]:
        """Groups whose pending alerts reach `declare_after` at or before `now`."""

    async def outbox_stats(
        self, channels: Collection[str]
    ) -> dict[str, tuple[int, datetime | None]]:
        """`OutboxWork.outbox_stats` as a read: the backlog gauge never holds the writer."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    async def close(self) -> None: ...


class IncidentReader(Protocol):
    async def list_incidents(self, query: IncidentFilter) -> list[Incident]: ...

    async def get_incident(self, incident_id: int) -> Incident: ...

    async def timeline(self, incident_id: int) -> list[StoredEntry]: ...

    async def near_misses(self, limit: int = 100) -> list[NearMiss]: ...

    async def open_counts(self) -> dict[str, int]:
        """Open incidents by severity value."""


class Database(Store, IncidentReader, Protocol):
    """What the SQL store provides: writes through units of work, and reads."""
