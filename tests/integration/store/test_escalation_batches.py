"""Deadlines fire a few per transaction; one that fails is undone alone, put back a minute
later and counted, and never holds up the deadlines behind it (on both stores)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from firstresponder.domain.escalation import Deadline, DeadlineKind
from firstresponder.domain.incident import Incident, TimelineEntry
from firstresponder.escalations import RETRY_FAILED, EscalationRunner
from firstresponder.metrics import Metrics
from firstresponder.paging import Paging
from firstresponder.store.ports import UnitOfWork
from firstresponder.store.sql import SqlStore

from ...factories import FakeClock
from .test_store_contract import NOW, declare, incident


class BrokenForOne:
    """Paging that escalates every incident but one, where it writes and then crashes."""

    def __init__(self, broken: int) -> None:
        self.broken: int | None = broken

    def fire(
        self, uow: UnitOfWork, found: Incident, deadline: Deadline, now: datetime
    ) -> list[TimelineEntry]:
        entry = TimelineEntry(now, "escalated", f"IMOC paged for {found.id}")
        if found.id == self.broken:
            uow.add_entries(found.id, [entry])  # written, then undone with its savepoint
            raise RuntimeError("a bug in one incident's escalation")
        return [entry]  # the runner saves it with the incident


async def escalated(store: SqlStore, incident_id: int) -> int:
    return sum(1 for e in await store.timeline(incident_id) if e.entry.kind == "escalated")


async def test_a_failing_deadline_is_put_back_alone(store: SqlStore) -> None:
    first, middle, last = [await declare(store, incident(f"svc-{n}")) for n in range(3)]
    due = [Deadline(i.id, DeadlineKind.ACK, NOW) for i in (first, middle, last)]
    await store.transact(lambda uow: uow.schedule(due))
    paging = BrokenForOne(middle.id)
    clock, metrics = FakeClock(NOW), Metrics()
    runner = EscalationRunner(store, cast(Paging, paging), clock, metrics)

    assert await runner.fire_due() == 3
    assert [await escalated(store, i.id) for i in (first, middle, last)] == [1, 0, 1]
    failures = metrics.registry.get_sample_value(
        "firstresponder_deadline_failures_total", {"kind": "ack_timeout"}
    )
    assert failures == 1
    [retry] = await store.transact(lambda uow: uow.deadlines_of(middle.id))
    assert retry.due_at == NOW + RETRY_FAILED
    assert await runner.fire_due() == 0  # not before its time

    paging.broken = None  # fixed by the next release
    clock.advance(seconds=RETRY_FAILED.total_seconds())
    assert await runner.fire_due() == 1
    assert await escalated(store, middle.id) == 1


async def test_deadlines_due_together_fire_once_each_in_few_transactions(
    store: SqlStore,
) -> None:
    incidents = [await declare(store, incident(f"storm-{n}")) for n in range(30)]
    due = [Deadline(i.id, DeadlineKind.ACK, NOW - timedelta(seconds=1)) for i in incidents]
    await store.transact(lambda uow: uow.schedule(due))
    paging = cast(Paging, BrokenForOne(-1))
    # A budget no machine runs out of: the count per transaction is what is under test.
    runner = EscalationRunner(store, paging, FakeClock(NOW), Metrics(), budget_s=3600)
    transactions = 0
    real = store.transact

    async def counted(work, *, background=False):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return await real(work, background=background)

    store.transact = counted  # type: ignore[method-assign]
    assert await runner.fire_due() == 30
    assert await runner.fire_due() == 0
    assert [await escalated(store, i.id) for i in incidents] == [1] * 30
    # All 30 in one transaction, then a look that finds none, twice: not 30 + 2.
    assert transactions == 3, transactions


async def test_two_workers_fire_each_deadline_once(store: SqlStore) -> None:
    """PostgreSQL fires with two transactions at once; SKIP LOCKED gives each its own."""
    incidents = [await declare(store, incident(f"pair-{n}")) for n in range(40)]
    due = [Deadline(i.id, DeadlineKind.ACK, NOW - timedelta(seconds=1)) for i in incidents]
    await store.transact(lambda uow: uow.schedule(due))
    paging = cast(Paging, BrokenForOne(-1))
    runner = EscalationRunner(store, paging, FakeClock(NOW), Metrics(), budget_s=0, workers=2)
    assert await runner.fire_due() == 40
    assert await runner.fire_due() == 0
    assert [await escalated(store, i.id) for i in incidents] == [1] * 40
