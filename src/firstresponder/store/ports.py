"""The store ports the application uses; the contract suite in tests/ pins their behaviour."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain.grouping import ClassifiedAlert, GroupState, NearMiss, Outcome
from ..domain.incident import Incident, TimelineEntry
from ..domain.vocabulary import IncidentState, Severity


@dataclass(frozen=True)
class IncidentFilter:
    state: IncidentState | None = None
    open_only: bool = False
    service: str | None = None
    severity: Severity | None = None
    limit: int = 100
    before_id: int | None = None


@dataclass(frozen=True)
class StoredEntry:
    id: int
    incident_id: int
    entry: TimelineEntry


class UnitOfWork(Protocol):
    """One transaction. Everything written through it commits together or not at all."""

    async def record_events(
        self, events: Sequence[ClassifiedAlert], receiver: str, now: datetime
    ) -> list[ClassifiedAlert]:
        """Persist alert events; return only those never seen before (idempotency)."""

    async def load_group(
        self, group_key: str, fingerprints: Collection[str] | None = None
    ) -> GroupState:
        """The group's open incident and pending alerts, locked until commit.

        Only the incident's alerts with these fingerprints are loaded (all when None);
        `Incident.firing_count` always counts them all.
        """

    async def save_group(
        self, state: GroupState, outcome: Outcome, now: datetime
    ) -> Incident | None:
        """Write what `outcome` says changed; returns the incident, with its id, if any."""

    async def lock_incident(self, incident_id: int) -> Incident:
        """Load an incident for change, locked until commit; NotFoundError if absent."""

    async def save_incident(self, incident: Incident, entries: Sequence[TimelineEntry]) -> None: ...


class Store(Protocol):
    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    async def groups_due(self, now: datetime, limit: int = 100) -> list[str]:
        """Groups whose pending alerts reach `declare_after` at or before `now`."""

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
