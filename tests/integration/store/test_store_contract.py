"""The store contract: what every backend (SQLite, PostgreSQL) promises the application.

Each test runs unchanged on both backends through the parametrized `store` fixture.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.util import await_only

from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import Classification
from firstresponder.domain.grouping import ClassifiedAlert, GroupEngine, GroupState, Outcome
from firstresponder.domain.incident import Incident, TimelineEntry, TrackedAlert
from firstresponder.domain.vocabulary import (
    DEFAULT_SEVERITY_MAP,
    Impact,
    IncidentState,
    Role,
    Severity,
)
from firstresponder.errors import NotFoundError, StoreUnavailable
from firstresponder.store import sql
from firstresponder.store.ports import IncidentFilter, UnitOfWork
from firstresponder.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)
CEST = timezone(timedelta(hours=2))
ENGINE = GroupEngine(DEFAULT_SEVERITY_MAP)
A = TypeVar("A")
B = TypeVar("B")


def event(
    fingerprint: str = "fp-checkout-errors",
    *,
    status: AlertStatus = AlertStatus.FIRING,
    starts_at: datetime = T0,
    service: str = "checkout",
    impact: Impact = Impact.PARTIAL_DISRUPTION,
    declare_after: timedelta = timedelta(0),
    name: str = "HighErrorRate",
) -> ClassifiedAlert:
    resolved = status is AlertStatus.RESOLVED
    alert = Alert(
        status=status,
        labels={"alertname": name, "service": service},
        annotations={"summary": f"{name} on {service}"},
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=3) if resolved else None,
        generator_url="http://prometheus.example:9090/graph",
        fingerprint=fingerprint,
    )
    classification = Classification(
        service=service,
        group_key=f"service={service}",
        impact=impact,
        reason=f'label impact="{impact.value}"',
        declare_threshold=Impact.DEGRADED,
        declare_after=declare_after,
    )
    return ClassifiedAlert(alert, classification)


def incident(
    service: str = "checkout",
    *,
    group_key: str | None = None,
    severity: Severity = Severity.S2,
    state: IncidentState = IncidentState.INVESTIGATING,
) -> Incident:
    return Incident(
        id=0,
        group_key=group_key or f"service={service}",
        service=service,
        title=f"{service}: partial disruption",
        impact=Impact.PARTIAL_DISRUPTION,
        severity=severity,
        state=state,
        declared_at=NOW,
        updated_at=NOW,
        resolved_at=NOW if state is IncidentState.RESOLVED else None,
    )


async def record(store: SqlStore, events: Sequence[ClassifiedAlert]) -> list[ClassifiedAlert]:
    return await store.transact(lambda uow: uow.record_events(events, "firstresponder", NOW))


def apply(
    uow: UnitOfWork, events: Sequence[ClassifiedAlert], now: datetime = NOW
) -> tuple[Outcome, Incident | None]:
    """The application's write path for one group, inside a unit of work."""
    fresh = uow.record_events(events, "firstresponder", now)
    state = uow.load_group(events[0].classification.group_key)
    outcome = ENGINE.apply_events(state, fresh, now)
    return outcome, uow.save_group(state, outcome, now)


async def ingest(
    store: SqlStore, events: Sequence[ClassifiedAlert], now: datetime = NOW
) -> tuple[Outcome, Incident | None]:
    """The application's write path for one group: dedup, lock, decide, save."""
    return await store.transact(lambda uow: apply(uow, events, now))


async def declare(store: SqlStore, new: Incident) -> Incident:
    """Insert a hand-built incident through save_group, as a declaration would."""

    def adopt(uow: UnitOfWork) -> Incident | None:
        state = uow.load_group(new.group_key)
        state.incident = new
        return uow.save_group(state, Outcome(declared=True), new.declared_at)

    saved = await store.transact(adopt)
    assert saved is not None
    return saved


async def entries(store: SqlStore, incident_id: int) -> list[TimelineEntry]:
    return [stored.entry for stored in await store.timeline(incident_id)]


async def load(
    store: SqlStore,
    group_key: str = "service=checkout",
    fingerprints: Collection[str] | None = None,
) -> GroupState:
    return await store.transact(lambda uow: uow.load_group(group_key, fingerprints))


async def change(
    store: SqlStore, incident_id: int, make: Callable[[Incident], list[TimelineEntry]]
) -> Incident:
    """Lock an incident, change it, save it with the entries `make` returns."""

    def work(uow: UnitOfWork) -> Incident:
        found = uow.lock_incident(incident_id)
        uow.save_incident(found, make(found))
        return found

    return await store.transact(work)


def adding(*new: TimelineEntry) -> Callable[[Incident], list[TimelineEntry]]:
    return lambda _: list(new)


# --- migrations -----------------------------------------------------------------------


async def test_migrate_twice_on_a_blank_database_is_harmless(blank_url: str) -> None:
    fresh = SqlStore(blank_url)
    try:
        await fresh.migrate()
        assert await record(fresh, [event()]) == [event()]
        await fresh.migrate()
        assert await record(fresh, [event()]) == [], "data must survive a second migrate"
    finally:
        await fresh.close()


async def test_migrate_again_on_a_live_store_keeps_working(store: SqlStore) -> None:
    await store.migrate()
    _, declared = await ingest(store, [event()])
    assert declared is not None
    assert (await store.get_incident(declared.id)).service == "checkout"


# --- idempotent alert events ----------------------------------------------------------


async def test_record_events_returns_only_never_seen_events(store: SqlStore) -> None:
    first, again = event("fp-a"), event("fp-a")
    other = event("fp-b")
    assert await record(store, [first, again, other]) == [first, other]
    assert await record(store, [event("fp-a"), event("fp-b")]) == []


async def test_record_events_deduplicates_across_units_of_work(store: SqlStore) -> None:
    def twice(uow: UnitOfWork) -> tuple[list[ClassifiedAlert], list[ClassifiedAlert]]:
        once = uow.record_events([event("fp-a")], "am-1", NOW)
        return once, uow.record_events([event("fp-a")], "am-1", NOW)

    assert await store.transact(twice) == ([event("fp-a")], [])
    again = await store.transact(lambda uow: uow.record_events([event("fp-a")], "am-2", NOW))
    assert again == []


@pytest.mark.parametrize(
    "changed",
    [
        event("fp-a", status=AlertStatus.RESOLVED),
        event("fp-a", starts_at=T0 + timedelta(hours=1)),
        event("fp-other"),
    ],
    ids=["status", "startsAt", "fingerprint"],
)
async def test_event_key_is_fingerprint_starts_at_and_status(
    store: SqlStore, changed: ClassifiedAlert
) -> None:
    assert await record(store, [event("fp-a")]) == [event("fp-a")]
    assert await record(store, [changed, event("fp-a")]) == [changed]


async def test_record_events_of_nothing_is_nothing(store: SqlStore) -> None:
    assert await record(store, []) == []


# --- groups ---------------------------------------------------------------------------


async def test_unknown_group_loads_empty(store: SqlStore) -> None:
    state = await load(store, "service=never-seen")
    assert state == GroupState("service=never-seen", None, {})


async def test_save_group_declares_incident_with_id_and_ordered_timeline(
    store: SqlStore,
) -> None:
    outcome, declared = await ingest(store, [event("fp-a"), event("fp-b", name="Latency")])
    assert outcome.declared and declared is not None
    assert declared.id > 0
    assert await store.get_incident(declared.id) == declared
    # the two alerts that fire with the declaration are one entry listing both
    assert [e.kind for e in await entries(store, declared.id)] == ["declared", "alert_firing"]
    assert await entries(store, declared.id) == outcome.timeline
    state = await load(store)
    assert state.incident == declared and state.pending == {}


async def test_save_group_updates_the_open_incident(store: SqlStore) -> None:
    first, declared = await ingest(store, [event("fp-a")])
    assert declared is not None
    later = NOW + timedelta(minutes=5)
    worse = event("fp-down", name="ServiceDown", impact=Impact.OUTAGE)
    second, updated = await ingest(store, [worse], later)
    assert not second.declared and updated is not None and updated.id == declared.id
    stored = await store.get_incident(declared.id)
    assert (stored.impact, stored.severity, stored.updated_at) == (
        Impact.OUTAGE,
        Severity.S1,
        later,
    )
    assert set(stored.alerts) == {"fp-a", "fp-down"}
    assert await entries(store, declared.id) == first.timeline + second.timeline
    assert [e.kind for e in second.timeline] == ["alert_firing", "impact_raised", "severity_raised"]


async def test_pending_alerts_persist_and_next_declare_at_drives_groups_due(
    store: SqlStore,
) -> None:
    held = event("fp-a", declare_after=timedelta(minutes=5))
    outcome, declared = await ingest(store, [held])
    assert declared is None and outcome.pending_changed
    due_at = T0 + timedelta(minutes=5)
    state = await load(store)
    assert state.incident is None
    assert list(state.pending) == ["fp-a"]
    assert state.pending["fp-a"].declare_at == due_at
    assert state.pending["fp-a"].alert.starts_at == T0
    assert await store.groups_due(due_at - timedelta(seconds=1)) == []
    assert await store.groups_due(due_at) == ["service=checkout"]

    def promote(uow: UnitOfWork) -> tuple[Outcome, Incident | None]:
        state = uow.load_group("service=checkout")
        promoted = ENGINE.promote_due(state, due_at)
        return promoted, uow.save_group(state, promoted, due_at)

    promoted, declared = await store.transact(promote)
    assert promoted.declared and declared is not None
    assert await store.groups_due(due_at + timedelta(hours=1)) == []
    assert (await store.get_incident(declared.id)).declared_at == due_at


async def test_load_groups_loads_each_group_with_the_alerts_wanted_for_it(
    store: SqlStore,
) -> None:
    await ingest(store, [event("fp-a"), event("fp-b", name="Latency")])
    await ingest(store, [event("fp-c", service="search"), event("fp-d", service="search")])
    many = [f"fp-absent-{i}" for i in range(2500)]  # more than one IN list holds
    wanted = {
        "service=checkout": ["fp-a", "fp-c", *many],  # fp-c is search's, not checkout's
        "service=search": None,
        "service=never-seen": ["fp-a"],
    }
    states = await store.transact(lambda uow: uow.load_groups(wanted))
    assert sorted(states) == sorted(wanted)
    checkout, search = states["service=checkout"].incident, states["service=search"].incident
    assert checkout is not None and search is not None
    assert (set(checkout.alerts), checkout.firing_count) == ({"fp-a"}, 2)
    assert (set(search.alerts), search.firing_count) == ({"fp-c", "fp-d"}, 2)
    assert states["service=never-seen"] == GroupState("service=never-seen", None, {})
    for key, state in states.items():
        assert await load(store, key, wanted[key]) == state, f"{key} loaded alone differs"


async def test_save_groups_saves_each_group_as_save_group_would(store: SqlStore) -> None:
    _, known = await ingest(store, [event("fp-a")])
    assert known is not None
    held = event("fp-h", service="login", declare_after=timedelta(minutes=5))
    batch = {
        "service=checkout": [event("fp-b", name="Latency")],
        "service=search": [event("fp-s", service="search")],
        "service=login": [held],
    }

    def apply_all(uow: UnitOfWork) -> tuple[list[Outcome], list[Incident | None]]:
        for events in batch.values():
            uow.record_events(events, "am", NOW)
        states = uow.load_groups({key: None for key in batch})
        changes = [
            (states[key], ENGINE.apply_events(states[key], batch[key], NOW)) for key in batch
        ]
        return [outcome for _, outcome in changes], uow.save_groups(changes, NOW)

    (updated, declared, pending), (same, new, none) = await store.transact(apply_all)
    assert same is not None and same.id == known.id and not updated.declared
    assert new is not None and new.id != known.id and declared.declared
    assert none is None and pending.pending_changed
    assert set((await store.get_incident(known.id)).alerts) == {"fp-a", "fp-b"}
    assert (await entries(store, new.id)) == declared.timeline
    assert [e.kind for e in await entries(store, known.id)][-1:] == ["alert_firing"]
    assert await store.groups_due(T0 + timedelta(minutes=5)) == ["service=login"]


async def test_groups_due_orders_by_deadline_and_honours_limit(store: SqlStore) -> None:
    await ingest(store, [event("fp-s", service="search", declare_after=timedelta(minutes=9))])
    await ingest(store, [event("fp-c", service="checkout", declare_after=timedelta(minutes=2))])
    await ingest(store, [event("fp-l", service="login", impact=Impact.OPERATIONAL)])
    late = T0 + timedelta(hours=1)
    assert await store.groups_due(late) == ["service=checkout", "service=search"]
    assert await store.groups_due(late, limit=1) == ["service=checkout"]


async def test_near_misses_are_stored_newest_first(store: SqlStore) -> None:
    wait = timedelta(minutes=5)
    await ingest(store, [event("fp-a", declare_after=wait)])
    first, _ = await ingest(store, [event("fp-a", status=AlertStatus.RESOLVED, declare_after=wait)])
    await ingest(store, [event("fp-b", service="search", impact=Impact.OPERATIONAL)])
    second, _ = await ingest(store, [event("fp-b", service="search", status=AlertStatus.RESOLVED)])
    assert len(first.near_misses) == len(second.near_misses) == 1
    assert await store.near_misses() == second.near_misses + first.near_misses
    assert await store.near_misses(limit=1) == second.near_misses
    assert await store.groups_due(T0 + timedelta(hours=1)) == []


# --- transactions ---------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_unit_of_work_that_raises_rolls_everything_back(store: SqlStore) -> None:
    def declare_then_fail(uow: UnitOfWork) -> None:
        _, declared = apply(uow, [event("fp-a")])
        assert declared is not None and declared.id > 0
        raise Boom

    with pytest.raises(Boom):
        await store.transact(declare_then_fail)
    assert await store.list_incidents(IncidentFilter()) == []
    assert await store.open_counts() == {}
    assert await record(store, [event("fp-a")]) == [event("fp-a")], "the event was never kept"


async def test_reads_do_not_wait_for_a_writer_and_never_see_its_uncommitted_work(
    store: SqlStore,
) -> None:
    declared = await declare(store, incident())
    gate = Gate()

    def resolve_slowly(uow: UnitOfWork) -> None:
        found = uow.lock_incident(declared.id)
        uow.save_incident(found, found.resolve("alice", NOW))
        gate.hold()

    writer = asyncio.create_task(store.transact(resolve_slowly))
    try:
        async with asyncio.timeout(10):
            await holding(gate, writer)
            seen = await store.get_incident(declared.id)
            counts = await store.open_counts()
            listed = await store.list_incidents(IncidentFilter(open_only=True))
    finally:
        gate.release.set()
        await writer
    assert seen.state is IncidentState.INVESTIGATING, "a read saw an uncommitted write"
    assert counts == {"S2": 1} and listed == [seen]
    assert (await store.get_incident(declared.id)).state is IncidentState.RESOLVED


async def test_sqlite_writers_queue_behind_the_one_writer(store: SqlStore) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite's one writer thread; PostgreSQL writers wait on row locks")
    gate = Gate()

    def declare_slowly(uow: UnitOfWork) -> Incident | None:
        _, declared = apply(uow, [event("fp-a")])
        gate.hold()
        return declared

    first = asyncio.create_task(store.transact(declare_slowly))
    second: asyncio.Task[tuple[Outcome, Incident | None]] | None = None
    try:
        async with asyncio.timeout(10):
            await holding(gate, first)
            second = asyncio.create_task(ingest(store, [event("fp-b", name="Latency")]))
            await store.ping()  # the loop turns, reads answer; the second writer waits
            assert not second.done(), "the second writer must wait for the first to commit"
    finally:
        gate.release.set()
        await asyncio.gather(first, *filter(None, [second]), return_exceptions=True)
    assert second is not None
    declared, (outcome, updated) = first.result(), second.result()
    assert declared is not None and not outcome.declared
    assert updated is not None and updated.id == declared.id


async def test_sqlite_writers_in_two_processes_wait_for_each_other_instead_of_failing(
    store: SqlStore, store_url: str
) -> None:
    """Each transaction takes the write lock when it begins: one that read first and wrote
    later would otherwise fail with SQLITE_BUSY, at once, whenever another process wrote."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite's file lock; PostgreSQL writers wait on row locks")
    other = SqlStore(store_url)  # a second daemon, or `firstresponder migrate`, on one file
    try:
        declared = await declare(store, incident())
        notes = [TimelineEntry(NOW, "note", f"note {i}") for i in range(60)]
        await asyncio.gather(
            *(change((store, other)[i % 2], declared.id, adding(n)) for i, n in enumerate(notes))
        )
    finally:
        await other.close()
    assert sorted(e.message for e in await entries(store, declared.id)) == sorted(
        n.message for n in notes
    )


async def test_only_one_open_incident_per_group(store: SqlStore) -> None:
    first = await declare(store, incident())
    with pytest.raises(IntegrityError):
        await declare(store, incident())
    await change(store, first.id, lambda locked: locked.resolve("alice", NOW + timedelta(hours=1)))
    second = await declare(store, incident())
    assert second.id != first.id
    states = {i.id: i.state for i in await store.list_incidents(IncidentFilter())}
    assert states == {first.id: IncidentState.RESOLVED, second.id: IncidentState.INVESTIGATING}


async def test_concurrent_ingests_of_one_group_declare_one_incident(store: SqlStore) -> None:
    results = await asyncio.gather(
        ingest(store, [event("fp-a")]), ingest(store, [event("fp-b", name="Latency")])
    )
    assert sorted(outcome.declared for outcome, _ in results) == [False, True]
    [only] = await store.list_incidents(IncidentFilter())
    assert set(only.alerts) == {"fp-a", "fp-b"}


class Gate:
    """Lets a unit of work hold its transaction (and locks) open until the test releases it.

    PostgreSQL runs a unit of work in a greenlet on the loop's own thread, SQLite in the
    store's writer thread; `hold` waits for the release in either without blocking the loop.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def hold(self) -> None:
        """Called inside a unit of work."""
        if threading.get_ident() == self._loop_thread:
            await_only(self._hold())
        else:
            asyncio.run_coroutine_threadsafe(self._hold(), self._loop).result(timeout=10)

    async def _hold(self) -> None:
        self.holding.set()
        await self.release.wait()


async def holding(gate: Gate, task: asyncio.Task[Any]) -> None:
    """Return once `task`'s unit of work holds the gate; fail if the task ended first."""
    held = asyncio.create_task(gate.holding.wait())
    await asyncio.wait({task, held}, return_when=asyncio.FIRST_COMPLETED)
    held.cancel()
    assert not task.done(), f"the first writer ended early: {task!r}"


async def race(
    url: str,
    first: Callable[[Gate], Coroutine[Any, Any, A]],
    second: Callable[[], Coroutine[Any, Any, B]],
) -> tuple[A, B]:
    """Run `first` until it holds its locks, start `second`, prove it waits, let both finish.

    However this ends, the gate opens and both tasks are awaited: no transaction outlives it.
    """
    gate = Gate()
    first_task = asyncio.create_task(first(gate))
    second_task: asyncio.Task[B] | None = None
    try:
        async with asyncio.timeout(10):
            await holding(gate, first_task)
            second_task = asyncio.create_task(second())
            await wait_for_lock_waiter(url)
            assert not second_task.done(), "the second writer must wait for the first's locks"
    finally:
        gate.release.set()
        await asyncio.gather(first_task, *filter(None, [second_task]), return_exceptions=True)
    return first_task.result(), second_task.result()


async def wait_for_lock_waiter(url: str) -> None:
    """Return once a session of this database is blocked on a lock (polls, never sleeps).

    Looks through a connection of its own, outside the store under test.
    """
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    conn = await asyncpg.connect(url)
    try:
        async with asyncio.timeout(5):
            # Outside a transaction every query sees a fresh pg_stat_activity snapshot.
            while not await conn.fetchval(query):
                pass
    except TimeoutError:
        pytest.fail("no unit of work ever waited on a lock: the second writer was not held back")
    finally:
        await conn.close()


@pytest.mark.parametrize("group_exists", [False, True], ids=["new-group", "known-group"])
async def test_postgresql_second_unit_of_work_waits_for_the_group_lock(
    store: SqlStore, store_url: str, group_exists: bool
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    if group_exists:
        await load(store)

    async def first(gate: Gate) -> Incident | None:
        def work(uow: UnitOfWork) -> Incident | None:
            fresh = uow.record_events([event("fp-a")], "am-1", NOW)
            state = uow.load_group("service=checkout")
            gate.hold()
            return uow.save_group(state, ENGINE.apply_events(state, fresh, NOW), NOW)

        return await store.transact(work)

    async def second() -> tuple[Incident | None, Outcome, Incident | None]:
        def work(uow: UnitOfWork) -> tuple[Incident | None, Outcome, Incident | None]:
            fresh = uow.record_events([event("fp-b")], "am-2", NOW)
            state = uow.load_group("service=checkout")
            seen = state.incident
            outcome = ENGINE.apply_events(state, fresh, NOW)
            return seen, outcome, uow.save_group(state, outcome, NOW)

        return await store.transact(work)

    declared, (seen, outcome, updated) = await race(store_url, first, second)
    assert declared is not None and seen is not None and seen.id == declared.id
    assert not outcome.declared and updated is not None and updated.id == declared.id
    [only] = await store.list_incidents(IncidentFilter())
    assert set(only.alerts) == {"fp-a", "fp-b"}


@pytest.mark.parametrize("first_in", ["ingest", "api"])
async def test_postgresql_ingest_and_incident_change_never_lose_each_others_writes(
    store: SqlStore, store_url: str, first_in: str
) -> None:
    """A webhook and an acknowledgement racing on one incident: both writes survive."""
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    _, declared = await ingest(store, [event("fp-a")])
    assert declared is not None

    async def ingest_latency(gate: Gate | None = None) -> None:
        def work(uow: UnitOfWork) -> None:
            fresh = uow.record_events([event("fp-b", name="Latency")], "am", NOW)
            state = uow.load_group("service=checkout")
            if gate is not None:
                gate.hold()
            uow.save_group(state, ENGINE.apply_events(state, fresh, NOW), NOW)

        await store.transact(work)

    async def acknowledge(gate: Gate | None = None) -> None:
        def work(uow: UnitOfWork) -> None:
            found = uow.lock_incident(declared.id)
            uow.save_incident(found, found.acknowledge("alice", NOW))
            if gate is not None:
                gate.hold()

        await store.transact(work)

    if first_in == "ingest":
        await race(store_url, ingest_latency, acknowledge)
    else:
        await race(store_url, acknowledge, ingest_latency)
    stored = await store.get_incident(declared.id)
    assert stored.acknowledged_by == "alice", "the acknowledgement was lost"
    assert set(stored.alerts) == {"fp-a", "fp-b"}, "the new alert was lost"


async def test_postgresql_alert_racing_a_resolution_opens_a_new_incident(
    store: SqlStore, store_url: str
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    _, declared = await ingest(store, [event("fp-a")])
    assert declared is not None

    async def resolve(gate: Gate) -> None:
        def work(uow: UnitOfWork) -> None:
            found = uow.lock_incident(declared.id)
            uow.save_incident(found, found.resolve("alice", NOW))
            gate.hold()

        await store.transact(work)

    async def refire() -> tuple[Outcome, Incident | None]:
        return await ingest(store, [event("fp-b", name="Latency")])

    _, (outcome, new) = await race(store_url, resolve, refire)
    assert outcome.declared and new is not None and new.id != declared.id
    assert (await store.get_incident(declared.id)).state is IncidentState.RESOLVED
    assert set((await store.get_incident(new.id)).alerts) == {"fp-b"}


# --- incidents ------------------------------------------------------------------------


# The events of the alerts `everything_set` tracks: an incident's alert is the event that
# last changed it, so the store keeps the event and the alert names it.
ROUND_TRIP_EVENTS = [
    ClassifiedAlert(
        Alert(
            AlertStatus.RESOLVED,
            {"alertname": "HighErrorRate", "service": "checkout", "region": "eu-west-1"},
            {"summary": "error ratio 52%", "runbook_url": "https://runbooks/checkout"},
            datetime(2026, 11, 23, 4, 59, 1, 500, tzinfo=CEST),
            datetime(2026, 11, 23, 5, 30, tzinfo=UTC),
            "http://prometheus:9090/graph?g0.expr=errors",
            "fp-a",
        ),
        Classification(
            "checkout",
            "service=checkout",
            Impact.OUTAGE,
            "error ratio 0.52 >= outage line 0.5",
            Impact.DEGRADED,
            timedelta(0),
            ({"query": "sum(rate(errors[5m]))", "value": 0.52, "parts": ["eu"]},),
        ),
    ),
    ClassifiedAlert(
        Alert(AlertStatus.FIRING, {"alertname": "Latency"}, {}, T0, None, "", "fp-b"),
        Classification(
            "checkout",
            "service=checkout",
            Impact.DEGRADED,
            "apdex below objective",
            Impact.DEGRADED,
            timedelta(0),
        ),
    ),
]


def everything_set(found: Incident) -> None:
    """Change every field the store keeps, with awkward values where they help."""
    later = datetime(2026, 11, 23, 6, 30, 15, 123456, tzinfo=CEST)
    found.service = "checkout-eu"
    found.title = "Checkout: payments failing — 50% of requests"
    found.description = "Multi-line\ndescription with 'quotes' and ünïcödé"
    found.source = "api"
    found.impact = Impact.OUTAGE
    found.severity = Severity.S1
    found.state = IncidentState.RESOLVED
    found.updated_at = later
    found.acknowledged_at = later - timedelta(minutes=20)
    found.acknowledged_by = "alice"
    found.resolved_at = later
    found.roles = {
        Role.EOC: "alice",
        Role.IMOC: "bob",
        Role.CMOC: "carol",
        Role.LEAD: "dave",
        Role.SCRIBE: "erin",
    }
    # Alerts are recorded through track(), which keeps firing_count and marks them to save.
    for item in ROUND_TRIP_EVENTS:
        c = item.classification
        found.track(TrackedAlert.of(item.alert, c.impact, c.reason, c.evidence))
    found.classification = {
        "impact": "outage",
        "reason": "error ratio above the outage line in every region",
        "evidence": [
            {"query": 'sum(rate(errors{service="checkout"}[5m]))', "value": 0.52},
            {"threshold": 0.5, "window": "5m", "parts": ["eu", "us"], "fast_burn": True},
        ],
        "nothing": None,
    }


async def test_lock_and_save_incident_round_trip_every_field(store: SqlStore) -> None:
    declared = await declare(store, incident(group_key="service=checkout,region=eu"))
    note = TimelineEntry(NOW, "note", "rolled back deploy 4711", actor="alice", data={"n": 1})
    resolution = TimelineEntry(NOW, "resolved", "Resolved by alice", actor="alice")

    def change_everything(found: Incident) -> list[TimelineEntry]:
        assert found == declared
        everything_set(found)
        return [note, resolution]

    await store.transact(lambda uow: uow.record_events(ROUND_TRIP_EVENTS, "am", NOW))
    found = await change(store, declared.id, change_everything)
    stored = await store.get_incident(declared.id)
    assert stored == found
    assert stored.declared_at == declared.declared_at and stored.id == declared.id
    moments = [stored.updated_at, stored.acknowledged_at, stored.resolved_at]
    assert all(moment is not None and moment.tzinfo is not None for moment in moments)
    assert all(a.starts_at.tzinfo is not None for a in stored.alerts.values())
    assert await store.transact(lambda uow: uow.lock_incident(declared.id)) == found
    assert await entries(store, declared.id) == [note, resolution]


async def test_timeline_entries_carry_their_ids_in_order(store: SqlStore) -> None:
    declared = await declare(store, incident())
    notes = [TimelineEntry(NOW + timedelta(seconds=i), "note", f"note {i}") for i in range(5)]
    for note in notes:
        await change(store, declared.id, adding(note))
    stored = await store.timeline(declared.id)
    assert [s.entry for s in stored] == notes
    assert [s.incident_id for s in stored] == [declared.id] * 5
    assert [s.id for s in stored] == sorted({s.id for s in stored})


async def test_unknown_incident_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_incident(4711)
    with pytest.raises(NotFoundError):
        await store.timeline(4711)
    with pytest.raises(NotFoundError):
        await store.transact(lambda uow: uow.lock_incident(4711))


async def test_list_incidents_filters_newest_first(store: SqlStore) -> None:
    made = [
        await declare(store, incident("checkout", severity=Severity.S1)),
        await declare(store, incident("search", state=IncidentState.MONITORING)),
        await declare(
            store,
            incident(
                "checkout",
                group_key="service=checkout,n=2",
                severity=Severity.S3,
                state=IncidentState.RESOLVED,
            ),
        ),
        await declare(
            store,
            incident("checkout", group_key="service=checkout,n=3", state=IncidentState.IDENTIFIED),
        ),
    ]
    one, two, three, four = (i.id for i in made)
    assert one < two < three < four

    async def ids(**query: Any) -> list[int]:
        return [i.id for i in await store.list_incidents(IncidentFilter(**query))]

    assert await ids() == [four, three, two, one]
    assert await ids(state=IncidentState.RESOLVED) == [three]
    assert await ids(open_only=True) == [four, two, one]
    assert await ids(service="checkout") == [four, three, one]
    assert await ids(severity=Severity.S2) == [four, two]
    assert await ids(limit=2) == [four, three]
    assert await ids(before_id=three) == [two, one]
    assert await ids(before_id=four, service="checkout", limit=1) == [three]
    assert await ids(service="nobody") == []
    assert (await store.list_incidents(IncidentFilter(limit=1)))[0] == made[3]


async def test_list_incidents_resolved_since_and_without_alerts(store: SqlStore) -> None:
    _, declared = await ingest(store, [event("fp-1"), event("fp-2", name="Latency")])
    assert declared is not None
    later = NOW + timedelta(hours=2)
    await change(store, declared.id, lambda found: found.resolve("alice", later))
    older = await declare(
        store, incident("search", state=IncidentState.RESOLVED)
    )  # resolved at NOW

    async def ids(**query: Any) -> list[int]:
        return [i.id for i in await store.list_incidents(IncidentFilter(**query))]

    assert await ids(resolved_since=later) == [declared.id]
    assert await ids(resolved_since=NOW) == [older.id, declared.id]
    assert await ids(resolved_since=later + timedelta(seconds=1)) == []
    (bare,) = await store.list_incidents(IncidentFilter(resolved_since=later, with_alerts=False))
    assert bare.alerts == {} and bare.firing_count == 2
    (full,) = await store.list_incidents(IncidentFilter(resolved_since=later))
    assert sorted(full.alerts) == ["fp-1", "fp-2"]


async def test_open_counts_by_severity(store: SqlStore) -> None:
    assert await store.open_counts() == {}
    await declare(store, incident("checkout", severity=Severity.S1))
    await declare(store, incident("search"))
    await declare(store, incident("login"))
    await declare(store, incident("billing", state=IncidentState.RESOLVED))
    await declare(store, incident("cart", state=IncidentState.MONITORING, severity=Severity.S4))
    assert await store.open_counts() == {"S1": 1, "S2": 2, "S4": 1}


# --- availability ---------------------------------------------------------------------


async def test_ping_answers(store: SqlStore) -> None:
    await store.ping()


async def test_unreachable_postgresql_is_store_unavailable() -> None:
    down = SqlStore("postgresql://postgres:s3cret@127.0.0.1:1/none")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await down.ping()
        assert "s3cret" not in str(caught.value)
        with pytest.raises(StoreUnavailable):
            await down.transact(lambda uow: None)
        with pytest.raises(StoreUnavailable):
            await down.list_incidents(IncidentFilter())
        with pytest.raises(StoreUnavailable):
            await down.migrate()
    finally:
        await down.close()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot create files in."""
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        # root ignores file modes; nobody can create a file in /proc.
        yield Path("/proc") if os.access(ro, os.W_OK) else ro
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("where", ["missing-directory", "not-a-directory", "read-only-directory"])
async def test_sqlite_file_that_cannot_be_created_is_store_unavailable(
    tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    if where == "missing-directory":
        path = tmp_path / "missing" / "fr.db"
    elif where == "not-a-directory":
        (tmp_path / "a-file").write_text("")
        path = tmp_path / "a-file" / "fr.db"
    else:
        path = request.getfixturevalue("read_only_dir") / "fr.db"
    down = SqlStore(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreUnavailable):
            await down.ping()
        with pytest.raises(StoreUnavailable):
            await down.migrate()
        with pytest.raises(StoreUnavailable):
            await down.transact(lambda uow: uow.record_events([event()], "am", NOW))
        with pytest.raises(StoreUnavailable):
            await down.groups_due(NOW)
    finally:
        await down.close()
    assert not path.exists()


async def test_reads_show_each_incidents_earliest_alerts_up_to_the_cap(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read API shows ALERTS_SHOWN alerts per incident, the earliest, in start order;
    the cut is per incident, also when several incidents are listed together."""
    monkeypatch.setattr(sql, "ALERTS_SHOWN", 3)
    for service in ("checkout", "search"):
        starts = [T0 + timedelta(seconds=s) for s in (50, 10, 40, 20, 30)]
        await ingest(
            store,
            [event(f"fp-{service}-{s.second}", service=service, starts_at=s) for s in starts],
        )
    listed = await store.list_incidents(IncidentFilter())
    assert [i.service for i in listed] == ["search", "checkout"]
    for found in [*listed, await store.get_incident(listed[0].id)]:
        assert list(found.alerts) == [f"fp-{found.service}-{s}" for s in (10, 20, 30)]
        assert found.firing_count == 5
