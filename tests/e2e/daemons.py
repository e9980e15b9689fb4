"""The pieces the end-to-end tests share around a daemon process: a fake server run on its
own event loop in a thread (the tests are synchronous), and a handle that starts the real
daemon on a config file and kills it with SIGKILL."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..fakes.server import FakeServer
from .harness import Managed, Processes, wait_ready

F = TypeVar("F", bound=FakeServer)
EXECUTABLE = str(Path(sys.executable).parent / "firstresponder")
READY_DEADLINE_S = 30.0


class Threaded(Generic[F]):
    """A fake server on its own event loop in a thread, for tests that are not async."""

    def __init__(self, fake: F) -> None:
        self.fake = fake
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> F:
        self._thread.start()
        self._run(self.fake.__aenter__())
        return self.fake

    def __exit__(self, *_: object) -> None:
        self._run(self.fake.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            # Closed, not left to the collector: an unclosed loop and its self-pipe are
            # reported as unraisable warnings by whichever later test the collector runs in.
            self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        done: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return done.result(timeout=10)


@dataclass
class Daemon:
    """`firstresponder serve` on `config`; started again after a kill as a new process."""

    processes: Processes
    config: Path
    url: str
    managed: Managed | None = None

    def start(self) -> None:
        self.managed = self.processes.start(
            f"firstresponder-{len(self.processes.started)}",
            [EXECUTABLE, "serve", "--config", str(self.config)],
            cwd=self.config.parent,
        )
        wait_ready(
            f"{self.url}/readyz", what="daemon ready", deadline_s=READY_DEADLINE_S, processes=None
        )

    def kill_9(self) -> None:
        assert self.managed is not None
        self.managed.kill()  # SIGKILL: no shutdown, no cleanup
