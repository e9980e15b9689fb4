"""The SQLite writer runs webhooks before background work, whatever the order of arrival.

Deterministic: the writer thread is held on an event while the writes queue, then let go;
the order the works ran in is the assertion. No timing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from firstresponder.store.sql import SqlStore
from firstresponder.store.writer import PriorityWriter

WAIT_S = 10.0


@pytest.fixture
async def writer() -> AsyncIterator[PriorityWriter]:
    w = PriorityWriter("test-writer", fair_share=3)
    yield w
    await asyncio.to_thread(w.shutdown)


class Held:
    """A first write that holds the writer thread until released."""

    def __init__(self, writer: PriorityWriter) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.future = writer.submit(self._hold)

    def _hold(self) -> None:
        self.started.set()
        assert self.release.wait(WAIT_S)

    async def until_running(self) -> None:
        assert await asyncio.to_thread(self.started.wait, WAIT_S)


def recorder(ran: list[str], name: str) -> Callable[[], str]:
    def work() -> str:
        ran.append(name)
        return name

    return work


async def test_a_queued_webhook_write_goes_before_queued_background_work(
    writer: PriorityWriter,
) -> None:
    held = Held(writer)
    await held.until_running()
    ran: list[str] = []
    futures = [
        writer.submit(recorder(ran, "claim"), background=True),
        writer.submit(recorder(ran, "deadline"), background=True),
        writer.submit(recorder(ran, "webhook"), background=False),
        writer.submit(recorder(ran, "claim 2"), background=True),
        writer.submit(recorder(ran, "api"), background=False),
    ]
    held.release.set()
    results = await asyncio.wait_for(asyncio.gather(held.future, *futures), WAIT_S)
    assert ran == ["webhook", "api", "claim", "deadline", "claim 2"]
    assert results[1:] == ["claim", "deadline", "webhook", "claim 2", "api"]


async def test_background_work_still_gets_a_turn_in_a_flood_of_webhooks(
    writer: PriorityWriter,
) -> None:
    held = Held(writer)
    await held.until_running()
    ran: list[str] = []
    futures = [writer.submit(recorder(ran, "escalation"), background=True)]
    futures += [writer.submit(recorder(ran, f"webhook {n}")) for n in range(5)]
    held.release.set()
    await asyncio.wait_for(asyncio.gather(held.future, *futures), WAIT_S)
    # fair_share=3: three webhooks, then the escalation that waited, then the rest.
    assert ran == ["webhook 0", "webhook 1", "webhook 2", "escalation", "webhook 3", "webhook 4"]


async def test_an_error_reaches_its_caller_and_the_writer_carries_on(
    writer: PriorityWriter,
) -> None:
    def broken() -> None:
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        await asyncio.wait_for(writer.submit(broken, background=True), WAIT_S)
    assert await asyncio.wait_for(writer.submit(lambda: 42), WAIT_S) == 42


async def test_a_write_given_up_before_it_started_is_not_run(writer: PriorityWriter) -> None:
    held = Held(writer)
    await held.until_running()
    ran: list[str] = []
    abandoned = writer.submit(recorder(ran, "abandoned"), background=True)
    abandoned.cancel()
    kept = writer.submit(recorder(ran, "kept"))
    held.release.set()
    await asyncio.wait_for(asyncio.gather(held.future, kept), WAIT_S)
    assert ran == ["kept"]


async def test_the_sqlite_store_writes_webhooks_first(tmp_path: Path) -> None:
    """Through the store port: `transact(..., background=True)` waits for the webhook."""
    store = SqlStore(f"sqlite:///{tmp_path / 'fr.db'}")
    await store.migrate()
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def hold(_uow: object) -> None:
        started.set()
        assert release.wait(WAIT_S)

    def note(name: str) -> Callable[[object], None]:
        return lambda _uow: ran.append(name)

    try:
        first = asyncio.create_task(store.transact(hold, background=True))
        assert await asyncio.to_thread(started.wait, WAIT_S)
        claim = asyncio.create_task(store.transact(note("claim"), background=True))
        webhook = asyncio.create_task(store.transact(note("webhook")))
        await asyncio.sleep(0)  # both tasks run up to their queued write
        release.set()
        await asyncio.wait_for(asyncio.gather(first, claim, webhook), WAIT_S)
        assert ran == ["webhook", "claim"]
    finally:
        release.set()
        await store.close()
