"""The dead-man's switch's row on both stores: ingest's refresh, durable `since`, and one
declaration for one absence even when two replicas check at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from firstresponder.commands import IncidentCommands
from firstresponder.config_heartbeat import HeartbeatConfig
from firstresponder.domain.classify import LabelClassifier
from firstresponder.domain.escalation import EscalationPolicy
from firstresponder.domain.heartbeat import HeartbeatVerdict
from firstresponder.domain.rules import ClassificationSettings
from firstresponder.domain.vocabulary import DEFAULT_SEVERITY_MAP, Role
from firstresponder.heartbeat import HeartbeatWatch
from firstresponder.ingest import HEARTBEAT
from firstresponder.metrics import Metrics
from firstresponder.paging import Paging
from firstresponder.store.migrate import alembic_config
from firstresponder.store.ports import IncidentFilter, UnitOfWork
from firstresponder.store.sql import SqlStore

from ...factories import FakeClock

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CONFIG = HeartbeatConfig(enabled=True, timeout=timedelta(minutes=3))


def watch(store: SqlStore, clock: FakeClock) -> HeartbeatWatch:
    metrics = Metrics()
    paging = Paging(EscalationPolicy(), {Role.EOC: ("pagerduty",)}, "http://fr.example")
    classifier = LabelClassifier((), ClassificationSettings())
    commands = IncidentCommands(
        store, classifier, DEFAULT_SEVERITY_MAP, clock, metrics, paging=paging
    )
    return HeartbeatWatch(store, commands, clock, metrics, CONFIG)


async def test_seen_never_moves_back_and_since_survives(store: SqlStore) -> None:
    await store.transact(lambda uow: uow.lock_heartbeat(HEARTBEAT, NOW))
    await store.transact(lambda uow: uow.heartbeat_seen(HEARTBEAT, NOW + timedelta(minutes=2)))
    await store.transact(lambda uow: uow.heartbeat_seen(HEARTBEAT, NOW + timedelta(minutes=1)))
    state = await store.transact(
        lambda uow: uow.lock_heartbeat(HEARTBEAT, NOW + timedelta(hours=1))
    )
    assert state.since == NOW  # a later start does not restart the count
    assert state.last_seen_at == NOW + timedelta(minutes=2)


async def test_two_replicas_checking_at_once_declare_once(store: SqlStore, store_url: str) -> None:
    clock = FakeClock(NOW)
    other = SqlStore(store_url)
    try:
        await watch(store, clock).check()  # watching begins
        clock.advance(minutes=5)
        verdicts = await asyncio.gather(watch(store, clock).check(), watch(other, clock).check())
        assert sorted(v.value for v in verdicts) == ["declare", "wait"]
        [incident] = await store.list_incidents(IncidentFilter())
        assert incident.service == "alerting-pipeline"

        def pages(uow: UnitOfWork) -> list[str]:
            return [m["dedup_key"] for m in uow.outbox_of(incident.id)]

        assert await store.transact(pages) == [f"firstresponder-{incident.id}-eoc"]
        clock.advance(minutes=5)
        assert await watch(other, clock).check() is HeartbeatVerdict.WAIT
        await store.transact(lambda uow: uow.heartbeat_seen(HEARTBEAT, clock.now()))
        assert await watch(other, clock).check() is HeartbeatVerdict.RETURNED
        [back] = await store.list_incidents(IncidentFilter())
        assert back.state.value == "monitoring"
    finally:
        await other.close()


def _down_and_up(conn: Connection) -> tuple[bool, bool]:
    config = alembic_config(conn)
    command.downgrade(config, "0006")
    after_down = sa.inspect(conn).has_table("heartbeats")
    command.upgrade(config, "0007")
    return after_down, sa.inspect(conn).has_table("heartbeats")


async def test_revision_0007_adds_and_drops_the_heartbeats_table(blank_url: str) -> None:
    store = SqlStore(blank_url)
    try:
        await store.migrate()
        assert await store._backend.write(_down_and_up) == (False, True)
    finally:
        await store.close()
