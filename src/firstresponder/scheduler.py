"""The scheduler: one `tick()` per pass, driven by the injected clock; `run()` loops it."""

from __future__ import annotations

import asyncio
import logging

from .clock import Clock
from .ingest import Ingestor, refresh_open_counts
from .metrics import Metrics
from .store.ports import Database

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        ingestor: Ingestor,
        store: Database,
        clock: Clock,
        metrics: Metrics,
        interval_s: float = 1.0,
    ) -> None:
        self._ingestor = ingestor
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._interval = interval_s

    async def tick(self) -> None:
        await self._ingestor.promote_due()
        await refresh_open_counts(self._store, self._metrics)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad pass must not stop the next
                log.exception("scheduler tick failed")
            await self._clock.sleep(self._interval)
