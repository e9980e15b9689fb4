"""Ingestion on the real store (SQLite and PostgreSQL): many webhooks, few transactions.

A batch of webhooks is one `Store.transact`; each caller still learns what became of its
own alerts, and a batch that fails fails every webhook in it, none half-stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.exc import OperationalError

from firstresponder.api.payload import parse_notification
from firstresponder.config import load_config
from firstresponder.domain.alerts import Notification
from firstresponder.domain.classify import LabelClassifier
from firstresponder.domain.grouping import GroupEngine
from firstresponder.errors import StoreUnavailable
from firstresponder.ingest import Ingestor
from firstresponder.metrics import Metrics
from firstresponder.store.ports import IncidentFilter
from firstresponder.store.sql import SqlStore
from firstresponder.store.unit_of_work import SqlUnitOfWork

from ...factories import FakeClock, make_alert, make_payload, write_config

T = TypeVar("T")


@pytest.fixture
def ingestor(store: SqlStore, tmp_path: Path) -> Ingestor:
    config = load_config(write_config(tmp_path))
    classifier = LabelClassifier(config.rules, config.classification)
    engine = GroupEngine(config.severity_map)
    return Ingestor(store, classifier, engine, FakeClock(), Metrics())


@pytest.fixture
def transactions(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per `transact` the store ran (its sequence number)."""
    ran: list[int] = []
    real = store.transact

    async def counted(work: Callable[[SqlUnitOfWork], T]) -> T:
        ran.append(len(ran))
        return await real(work)

    monkeypatch.setattr(store, "transact", counted)
    return ran


def webhook(service: str, fingerprint: str) -> Notification:
    alert = make_alert(labels={"service": service}, fingerprint=fingerprint)
    return parse_notification(json.dumps(make_payload(alert)).encode())


async def test_webhooks_arriving_together_commit_in_one_transaction(
    store: SqlStore, ingestor: Ingestor, transactions: list[int]
) -> None:
    services = [f"svc-{i % 5}" for i in range(20)]
    sent = [webhook(service, f"fp-{i}") for i, service in enumerate(services)]
    again = webhook("svc-0", "fp-0")  # an HA peer delivering the first alert too
    reports = await asyncio.gather(*(ingestor.submit(n) for n in [*sent, again]))
    assert len(transactions) == 1
    incidents = {i.service: i for i in await store.list_incidents(IncidentFilter())}
    assert sorted(incidents) == sorted(set(services))
    for service, report in zip(services, reports, strict=False):
        assert (report.received, report.accepted, report.duplicates) == (1, 1, 0)
        assert report.incidents == [incidents[service].id]
    assert (reports[-1].accepted, reports[-1].duplicates) == (0, 1)
    assert incidents["svc-0"].firing_count == 4


async def test_a_failing_batch_fails_each_webhook_in_it_and_stores_none_of_them(
    store: SqlStore, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.transact

    async def fails_once(work: Callable[[SqlUnitOfWork], T]) -> T:
        monkeypatch.setattr(store, "transact", real)

        def fail_at_the_end(uow: SqlUnitOfWork) -> T:
            work(uow)
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        return await real(fail_at_the_end)

    monkeypatch.setattr(store, "transact", fails_once)
    sent = [webhook("checkout", f"fp-{i}") for i in range(3)]
    failed = await asyncio.gather(*(ingestor.submit(n) for n in sent), return_exceptions=True)
    assert [type(f) for f in failed] == [StoreUnavailable] * 3
    assert await store.list_incidents(IncidentFilter()) == []
    retried = await asyncio.gather(*(ingestor.submit(n) for n in sent))
    assert [(r.accepted, r.duplicates) for r in retried] == [(1, 0)] * 3
