"""The scheduler: one `tick()` per pass, driven by the injected clock; `run()` loops it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from .clock import Clock
from .dispatch import Dispatcher
from .escalations import EscalationRunner
from .heartbeat import HeartbeatWatch
from .ingest import Ingestor, refresh_open_counts
from .metrics import Metrics
from .reevaluate import Reevaluator
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
        reevaluator: Reevaluator | None = None,
        reevaluate_every: timedelta = timedelta(seconds=30),
        escalations: EscalationRunner | None = None,
        dispatcher: Dispatcher | None = None,
        heartbeat: HeartbeatWatch | None = None,
    ) -> None:
        self._heartbeat = heartbeat
        self._ingestor = ingestor
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._interval = interval_s
        self._reevaluator = reevaluator
        self._reevaluate_every = reevaluate_every
        self._next_reevaluation: datetime | None = None
        self._escalations = escalations
        self._dispatcher = dispatcher

    async def tick(self) -> None:
        await self._ingestor.promote_due()
        if self._escalations is not None:
            await self._escalations.fire_due()
        if self._heartbeat is not None:
            await self._check_heartbeat()
        now = self._clock.now()
        if self._reevaluator is not None and (
            self._next_reevaluation is None or now >= self._next_reevaluation
        ):
            self._next_reevaluation = now + self._reevaluate_every
            await self._reevaluator.pass_once()
        await refresh_open_counts(self._store, self._metrics)
        if self._dispatcher is not None:
            await self._dispatcher.refresh_gauges()

    async def _check_heartbeat(self) -> None:
        """Guarded on its own: a failed check must not hold up the rest of the tick."""
        assert self._heartbeat is not None
        try:
            await self._heartbeat.check()
        except Exception:
            self._metrics.heartbeat_check_failures.inc()
            log.exception("heartbeat check failed")

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad pass must not stop the next
                log.exception("scheduler tick failed")
            await self._clock.sleep(self._interval)
