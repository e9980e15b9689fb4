"""The scheduler: one `tick()` per pass, driven by the injected clock; `run()` loops it.

Escalations keep their own share: `run()` fires due deadlines in a loop of their own, so
a long pass of declarations (a storm's backlog of groups) or of SLO re-evaluation never
holds an escalation back; the rest of the pass runs in the other loop. `tick()` does both,
escalations first, for tests and replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from .clock import Clock
from .dispatch import Dispatcher
from .escalations import MAX_PER_TICK, EscalationRunner
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
        """One pass: fire due deadlines, then declare, re-evaluate and refresh the gauges."""
        await self.escalate()
        await self.tend()

    async def escalate(self) -> bool:
        """Fire the deadlines due now, up to a batch; True if the batch was full."""
        if self._escalations is None:
            return False
        return await self._escalations.fire_due() >= MAX_PER_TICK

    async def tend(self) -> None:
        """Everything but escalations: declarations due, re-evaluation, gauges."""
        await self._ingestor.promote_due()
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
        escalating = asyncio.create_task(self._loop(self.escalate, "escalation pass failed"))
        try:
            await self._loop(self._tended, "scheduler tick failed")
        finally:
            escalating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await escalating

    async def _tended(self) -> bool:
        await self.tend()
        return False

    async def _loop(self, step: Callable[[], Awaitable[bool]], failure: str) -> None:
        while True:
            try:
                if await step():
                    continue  # a full batch: more may be due right now
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad pass must not stop the next
                log.exception(failure)
            await self._clock.sleep(self._interval)
