"""The action-item part of the store contract, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from firstresponder.domain.action_items import (
    ActionItem,
    ActionItemDraft,
    ActionItemStatus,
    Criticality,
)
from firstresponder.domain.incident import TimelineEntry
from firstresponder.errors import NotFoundError
from firstresponder.store.ports import UnitOfWork
from firstresponder.store.sql import SqlStore

from .test_store_contract import NOW, declare, entries, incident

CANARY = ActionItemDraft(
    "Add a canary stage to the checkout deploy", "carol", Criticality.HIGH, date(2026, 12, 4)
)
FAST_BURN = ActionItemDraft(
    "Page on the fast burn before customers notice", "bob", Criticality.CRITICAL, date(2026, 11, 27)
)


async def add(store: SqlStore, incident_id: int, draft: ActionItemDraft, actor: str) -> ActionItem:
    return await store.transact(lambda uow: uow.add_action_item(incident_id, draft, actor, NOW))


async def items(store: SqlStore, incident_id: int) -> list[ActionItem]:
    return await store.transact(lambda uow: uow.action_items(incident_id))


async def test_added_items_come_back_as_stored_oldest_first(store: SqlStore) -> None:
    first = await declare(store, incident("checkout"))
    canary = await add(store, first.id, CANARY, "bob")
    burn = await add(store, first.id, FAST_BURN, "alice")
    assert canary == ActionItem(
        canary.id,
        first.id,
        CANARY.title,
        "carol",
        Criticality.HIGH,
        date(2026, 12, 4),
        NOW,
        "bob",
        ActionItemStatus.OPEN,
    )
    assert burn.id > canary.id
    assert await items(store, first.id) == [canary, burn]


async def test_adding_an_item_records_who_added_it_in_the_timeline(store: SqlStore) -> None:
    first = await declare(store, incident("checkout"))
    item = await add(store, first.id, FAST_BURN, "bob")
    assert (await entries(store, first.id))[-1] == TimelineEntry(
        NOW,
        "action_item_added",
        "Action item added: Page on the fast burn before customers notice "
        "(owner bob, critical, due 2026-11-27)",
        actor="bob",
        data={
            "action_item_id": item.id,
            "title": FAST_BURN.title,
            "owner": "bob",
            "criticality": "critical",
            "due": "2026-11-27",
        },
    )


async def test_items_belong_to_their_incident(store: SqlStore) -> None:
    checkout = await declare(store, incident("checkout"))
    search = await declare(store, incident("search"))
    item = await add(store, checkout.id, CANARY, "bob")
    assert await items(store, checkout.id) == [item]
    assert await items(store, search.id) == []


async def test_an_item_and_its_entry_commit_together_or_not_at_all(store: SqlStore) -> None:
    first = await declare(store, incident("checkout"))
    before = await entries(store, first.id)

    def add_then_fail(uow: UnitOfWork) -> None:
        uow.add_action_item(first.id, CANARY, "bob", NOW)
        raise RuntimeError("the caller failed after adding")

    with pytest.raises(RuntimeError):
        await store.transact(add_then_fail)
    assert await items(store, first.id) == []
    assert await entries(store, first.id) == before


async def test_unknown_incidents_are_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="incident 4242 not found"):
        await add(store, 4242, CANARY, "bob")
    with pytest.raises(NotFoundError, match="incident 4242 not found"):
        await items(store, 4242)


async def test_text_and_dates_round_trip_at_their_limits(store: SqlStore) -> None:
    first = await declare(store, incident("checkout"))
    longest = ActionItemDraft(
        "é" * 499 + "|", "ø" * 200, Criticality.LOW, NOW.date() + timedelta(days=3650)
    )
    item = await add(store, first.id, longest, "bob")
    [stored] = await items(store, first.id)
    assert stored == item
    assert (len(stored.title), len(stored.owner)) == (500, 200)
    assert stored.due == date(2036, 11, 20)
