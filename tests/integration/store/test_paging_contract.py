"""The paging part of the store contract (outbox, deadlines, inbound deliveries), on SQLite
and on the real PostgreSQL, including two claimers racing on PostgreSQL's row locks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from firstresponder.domain.escalation import Deadline, DeadlineKind, PageAction
from firstresponder.domain.incident import TimelineEntry
from firstresponder.domain.vocabulary import Role
from firstresponder.pagers.base import PageMessage
from firstresponder.store.ports import ClaimedMessage
from firstresponder.store.sql import SqlStore

from ...factories import FakeClock
from .test_store_contract import NOW, declare, entries, incident

LEASE = timedelta(minutes=5)


def page(
    incident_id: int, role: Role, action: PageAction, target: str = "pagerduty"
) -> PageMessage:
    key = f"firstresponder-{incident_id}-{role.value}"
    return PageMessage(0, incident_id, target, role, action, key, {"summary": "s"})


async def test_enqueued_pages_are_claimed_in_order_one_per_key(store: SqlStore) -> None:
    first = await declare(store, incident("a"))
    messages = [
        page(first.id, Role.EOC, PageAction.TRIGGER),
        page(first.id, Role.IMOC, PageAction.TRIGGER),
        page(first.id, Role.EOC, PageAction.ACKNOWLEDGE),
    ]
    await store.transact(lambda uow: uow.enqueue(messages, "pager", NOW))
    keys = await store.transact(lambda uow: uow.pager_keys(first.id))
    assert keys == {
        Role.EOC: [("pagerduty", f"firstresponder-{first.id}-eoc")],
        Role.IMOC: [("pagerduty", f"firstresponder-{first.id}-imoc")],
    }
    claimed = await store.transact(lambda uow: uow.claim_outbox("a", NOW, LEASE, 10))
    # the acknowledge waits behind its own trigger
    assert [(c.message.role, c.message.action) for c in claimed] == [
        (Role.EOC, PageAction.TRIGGER),
        (Role.IMOC, PageAction.TRIGGER),
    ]
    assert await store.transact(lambda uow: uow.claim_outbox("b", NOW, LEASE, 10)) == []
    entry = TimelineEntry(NOW, "paged", "EOC paged")
    done = await store.transact(
        lambda uow: uow.finish_outbox(
            claimed[0].message.id,
            failed=False,
            now=NOW,
            attempts=1,
            reference="ref-1",
            entry=entry,
            incident_id=first.id,
        )
    )
    assert done
    again = await store.transact(
        lambda uow: uow.finish_outbox(claimed[0].message.id, failed=False, now=NOW, attempts=1)
    )
    assert not again, "finishing twice is refused (one timeline entry)"
    [ack] = await store.transact(lambda uow: uow.claim_outbox("b", NOW, LEASE, 10))
    assert ack.message.action is PageAction.ACKNOWLEDGE and ack.message.reference == "ref-1"
    assert [e.kind for e in await entries(store, first.id)].count("paged") == 1


async def test_a_lost_claim_is_retaken_after_its_lease(store: SqlStore) -> None:
    first = await declare(store, incident("b"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    [claimed] = await store.transact(lambda uow: uow.claim_outbox("dead", NOW, LEASE, 10))
    soon = NOW + LEASE - timedelta(seconds=1)
    assert await store.transact(lambda uow: uow.claim_outbox("live", soon, LEASE, 10)) == []
    later = NOW + LEASE + timedelta(seconds=1)
    [retaken] = await store.transact(lambda uow: uow.claim_outbox("live", later, LEASE, 10))
    assert retaken.message.id == claimed.message.id
    stats = await store.transact(lambda uow: uow.outbox_stats(["pager", "slack"]))
    assert stats == {"pager": (1, NOW)}


async def test_retry_gives_the_claim_back_for_later(store: SqlStore) -> None:
    first = await declare(store, incident("c"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    [claimed] = await store.transact(lambda uow: uow.claim_outbox("a", NOW, LEASE, 10))
    later = NOW + timedelta(seconds=30)
    await store.transact(
        lambda uow: uow.retry_outbox(
            claimed.message.id, "a", next_at=later, attempts=4, error="503"
        )
    )
    assert await store.transact(lambda uow: uow.claim_outbox("a", NOW, LEASE, 10)) == []
    [again] = await store.transact(lambda uow: uow.claim_outbox("a", later, LEASE, 10))
    assert again.attempts == 4


async def test_deadlines_are_replaced_per_kind_cancelled_and_taken_once(store: SqlStore) -> None:
    first = await declare(store, incident("d"))
    ack = Deadline(first.id, DeadlineKind.ACK, NOW + timedelta(minutes=15))
    moved = Deadline(first.id, DeadlineKind.ACK, NOW + timedelta(minutes=20), repeat=1)
    inv = Deadline(first.id, DeadlineKind.INVESTIGATING, NOW + timedelta(minutes=30))
    await store.transact(lambda uow: uow.schedule([ack, inv]))
    await store.transact(lambda uow: uow.schedule([moved]))
    assert await store.transact(lambda uow: uow.take_due_deadline(NOW)) is None
    due = await store.transact(lambda uow: uow.take_due_deadline(NOW + timedelta(minutes=20)))
    assert due is not None and due.deadline == moved
    taken = await store.transact(lambda uow: uow.take_due_deadline(NOW + timedelta(hours=1)))
    assert taken is not None and taken.deadline == inv
    await store.transact(lambda uow: uow.schedule([inv, ack]))
    await store.transact(lambda uow: uow.cancel_deadlines(first.id, [DeadlineKind.INVESTIGATING]))
    left = await store.transact(lambda uow: uow.take_due_deadline(NOW + timedelta(days=1)))
    assert left is not None and left.deadline == ack
    assert await store.transact(lambda uow: uow.take_due_deadline(NOW + timedelta(days=1))) is None


async def test_racing_claimers_fire_each_deadline_once(store: SqlStore) -> None:
    created = [await declare(store, incident(f"race{n}")) for n in range(8)]
    await store.transact(
        lambda uow: uow.schedule([Deadline(i.id, DeadlineKind.ACK, NOW) for i in created])
    )

    async def drain() -> list[int]:
        taken = []
        while (due := await store.transact(lambda uow: uow.take_due_deadline(NOW))) is not None:
            taken.append(due.deadline.incident_id)
        return taken

    results = await asyncio.gather(drain(), drain(), drain())
    fired = [incident_id for taken in results for incident_id in taken]
    assert sorted(fired) == sorted(i.id for i in created)


async def test_inbound_deliveries_are_recognised(store: SqlStore) -> None:
    assert await store.transact(lambda uow: uow.first_delivery("pagerduty:1", NOW))
    assert not await store.transact(lambda uow: uow.first_delivery("pagerduty:1", NOW))
    assert await store.transact(lambda uow: uow.first_delivery("pagerduty:2", NOW))


async def test_a_claim_keeps_each_key_in_order_and_takes_the_oldest_first(
    store: SqlStore,
) -> None:
    """Per (target, dedup_key) strictly in id order: a message waits while any older one
    of its key is pending (backing off, in flight or due); a finished one (delivered or
    failed for good) holds nothing back. Across keys, the oldest go first, `limit` at most."""
    a, b, c, d = [await declare(store, incident(f"order-{n}")) for n in "abcd"]
    trigger, ack, resolve = PageAction.TRIGGER, PageAction.ACKNOWLEDGE, PageAction.RESOLVE
    first = [page(i.id, Role.EOC, trigger) for i in (a, b, c, d)]
    later = [page(a.id, Role.EOC, ack), page(a.id, Role.EOC, resolve)]
    later += [page(i.id, Role.EOC, ack) for i in (b, c, d)]
    await store.transact(lambda uow: uow.enqueue(first + later, "pager", NOW))

    def key_action(claimed: list[ClaimedMessage]) -> list[tuple[int, PageAction]]:
        return [(m.message.incident_id, m.message.action) for m in claimed]

    two = await store.transact(lambda uow: uow.claim_outbox("x", NOW, LEASE, 2))
    assert key_action(two) == [(a.id, trigger), (b.id, trigger)], "oldest first, at most 2"
    a_trigger, b_trigger = (m.message.id for m in two)
    # a's trigger backs off, b's stays in flight: their acknowledges wait behind them.
    await store.transact(
        lambda uow: uow.retry_outbox(
            a_trigger, "x", next_at=NOW + timedelta(minutes=1), attempts=1, error="503"
        )
    )
    rest = await store.transact(lambda uow: uow.claim_outbox("y", NOW, LEASE, 10))
    assert key_action(rest) == [(c.id, trigger), (d.id, trigger)]
    c_trigger, d_trigger = (m.message.id for m in rest)
    # c's trigger is delivered, d's fails for good: each releases its acknowledge.
    await store.transact(
        lambda uow: uow.finish_outbox(
            c_trigger, failed=False, now=NOW, attempts=1, reference="c-old"
        )
    )
    await store.transact(
        lambda uow: uow.finish_outbox(d_trigger, failed=True, now=NOW, attempts=1, error="400")
    )
    released = await store.transact(lambda uow: uow.claim_outbox("y", NOW, LEASE, 10))
    assert key_action(released) == [(c.id, ack), (d.id, ack)]
    assert [m.message.reference for m in released] == ["c-old", None]
    # Later, a's trigger is due again; its acknowledge and resolve still wait, in order.
    soon = NOW + timedelta(minutes=2)
    [again] = await store.transact(lambda uow: uow.claim_outbox("z", soon, LEASE, 10))
    assert again.message.id == a_trigger
    await store.transact(
        lambda uow: uow.finish_outbox(a_trigger, failed=False, now=soon, attempts=1, reference="a1")
    )
    [a_ack] = await store.transact(lambda uow: uow.claim_outbox("z", soon, LEASE, 10))
    assert (a_ack.message.action, a_ack.message.reference) == (ack, "a1")
    assert await store.transact(lambda uow: uow.claim_outbox("z", soon, LEASE, 10)) == []
    await store.transact(
        lambda uow: uow.finish_outbox(a_ack.message.id, failed=False, now=soon, attempts=1)
    )
    [a_resolve] = await store.transact(lambda uow: uow.claim_outbox("z", soon, LEASE, 10))
    assert (a_resolve.message.action, a_resolve.message.reference) == (resolve, "a1")
    # Undelivered: b's trigger and acknowledge, the acknowledges of c and d, a's resolve.
    assert (await store.outbox_stats(["pager"]))["pager"] == (5, NOW)


async def test_a_slack_message_addresses_the_latest_channel_of_its_key(store: SqlStore) -> None:
    first = await declare(store, incident("slack-ref"))
    create = page(first.id, Role.EOC, PageAction.TRIGGER, target="slack")
    post = page(first.id, Role.EOC, PageAction.ACKNOWLEDGE, target="slack")
    await store.transact(lambda uow: uow.enqueue([create, post], "slack", NOW))
    assert await store.transact(lambda uow: uow.claim_outbox("s", NOW, LEASE, 10, "pager")) == []
    [created] = await store.transact(lambda uow: uow.claim_outbox("s", NOW, LEASE, 10, "slack"))
    assert created.message.reference is None, "nothing was created before it"
    await store.transact(
        lambda uow: uow.finish_outbox(
            created.message.id, failed=False, now=NOW, attempts=1, reference="C42|inc-1"
        )
    )
    [posted] = await store.transact(lambda uow: uow.claim_outbox("s", NOW, LEASE, 10, "slack"))
    assert posted.message.reference == "C42|inc-1"
    assert await store.transact(lambda uow: uow.reference_of("slack", "C42|")) == first.id
    assert await store.transact(lambda uow: uow.reference_of("slack", "C4|")) is None
    assert await store.transact(lambda uow: uow.reference_of("slack", "C42|inc")) == first.id


# --- short leases, renewed while delivering; the order of an incident's pages -----------

SHORT = timedelta(seconds=10)


async def _claim(store: SqlStore, owner: str, clock: FakeClock) -> list[tuple[Role, int]]:
    claimed = await store.transact(lambda uow: uow.claim_outbox(owner, clock.now(), SHORT, 10))
    return [(c.message.role, c.message.id) for c in claimed]


async def _give_back(store: SqlStore, message_id: int, next_at: datetime) -> None:
    await store.transact(
        lambda uow: uow.retry_outbox(message_id, "a", next_at=next_at, attempts=4, error="500")
    )


async def _next_tries(store: SqlStore, incident_id: int) -> dict[Role, datetime]:
    rows = await store.transact(lambda uow: uow.outbox_of(incident_id))
    return {Role(r["role"]): r["next_attempt_at"] for r in rows}


async def test_a_renewed_lease_holds_and_an_expired_one_is_retaken_and_not_renewed(
    store: SqlStore,
) -> None:
    clock = FakeClock(NOW)
    first = await declare(store, incident("lease"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    [(_, message_id)] = await _claim(store, "a", clock)
    clock.advance(seconds=8)
    kept = await store.transact(
        lambda uow: uow.renew_outbox([message_id], "a", clock.now() + SHORT)
    )
    assert kept == {message_id}
    clock.advance(seconds=8)  # past the first lease, within the renewed one
    assert await _claim(store, "b", clock) == []
    clock.advance(seconds=3)  # "a" stopped renewing (it died, or stalled): the lease runs out
    assert await _claim(store, "b", clock) == [(Role.EOC, message_id)]
    # "a" comes back to life: its renewal and its give-back are refused, and say so.
    lost = await store.transact(lambda uow: uow.renew_outbox([message_id], "a", clock.now()))
    assert lost == set()
    gave_back = await store.transact(
        lambda uow: uow.retry_outbox(message_id, "a", next_at=clock.now(), attempts=3, error="500")
    )
    assert not gave_back
    [row] = await store.transact(lambda uow: uow.outbox_of(first.id))
    assert (row["claimed_by"], row["attempts"]) == ("b", 0)
    done = await store.transact(
        lambda uow: uow.finish_outbox(message_id, failed=False, now=clock.now(), attempts=1)
    )
    assert done
    assert await store.transact(lambda uow: uow.renew_outbox([message_id], "b", NOW)) == set()


async def test_an_escalation_waits_while_the_earlier_page_is_held_by_a_dead_dispatcher(
    store: SqlStore,
) -> None:
    clock = FakeClock(NOW)
    first = await declare(store, incident("order"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    [(_, eoc)] = await _claim(store, "dead", clock)
    clock.advance(seconds=4)  # the ack timeout: the IMOC is paged, through two targets
    escalation = [
        page(first.id, Role.IMOC, PageAction.TRIGGER),
        page(first.id, Role.IMOC, PageAction.TRIGGER, target="webhook:bridge"),
    ]
    await store.transact(lambda uow: uow.enqueue(escalation, "pager", clock.now()))
    clock.advance(seconds=1)
    # Only the other target's page goes: nothing of that target is in flight before it.
    [(role, bridge)] = await _claim(store, "restarted", clock)
    assert role is Role.IMOC
    rows = {r["id"]: r for r in await store.transact(lambda uow: uow.outbox_of(first.id))}
    assert rows[bridge]["target"] == "webhook:bridge"
    clock.advance(seconds=6)  # the dead dispatcher's lease has run out
    claimed = await _claim(store, "restarted", clock)
    assert [role for role, _ in claimed] == [Role.EOC, Role.IMOC]
    assert claimed[0][1] == eoc


async def test_pages_of_an_incident_are_retried_in_the_order_they_were_written(
    store: SqlStore,
) -> None:
    clock = FakeClock(NOW)
    first = await declare(store, incident("backoff"))
    await store.transact(
        lambda uow: uow.enqueue([page(first.id, Role.EOC, PageAction.TRIGGER)], "pager", NOW)
    )
    [(_, eoc)] = await _claim(store, "a", clock)
    await store.transact(
        lambda uow: uow.retry_outbox(
            eoc, "a", next_at=NOW + timedelta(minutes=5), attempts=4, error="500"
        )
    )
    clock.advance(minutes=1)  # the escalation is written while the EOC page waits
    await store.transact(
        lambda uow: uow.enqueue(
            [page(first.id, Role.IMOC, PageAction.TRIGGER)], "pager", clock.now()
        )
    )
    assert (await _next_tries(store, first.id))[Role.EOC] == clock.now(), "pulled forward"
    claimed = await _claim(store, "a", clock)
    assert [role for role, _ in claimed] == [Role.EOC, Role.IMOC]
    imoc = claimed[1][1]

    # Both fail again. The EOC page gives its claim back first, while the IMOC is in
    # flight; then the IMOC page, with a shorter backoff: the EOC page comes due with it.
    later = clock.now() + timedelta(minutes=2)
    for message_id, next_at in ((eoc, later), (imoc, later - timedelta(seconds=30))):
        await _give_back(store, message_id, next_at)
    tries = await _next_tries(store, first.id)
    assert tries[Role.EOC] == tries[Role.IMOC] == later - timedelta(seconds=30)
    clock.current = tries[Role.IMOC]
    claimed = await _claim(store, "a", clock)
    assert [role for role, _ in claimed] == [Role.EOC, Role.IMOC]

    # The IMOC page gives back first, then the EOC page with a longer backoff: the EOC
    # page comes due no later than the IMOC page.
    soon, far = clock.now() + timedelta(minutes=1), clock.now() + timedelta(minutes=4)
    for message_id, next_at in ((imoc, soon), (eoc, far)):
        await _give_back(store, message_id, next_at)
    tries = await _next_tries(store, first.id)
    assert tries[Role.EOC] == tries[Role.IMOC] == soon
