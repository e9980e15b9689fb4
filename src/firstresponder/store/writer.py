"""The SQLite writer: one thread runs every write transaction, webhooks first.

SQLite has one writer, so every write waits its turn. A FIFO made a webhook wait behind
whatever the dispatcher and the scheduler had queued; here a write marked `background`
(the dispatcher, the scheduler, retention) runs only when no other write is waiting. A
webhook therefore waits for at most the one unit of work already running, and background
units are kept short (one claim, one deadline). So that a flood of webhooks cannot hold
escalations back for ever, a waiting background unit also gets one turn after every
`FAIR_SHARE` foreground units in a row.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
FAIR_SHARE = 8  # foreground units in a row before a waiting background unit goes


@dataclass(frozen=True)
class _Job(Generic[T]):
    work: Callable[[], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


class PriorityWriter:
    def __init__(self, thread_name: str, fair_share: int = FAIR_SHARE) -> None:
        self._fair_share = fair_share
        self._ready = threading.Condition()
        self._foreground: deque[_Job[Any]] = deque()
        self._background: deque[_Job[Any]] = deque()
        self._in_a_row = 0  # foreground units run while background work waited
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], T], background: bool = False) -> asyncio.Future[T]:
        """Queue `work` for the writer thread; the future resolves on the caller's loop."""
        loop = asyncio.get_running_loop()
        job = _Job(work, loop.create_future(), loop)
        with self._ready:
            if self._closed:
                raise RuntimeError("the writer is shut down")
            (self._background if background else self._foreground).append(job)
            self._ready.notify()
        return job.future

    def shutdown(self) -> None:
        """Run what is queued, then stop the thread (blocks until it has)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def _next(self) -> _Job[Any] | None:
        with self._ready:
            while not (self._foreground or self._background or self._closed):
                self._ready.wait()
            if not self._background:
                self._in_a_row = 0
                return self._foreground.popleft() if self._foreground else None
            if self._foreground and self._in_a_row < self._fair_share:
                self._in_a_row += 1
                return self._foreground.popleft()
            self._in_a_row = 0
            return self._background.popleft()

    def _run(self) -> None:
        while (job := self._next()) is not None:
            if job.future.cancelled():  # its caller gave up before it started
                continue
            try:
                result = job.work()
            except BaseException as exc:  # handed to the caller, whatever it is
                _settle(job, None, exc)
            else:
                _settle(job, result, None)


def _settle(job: _Job[Any], result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
        pass
