"""The store contract: what every backend (SQLite, PostgreSQL) promises the application.

Each test runs unchanged on both backends through the parametrized `store` fixture.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import IntegrityError

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
from firstresponder.store.ports import IncidentFilter
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
    async with store.unit_of_work() as uow:
        return await uow.record_events(events, "firstresponder", NOW)


async def ingest(
    store: SqlStore, events: Sequence[ClassifiedAlert], now: datetime = NOW
) -> tuple[Outcome, Incident | None]:
    """The application's write path for one group: dedup, lock, decide, save."""
    async with store.unit_of_work() as uow:
        fresh = await uow.record_events(events, "firstresponder", now)
        state = await uow.load_group(events[0].classification.group_key)
        outcome = ENGINE.apply_events(state, fresh, now)
        return outcome, await uow.save_group(state, outcome, now)


async def declare(store: SqlStore, new: Incident) -> Incident:
    """Insert a hand-built incident through save_group, as a declaration would."""
    async with store.unit_of_work() as uow:
        state = await uow.load_group(new.group_key)
        state.incident = new
        saved = await uow.save_group(state, Outcome(declared=True), new.declared_at)
    assert saved is not None
    return saved


async def entries(store: SqlStore, incident_id: int) -> list[TimelineEntry]:
    return [stored.entry for stored in await store.timeline(incident_id)]


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
    async with store.unit_of_work() as uow:
        assert await uow.record_events([event("fp-a")], "am-1", NOW) == [event("fp-a")]
        assert await uow.record_events([event("fp-a")], "am-1", NOW) == []
    async with store.unit_of_work() as uow:
        assert await uow.record_events([event("fp-a")], "am-2", NOW) == []


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
    async with store.unit_of_work() as uow:
        state = await uow.load_group("service=never-seen")
    assert state == GroupState("service=never-seen", None, {})


async def test_save_group_declares_incident_with_id_and_ordered_timeline(
    store: SqlStore,
) -> None:
    outcome, declared = await ingest(store, [event("fp-a"), event("fp-b", name="Latency")])
    assert outcome.declared and declared is not None
    assert declared.id > 0
    assert await store.get_incident(declared.id) == declared
    assert [e.kind for e in await entries(store, declared.id)] == [
        "declared",
        "alert_firing",
        "alert_firing",
    ]
    assert await entries(store, declared.id) == outcome.timeline
    async with store.unit_of_work() as uow:
        state = await uow.load_group("service=checkout")
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
    async with store.unit_of_work() as uow:
        state = await uow.load_group("service=checkout")
    assert state.incident is None
    assert list(state.pending) == ["fp-a"]
    assert state.pending["fp-a"].declare_at == due_at
    assert state.pending["fp-a"].alert.starts_at == T0
    assert await store.groups_due(due_at - timedelta(seconds=1)) == []
    assert await store.groups_due(due_at) == ["service=checkout"]

    async with store.unit_of_work() as uow:
        state = await uow.load_group("service=checkout")
        promoted = ENGINE.promote_due(state, due_at)
        declared = await uow.save_group(state, promoted, due_at)
    assert promoted.declared and declared is not None
    assert await store.groups_due(due_at + timedelta(hours=1)) == []
    assert (await store.get_incident(declared.id)).declared_at == due_at


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
    with pytest.raises(Boom):
        async with store.unit_of_work() as uow:
            fresh = await uow.record_events([event("fp-a")], "firstresponder", NOW)
            state = await uow.load_group("service=checkout")
            outcome = ENGINE.apply_events(state, fresh, NOW)
            declared = await uow.save_group(state, outcome, NOW)
            assert declared is not None and declared.id > 0
            raise Boom
    assert await store.list_incidents(IncidentFilter()) == []
    assert await store.open_counts() == {}
    assert await record(store, [event("fp-a")]) == [event("fp-a")], "the event was never kept"


async def test_only_one_open_incident_per_group(store: SqlStore) -> None:
    first = await declare(store, incident())
    with pytest.raises(IntegrityError):
        await declare(store, incident())
    async with store.unit_of_work() as uow:
        locked = await uow.lock_incident(first.id)
        resolution = locked.resolve("alice", NOW + timedelta(hours=1))
        await uow.save_incident(locked, resolution)
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
    """Lets a writer hold its transaction (and locks) open until the test releases it."""

    def __init__(self) -> None:
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def hold(self) -> None:
        self.holding.set()
        await self.release.wait()


async def race(
    store: SqlStore,
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
            holding = asyncio.create_task(gate.holding.wait())
            await asyncio.wait({first_task, holding}, return_when=asyncio.FIRST_COMPLETED)
            holding.cancel()
            assert not first_task.done(), f"the first writer ended early: {first_task!r}"
            second_task = asyncio.create_task(second())
            await wait_for_lock_waiter(store)
            assert not second_task.done(), "the second writer must wait for the first's locks"
    finally:
        gate.release.set()
        await asyncio.gather(first_task, *filter(None, [second_task]), return_exceptions=True)
    return first_task.result(), second_task.result()


async def wait_for_lock_waiter(store: SqlStore) -> None:
    """Return once a session of this database is blocked on a lock (polls, never sleeps)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        async with asyncio.timeout(5), store.engine.connect() as conn:
            while not (await conn.exec_driver_sql(query)).scalar_one():
                # pg_stat_activity is a snapshot per transaction: end it to look again.
                await conn.rollback()
    except TimeoutError:
        pytest.fail("no unit of work ever waited on a lock: the second writer was not held back")


@pytest.mark.parametrize("group_exists", [False, True], ids=["new-group", "known-group"])
async def test_postgresql_second_unit_of_work_waits_for_the_group_lock(
    store: SqlStore, group_exists: bool
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    if group_exists:
        async with store.unit_of_work() as uow:
            await uow.load_group("service=checkout")

    async def first(gate: Gate) -> Incident | None:
        async with store.unit_of_work() as uow:
            fresh = await uow.record_events([event("fp-a")], "am-1", NOW)
            state = await uow.load_group("service=checkout")
            await gate.hold()
            return await uow.save_group(state, ENGINE.apply_events(state, fresh, NOW), NOW)

    async def second() -> tuple[Incident | None, Outcome, Incident | None]:
        async with store.unit_of_work() as uow:
            fresh = await uow.record_events([event("fp-b")], "am-2", NOW)
            state = await uow.load_group("service=checkout")
            seen = state.incident
            outcome = ENGINE.apply_events(state, fresh, NOW)
            return seen, outcome, await uow.save_group(state, outcome, NOW)

    declared, (seen, outcome, updated) = await race(store, first, second)
    assert declared is not None and seen is not None and seen.id == declared.id
    assert not outcome.declared and updated is not None and updated.id == declared.id
    [only] = await store.list_incidents(IncidentFilter())
    assert set(only.alerts) == {"fp-a", "fp-b"}


@pytest.mark.parametrize("first_in", ["ingest", "api"])
async def test_postgresql_ingest_and_incident_change_never_lose_each_others_writes(
    store: SqlStore, first_in: str
) -> None:
    """A webhook and an acknowledgement racing on one incident: both writes survive."""
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    _, declared = await ingest(store, [event("fp-a")])
    assert declared is not None

    async def ingest_latency(gate: Gate | None = None) -> None:
        async with store.unit_of_work() as uow:
            fresh = await uow.record_events([event("fp-b", name="Latency")], "am", NOW)
            state = await uow.load_group("service=checkout")
            if gate is not None:
                await gate.hold()
            await uow.save_group(state, ENGINE.apply_events(state, fresh, NOW), NOW)

    async def acknowledge(gate: Gate | None = None) -> None:
        async with store.unit_of_work() as uow:
            found = await uow.lock_incident(declared.id)
            await uow.save_incident(found, found.acknowledge("alice", NOW))
            if gate is not None:
                await gate.hold()

    if first_in == "ingest":
        await race(store, ingest_latency, acknowledge)
    else:
        await race(store, acknowledge, ingest_latency)
    stored = await store.get_incident(declared.id)
    assert stored.acknowledged_by == "alice", "the acknowledgement was lost"
    assert set(stored.alerts) == {"fp-a", "fp-b"}, "the new alert was lost"


async def test_postgresql_alert_racing_a_resolution_opens_a_new_incident(
    store: SqlStore,
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers in the process")
    _, declared = await ingest(store, [event("fp-a")])
    assert declared is not None

    async def resolve(gate: Gate) -> None:
        async with store.unit_of_work() as uow:
            found = await uow.lock_incident(declared.id)
            await uow.save_incident(found, found.resolve("alice", NOW))
            await gate.hold()

    async def refire() -> tuple[Outcome, Incident | None]:
        return await ingest(store, [event("fp-b", name="Latency")])

    _, (outcome, new) = await race(store, resolve, refire)
    assert outcome.declared and new is not None and new.id != declared.id
    assert (await store.get_incident(declared.id)).state is IncidentState.RESOLVED
    assert set((await store.get_incident(new.id)).alerts) == {"fp-b"}


# --- incidents ------------------------------------------------------------------------


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
    found.track(
        TrackedAlert(
            "fp-a",
            "HighErrorRate",
            AlertStatus.RESOLVED,
            datetime(2026, 11, 23, 4, 59, 1, 500, tzinfo=CEST),
            datetime(2026, 11, 23, 5, 30, tzinfo=UTC),
            {"service": "checkout", "region": "eu-west-1"},
            "error ratio 52%",
            Impact.OUTAGE,
            "error ratio 0.52 >= outage line 0.5",
        )
    )
    found.track(
        TrackedAlert(
            "fp-b",
            "Latency",
            AlertStatus.FIRING,
            T0,
            None,
            {},
            "p99 over 2s",
            Impact.DEGRADED,
            "apdex below objective",
        )
    )
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
    async with store.unit_of_work() as uow:
        found = await uow.lock_incident(declared.id)
        assert found == declared
        everything_set(found)
        await uow.save_incident(found, [note, resolution])
    stored = await store.get_incident(declared.id)
    assert stored == found
    assert stored.declared_at == declared.declared_at and stored.id == declared.id
    moments = [stored.updated_at, stored.acknowledged_at, stored.resolved_at]
    assert all(moment is not None and moment.tzinfo is not None for moment in moments)
    assert all(a.starts_at.tzinfo is not None for a in stored.alerts.values())
    async with store.unit_of_work() as uow:
        assert await uow.lock_incident(declared.id) == found
    assert await entries(store, declared.id) == [note, resolution]


async def test_timeline_entries_carry_their_ids_in_order(store: SqlStore) -> None:
    declared = await declare(store, incident())
    notes = [TimelineEntry(NOW + timedelta(seconds=i), "note", f"note {i}") for i in range(5)]
    for note in notes:
        async with store.unit_of_work() as uow:
            found = await uow.lock_incident(declared.id)
            await uow.save_incident(found, [note])
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
        async with store.unit_of_work() as uow:
            await uow.lock_incident(4711)


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
            async with down.unit_of_work():
                pass
        with pytest.raises(StoreUnavailable):
            await down.list_incidents(IncidentFilter())
        with pytest.raises(StoreUnavailable):
            await down.migrate()
    finally:
        await down.close()


async def test_sqlite_in_a_missing_directory_is_store_unavailable(tmp_path: Path) -> None:
    down = SqlStore(f"sqlite:///{tmp_path / 'missing' / 'fr.db'}")
    try:
        with pytest.raises(StoreUnavailable):
            await down.ping()
        with pytest.raises(StoreUnavailable):
            await down.migrate()
        with pytest.raises(StoreUnavailable):
            await down.groups_due(NOW)
    finally:
        await down.close()
        await failed_sqlite_connections_stopped()


async def failed_sqlite_connections_stopped() -> None:
    """aiosqlite stops a connection that failed to open without awaiting its thread; that
    thread then reports to the loop, so let it finish while the test's loop still runs."""
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5)
