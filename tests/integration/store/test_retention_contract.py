"""Retention on both stores: exactly the old rows nothing needs are pruned; what the API,
the outbox's later messages and Slack commands read stays, and reads the same."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from firstresponder.config_retention import RetentionConfig
from firstresponder.domain.alerts import AlertStatus
from firstresponder.domain.escalation import PageAction
from firstresponder.domain.vocabulary import Role
from firstresponder.metrics import Metrics
from firstresponder.pagers.base import PageMessage
from firstresponder.retention import Retention
from firstresponder.store.sql import SqlStore
from firstresponder.store.tables import alert_events
from firstresponder.store.unit_of_work import SqlUnitOfWork
from tests.factories import FakeClock

from .test_store_contract import NOW, change, event, ingest

LEASE = timedelta(minutes=5)
LATE = NOW + timedelta(days=31)  # past every default age
CONFIG = RetentionConfig(batch=2)  # small batches: every sweep takes several steps


async def deliver(
    store: SqlStore,
    incident_id: int,
    channel: str,
    action: PageAction,
    *,
    target: str = "pagerduty",
    reference: str | None = None,
    failed: bool = False,
) -> None:
    """Enqueue one message and finish it at NOW (delivered or failed)."""
    key = f"fr-{incident_id}-{channel}"
    message = PageMessage(0, incident_id, target, Role.EOC, action, key, {"op": "x"})
    await store.transact(lambda uow: uow.enqueue([message], channel, NOW))
    [claimed] = await store.transact(lambda uow: uow.claim_outbox("me", NOW, LEASE, 10, channel))
    await store.transact(
        lambda uow: uow.finish_outbox(
            claimed.message.id, failed=failed, now=NOW, attempts=1, reference=reference
        )
    )


async def event_keys(store: SqlStore) -> set[str]:
    def read(uow: SqlUnitOfWork) -> set[str]:
        return set(uow._conn.execute(select(alert_events.c.event_key)).scalars())

    return await store.transact(read)


async def test_retention_prunes_exactly_what_is_old_and_unneeded(store: SqlStore) -> None:
    fired = event("fp-1", name="A")
    recovered = event("fp-1", name="A", status=AlertStatus.RESOLVED)
    still = event("fp-2", name="B")
    _, resolved = await ingest(store, [fired, still])
    await ingest(store, [recovered])
    assert resolved is not None
    await change(store, resolved.id, lambda i: i.resolve("alice", NOW))
    _, open_one = await ingest(store, [event("fp-3", service="payments")])
    await ingest(store, [event("fp-3", service="payments", status=AlertStatus.RESOLVED)])
    assert open_one is not None
    wait = timedelta(hours=1)
    await ingest(store, [event("fp-4", service="search", declare_after=wait)])
    await ingest(
        store, [event("fp-4", service="search", declare_after=wait, status=AlertStatus.RESOLVED)]
    )
    young = LATE - timedelta(days=1)
    pending = event("fp-5", service="catalog", declare_after=wait, starts_at=young)
    await ingest(store, [pending], now=young)

    await deliver(store, resolved.id, "pager", PageAction.TRIGGER, reference="PD-1")
    await deliver(store, resolved.id, "pager", PageAction.RESOLVE)
    await deliver(store, resolved.id, "pager", PageAction.TRIGGER, target="webhook:x", failed=True)
    await deliver(store, resolved.id, "slack", PageAction.TRIGGER, reference="C1|inc-1")
    await deliver(store, resolved.id, "slack", PageAction.TRIGGER)  # a post: no reference
    await deliver(store, open_one.id, "pager", PageAction.TRIGGER, reference="PD-2")
    await deliver(store, open_one.id, "pager", PageAction.ACKNOWLEDGE)
    await store.transact(lambda uow: uow.first_delivery("old", NOW))
    await store.transact(lambda uow: uow.first_delivery("young", young))

    before = await store.get_incident(resolved.id)
    metrics = Metrics()
    retention = Retention(store, CONFIG, FakeClock(LATE), metrics)
    pruned = await retention.pass_once()

    assert pruned == {"outbox": 3, "webhook_deliveries": 1, "alert_events": 5, "near_misses": 1}
    assert await event_keys(store) == {
        f"fp-2|{fired.alert.starts_at.isoformat()}|firing",  # may still fire: dedupes repeats
        f"fp-3|{fired.alert.starts_at.isoformat()}|resolved",  # the open incident shows it
        f"fp-5|{young.isoformat()}|firing",  # young
    }
    after = await store.get_incident(resolved.id)
    assert after.alerts == before.alerts and set(after.alerts) == {"fp-1", "fp-2"}
    kept = await store.transact(lambda uow: uow.outbox_of(resolved.id))
    assert [(r["channel"], r["action"], r["reference"]) for r in kept] == [
        ("pager", "trigger", "PD-1"),
        ("slack", "trigger", "C1|inc-1"),
    ]
    assert len(await store.transact(lambda uow: uow.outbox_of(open_one.id))) == 2
    assert await store.transact(lambda uow: uow.reference_of("slack", "C1|")) == resolved.id
    # A resolved incident pages no more (the domain refuses every change that would);
    # the triggers that reached a vendor still say who was paged.
    keys = await store.transact(lambda uow: uow.pager_keys(resolved.id))
    assert keys == {Role.EOC: [("pagerduty", f"fr-{resolved.id}-pager")]}
    assert await store.near_misses() == []
    assert not await store.transact(lambda uow: uow.first_delivery("young", LATE))
    assert await store.transact(lambda uow: uow.first_delivery("old", LATE))
    value = metrics.registry.get_sample_value
    assert value("firstresponder_retention_pruned_rows_total", {"table": "alert_events"}) == 5

    again = await retention.pass_once()
    assert again == {"outbox": 0, "webhook_deliveries": 0, "alert_events": 0, "near_misses": 0}
    assert (await store.get_incident(resolved.id)).alerts == before.alerts


async def test_a_pruned_still_firing_alert_would_declare_again_so_it_is_kept(
    store: SqlStore,
) -> None:
    """An incident resolved by hand while its alert fires: Alertmanager re-sends the alert
    every repeat_interval, and it stays a duplicate after retention, never a new incident."""
    firing = event("fp-9")
    _, first = await ingest(store, [firing])
    assert first is not None
    await change(store, first.id, lambda i: i.resolve("alice", NOW))
    await Retention(store, CONFIG, FakeClock(LATE), Metrics()).pass_once()
    outcome, again = await ingest(store, [firing], now=LATE)
    assert not outcome.declared and again is None


async def test_ages_of_zero_keep_everything(store: SqlStore) -> None:
    await store.transact(lambda uow: uow.first_delivery("old", NOW))
    forever = RetentionConfig(
        outbox=timedelta(0),
        webhook_deliveries=timedelta(0),
        alert_events=timedelta(0),
        near_misses=timedelta(0),
    )
    assert await Retention(store, forever, FakeClock(LATE), Metrics()).pass_once() == {}
    assert not await store.transact(lambda uow: uow.first_delivery("old", LATE))
