"""A dispatcher idles for its interval, unless something committed for it wakes it."""

from __future__ import annotations

import asyncio
from typing import cast

from firstresponder.dispatch import Dispatcher
from firstresponder.metrics import Metrics
from firstresponder.store.ports import Database


class Stopped:
    """A clock whose sleep never ends on its own: only a wake can end the idle time."""

    def __init__(self) -> None:
        self.sleeping = 0

    def now(self) -> object:
        raise AssertionError("not asked in this test")

    async def sleep(self, seconds: float) -> None:
        self.sleeping += 1
        await asyncio.Event().wait()


class Counted(Dispatcher):
    def __init__(self, clock: Stopped) -> None:
        super().__init__(cast(Database, None), {}, clock, Metrics(), owner="test")  # type: ignore[arg-type]
        self.passes = asyncio.Queue[int]()
        self.count = 0

    async def pass_once(self) -> int:
        self.count += 1
        self.passes.put_nowait(self.count)
        return 0


async def test_wake_ends_the_idle_interval_at_once() -> None:
    clock = Stopped()
    dispatcher = Counted(clock)
    running = asyncio.create_task(dispatcher.run(3600))
    try:
        assert await asyncio.wait_for(dispatcher.passes.get(), 5) == 1
        await asyncio.sleep(0)
        assert dispatcher.passes.empty()  # idle: the hour has not passed
        dispatcher.wake()
        assert await asyncio.wait_for(dispatcher.passes.get(), 5) == 2
        dispatcher.wake()  # a wake during a pass is not lost either
        assert await asyncio.wait_for(dispatcher.passes.get(), 5) == 3
        assert clock.sleeping >= 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
