"""The retention runner: prunes finished rows after their configured age.

One `pass_once()` (tests call it with a fake clock) goes over each table in batches of
`retention.batch` rows, one short transaction each, handing the writer back between
batches so webhooks and pages never wait behind a long delete. `run()` repeats it every
`retention.interval` in its own task, apart from the scheduler, so pruning never delays
an escalation. Several replicas may prune at once: deleting a row twice is harmless.
What is kept, and why, is in store/retention_sql.py and docs/retention.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from .clock import Clock
from .config_retention import AGES, RetentionConfig
from .metrics import Metrics
from .store.ports import Store, UnitOfWork

log = logging.getLogger(__name__)


C = TypeVar("C")


class Step(Protocol[C]):
    def __call__(self, uow: UnitOfWork, *, after: C, limit: int) -> tuple[int, C | None]: ...


def _events_step(
    uow: UnitOfWork, *, before: datetime, after: int, limit: int
) -> tuple[int, int | None]:
    return uow.prune_alert_events(before, after, limit)


def _outbox_step(
    uow: UnitOfWork, *, before: datetime, after: tuple[datetime, int] | None, limit: int
) -> tuple[int, tuple[datetime, int] | None]:
    return uow.prune_outbox(before, after, limit)


class Retention:
    def __init__(
        self, store: Store, config: RetentionConfig, clock: Clock, metrics: Metrics
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._metrics = metrics

    async def pass_once(self) -> dict[str, int]:
        """Prune every table once down to its age; rows deleted, by table."""
        now = self._clock.now()
        pruned: dict[str, int] = {}
        for table in AGES:
            age = self._config.age(table)
            if age is None:
                continue
            try:
                pruned[table] = await self._prune(table, now - age)
            except asyncio.CancelledError:
                raise
            except Exception:  # one table failing must not stop the others, nor the loop
                log.exception("retention failed", extra={"table": table})
                self._metrics.retention_failures.labels(table).inc()
        return pruned

    async def run(self) -> None:
        while True:
            await self.pass_once()
            await self._clock.sleep(self._config.interval.total_seconds())

    async def _prune(self, table: str, before: datetime) -> int:
        if table == "alert_events":
            return await self._sweep(table, functools.partial(_events_step, before=before), 0)
        if table == "outbox":
            return await self._sweep(table, functools.partial(_outbox_step, before=before), None)
        limit = self._config.batch
        prune: Callable[[UnitOfWork], int] = {
            "webhook_deliveries": lambda uow: uow.prune_webhook_deliveries(before, limit),
            "near_misses": lambda uow: uow.prune_near_misses(before, limit),
        }[table]
        total = 0
        while True:
            deleted = await self._store.transact(prune, background=True)
            self._count(table, deleted)
            total += deleted
            if deleted < limit:
                return total
            await asyncio.sleep(0)  # other writers queued meanwhile go first

    async def _sweep(self, table: str, step: Step[C], start: C) -> int:
        """A sweep in index order: rows it keeps are passed over, not read again in the
        pass, so a pass reads each old row once however many are kept."""
        limit = self._config.batch
        total, after = 0, start
        while True:
            deleted, following = await self._store.transact(
                functools.partial(step, after=after, limit=limit), background=True
            )
            self._count(table, deleted)
            total += deleted
            if following is None:
                return total
            after = following
            await asyncio.sleep(0)

    def _count(self, table: str, deleted: int) -> None:
        if deleted:
            self._metrics.retention_pruned.labels(table).inc(deleted)
            log.debug("retention pruned", extra={"table": table, "rows": deleted})
