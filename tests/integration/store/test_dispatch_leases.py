"""The dispatcher's leases on both stores: renewed while a slow delivery is in progress, so
no other dispatcher takes the page over; lost when the renewals stop for a whole lease, and
then the old delivery neither tries again nor writes a second result. And a batch goes out
in page order: an incident's EOC page before the escalation written after it.

The clock is a FakeClock; the lease keeper's waits are beats the test gives by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from firstresponder.config_paging import DeliverySettings
from firstresponder.dispatch import Dispatcher
from firstresponder.domain.escalation import PageAction
from firstresponder.domain.vocabulary import Role
from firstresponder.metrics import Metrics
from firstresponder.pagers.base import PageMessage, TransientDeliveryError
from firstresponder.paging_wiring import dispatcher_owner
from firstresponder.store.sql import SqlStore

from ...factories import FakeClock
from .test_paging_contract import page
from .test_store_contract import NOW, declare, entries, incident

LEASE = timedelta(seconds=10)
WAIT_S = 10.0  # the most any step waits for the event it expects


class GatedPager:
    """Each send waits until the test opens the gate, then answers as told."""

    name = "pagerduty"

    def __init__(self) -> None:
        self.sent: list[PageMessage] = []
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.answer: Callable[[], str | None] = lambda: "ref"

    async def send(self, message: PageMessage) -> str | None:
        self.sent.append(message)
        self.called.set()
        await asyncio.wait_for(self.gate.wait(), WAIT_S)
        return self.answer()

    async def close(self) -> None:
        return None


class Beats:
    """The lease keeper's sleep: returns when the test beats; `beat` waits for the
    renewal it caused to finish (the keeper back asleep)."""

    def __init__(self) -> None:
        self._beats: asyncio.Queue[None] = asyncio.Queue()
        self.asleep = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asleep.set()
        await self._beats.get()

    async def beat(self) -> None:
        await asyncio.wait_for(self.asleep.wait(), WAIT_S)
        self.asleep.clear()
        self._beats.put_nowait(None)
        await asyncio.wait_for(self.asleep.wait(), WAIT_S)


def dispatcher(
    store: SqlStore, pager: GatedPager, clock: FakeClock, beats: Beats | None = None
) -> Dispatcher:
    return Dispatcher(
        store,
        {pager.name: pager},
        clock,
        Metrics(),
        owner=dispatcher_owner(),
        settings=DeliverySettings(lease=LEASE),
        renew_sleep=beats or Beats(),
    )


async def waiting(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), WAIT_S)


async def finished(task: Awaitable[int]) -> int:
    return await asyncio.wait_for(task, WAIT_S)


async def test_renewal_keeps_a_slow_delivery_from_being_taken_over(store: SqlStore) -> None:
    clock, beats, slow, other = FakeClock(NOW), Beats(), GatedPager(), GatedPager()
    first = await declare(store, incident("slow"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    delivering = asyncio.create_task(dispatcher(store, slow, clock, beats).pass_once())
    await waiting(slow.called)
    for _ in range(3):  # 24 s in all, far past the first lease: renewed every 8 s
        clock.advance(seconds=8)
        await beats.beat()
        assert await dispatcher(store, other, clock).pass_once() == 0
    slow.gate.set()
    assert await finished(delivering) == 1
    assert other.sent == []
    [row] = await store.transact(lambda uow: uow.outbox_of(first.id))
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("delivered", 1, None)
    assert [e.kind for e in await entries(store, first.id)].count("paged") == 1


def _error() -> str | None:
    raise TransientDeliveryError("PagerDuty answered 500")


@pytest.mark.parametrize("late_answer", ["delivered", "500"])
async def test_a_lost_lease_is_not_finished_twice_nor_tried_again(
    store: SqlStore, late_answer: str
) -> None:
    clock, beats, stalled, survivor = FakeClock(NOW), Beats(), GatedPager(), GatedPager()
    survivor.gate.set()
    first = await declare(store, incident("stalled"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    delivering = asyncio.create_task(dispatcher(store, stalled, clock, beats).pass_once())
    await waiting(stalled.called)
    clock.advance(seconds=11)  # no renewal for a whole lease: this dispatcher was stalled
    assert await dispatcher(store, survivor, clock).pass_once() == 1
    await beats.beat()  # the stalled dispatcher's renewal learns the page is not its own
    if late_answer == "500":
        stalled.answer = _error
    stalled.gate.set()
    assert await finished(delivering) == 1
    assert len(stalled.sent) == 1, "tried again after losing the lease"
    assert len(survivor.sent) == 1
    [row] = await store.transact(lambda uow: uow.outbox_of(first.id))
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    kinds = [e.kind for e in await entries(store, first.id)]
    assert kinds.count("paged") == 1 and "page_delayed" not in kinds


async def test_a_retaken_eoc_page_goes_out_before_the_escalation_written_after_it(
    store: SqlStore,
) -> None:
    clock, pager = FakeClock(NOW), GatedPager()
    first = await declare(store, incident("order"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    await store.transact(lambda uow: uow.claim_outbox("dead", NOW, LEASE, 10))
    clock.advance(seconds=4)
    await store.transact(
        lambda uow: uow.enqueue(
            [page(first.id, Role.IMOC, PageAction.TRIGGER)], "pager", clock.now()
        )
    )
    restarted = dispatcher(store, pager, clock)
    assert await restarted.pass_once() == 0, "the IMOC page overtook the held EOC page"
    clock.advance(seconds=7)  # the dead dispatcher's lease has run out
    delivering = asyncio.create_task(restarted.pass_once())
    await waiting(pager.called)
    for _ in range(20):  # let every ready task run: the IMOC send must not start
        await asyncio.sleep(0)
    assert [m.role for m in pager.sent] == [Role.EOC]
    pager.gate.set()
    assert await finished(delivering) == 2
    assert [m.role for m in pager.sent] == [Role.EOC, Role.IMOC]


def test_every_dispatcher_start_has_its_own_owner_id() -> None:
    """A restarted daemon (even with the same pid) must not take its predecessor's claims
    for its own: they are retaken only when their lease runs out."""
    assert dispatcher_owner() != dispatcher_owner()
