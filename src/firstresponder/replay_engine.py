"""The daemon's engine on a simulated clock, for `firstresponder replay`.

The parts are the ones `app._lifecycle` wires (store, classifier, group engine, ingestor,
paging, escalation runner, scheduler, outbox dispatcher), on a throwaway SQLite file, so
a replay answers "what would this config have done" with the code that would do it.
What differs, and why:
- Pagers record what they are sent and accept it: a replay must never page anyone.
- No Prometheus: live SLO evaluation asks for today's numbers, not those of the recorded
  time, so classification is from labels. No Slack, no on-call lookup: each would reach
  the network, and neither decides who is paged.
- Time moves only when the replay says so. Between webhooks it jumps straight to the
  next moment something is due (a pending alert's `declare_after`, an escalation
  deadline, an outbox message) and runs the scheduler's pass there, as the daemon's
  one-second loop would have: one pass per thing that happens, not one per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .config import Config
from .dispatch import Dispatcher
from .domain.classify import LabelClassifier
from .domain.escalation import PageAction
from .domain.grouping import GroupEngine
from .domain.vocabulary import Role
from .escalations import EscalationRunner
from .ingest import Ingestor
from .metrics import Metrics
from .pagers.base import PageMessage, Pager
from .paging_wiring import build_paging
from .replay_agenda import Agenda
from .replay_input import RecordedWebhook
from .scheduler import Scheduler
from .store.sql import SqlStore

OWNER = "replay"  # the dispatcher's claim owner: one process, one dispatcher
# Passes at one instant before the replay gives up: each pass declares up to 100 groups
# and fires up to 200 deadlines, so only a bug (work due that never runs) gets here.
MAX_PASSES_AT_ONCE = 1000


class SimulatedClock:
    """The `Clock` port on recorded time: it moves when the replay moves it (or when a
    retry sleeps, which then costs no real time)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def move_to(self, when: datetime) -> None:
        """Forward only: the daemon's clock never runs backwards either."""
        self._now = max(self._now, when)

    async def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class SentPage:
    """One message a pager was handed: when, for which incident, to whom, and why."""

    at: datetime
    incident_id: int
    role: Role
    target: str
    action: PageAction
    reason: str


class RecordingPager:
    """A `Pager` that accepts every message and remembers it, instead of paging a person."""

    def __init__(self, name: str, clock: SimulatedClock, sent: list[SentPage]) -> None:
        self.name = name
        self._clock = clock
        self._sent = sent

    async def send(self, message: PageMessage) -> str | None:
        reason = str(message.payload.get("reason", ""))
        self._sent.append(
            SentPage(
                self._clock.now(),
                message.incident_id,
                message.role,
                message.target,
                message.action,
                reason,
            )
        )
        return None

    async def close(self) -> None:
        return None


def recording_pagers(
    config: Config, clock: SimulatedClock, sent: list[SentPage]
) -> dict[str, Pager]:
    """A recording pager under every target name `escalation.targets` uses."""
    names = {name for targets in config.paging.targets.values() for name in targets}
    return {name: RecordingPager(name, clock, sent) for name in sorted(names)}


class ReplayEngine:
    """Feed it webhooks in time order, then `run_until` the end; what happened is in
    `store` and `pages`."""

    def __init__(self, config: Config, store: SqlStore, agenda: Agenda, start: datetime) -> None:
        self.store = store
        self.clock = SimulatedClock(start)
        self.pages: list[SentPage] = []
        self._agenda = agenda
        metrics = Metrics()
        paging = build_paging(config)
        classifier = LabelClassifier(config.rules, config.classification)
        self._ingestor = Ingestor(
            store, classifier, GroupEngine(config.severity_map), self.clock, metrics, paging=paging
        )
        self._dispatcher = Dispatcher(
            store,
            recording_pagers(config, self.clock, self.pages),
            self.clock,
            metrics,
            owner=OWNER,
            settings=config.paging.delivery,
        )
        runner = EscalationRunner(store, paging, self.clock, metrics) if paging else None
        self._scheduler = Scheduler(
            self._ingestor,
            store,
            self.clock,
            metrics,
            escalations=runner,
            dispatcher=self._dispatcher,
        )

    async def feed(self, webhook: RecordedWebhook) -> None:
        """Run what fell due before the webhook arrived, then take it as the daemon would.

        The pages and deadlines it causes are due at once or later: the next `run_until`
        delivers them at this same instant, so no scheduler pass is spent here.
        """
        await self.run_until(webhook.at)
        self.clock.move_to(webhook.at)
        await self._ingestor.submit(webhook.notification)

    async def run_until(self, until: datetime) -> None:
        """Every scheduler pass that would have done something up to `until`, in order."""
        passes, last = 0, None
        while (due := self._agenda.next_due()) is not None and due <= until:
            self.clock.move_to(due)
            now = self.clock.now()
            passes = passes + 1 if now == last else 1
            if passes > MAX_PASSES_AT_ONCE:  # a bug would otherwise spin here for ever
                raise RuntimeError(f"replay stuck at {now.isoformat()}: work due does not run")
            last = now
            await self._settle()
        self.clock.move_to(until)

    async def close(self) -> None:
        await self._ingestor.drain()

    async def _settle(self) -> None:
        """One scheduler pass now, then deliver everything the outbox holds."""
        await self._scheduler.tick()
        while await self._dispatcher.pass_once():
            pass


@contextlib.asynccontextmanager
async def replay_engine(config: Config, start: datetime) -> AsyncIterator[ReplayEngine]:
    """An engine on its own SQLite file in a temporary directory, never the configured
    store: a replay must not touch the daemon's data."""
    with tempfile.TemporaryDirectory(prefix="firstresponder-replay-") as directory:
        url = f"sqlite:///{Path(directory) / 'replay.db'}"
        store = SqlStore(url)
        try:
            await store.migrate()
            with Agenda(url) as agenda:
                engine = ReplayEngine(config, store, agenda, start)
                try:
                    yield engine
                finally:
                    await engine.close()
        finally:
            await store.close()
