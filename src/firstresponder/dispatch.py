"""Deliver the outbox: claim due messages, send each through its pager, record the result.

Retrying belongs here (tenacity): a few quick attempts with exponential backoff and
jitter, `Retry-After` honoured on 429; then the claim is given back with a later
`next_attempt_at`, so a vendor outage delays pages but never loses them. A 4xx other than
429 is a permanent failure: on the timeline, in the metrics, not retried. Delivery is
at-least-once; the dedup_key makes a repeated trigger the same vendor incident.

A claim is a short lease renewed while the delivery is in progress (`delivery_leases`), so
a message held by a dispatcher that died is retaken within seconds; a batch goes out in
page order, so an incident's EOC page is tried before an escalation written after it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from .clock import Clock
from .config_paging import DeliverySettings
from .delivery_leases import LeaseKeeper, LeaseLost, Sleep, in_page_order
from .domain.escalation import PageAction
from .domain.incident import TimelineEntry
from .metrics import CHANNELS, Metrics
from .pagers.base import (
    PageMessage,
    Pager,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from .paging import PAGER
from .store.ports import ClaimedMessage, Database, UnitOfWork

log = logging.getLogger(__name__)

# Called after a trigger reached a role's pager (the on-call lookup records names).
PagedHook = Callable[[PageMessage], Awaitable[None]]
# Called in the transaction that writes a delivery's timeline entry (Slack posts it).
EntryHook = Callable[[UnitOfWork, int, TimelineEntry, datetime], None]


class DeliveryTexts(Protocol):
    """What a channel's deliveries say on the timeline and count in the metrics."""

    def delivered(
        self, message: PageMessage, attempts: int, reference: str | None, now: datetime
    ) -> TimelineEntry | None: ...

    def failed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        """A permanent failure (not retried)."""

    def delayed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        """The first transient failure of a message (it is retried until delivered)."""

    def count(self, message: PageMessage, result: str) -> None:
        """`result` is "delivered" or "failed"."""


class _RetryAfterOrBackoff(wait_base):
    """Wait what a 429 (or 503) asked for; otherwise exponential backoff with jitter."""

    def __init__(self, settings: DeliverySettings) -> None:
        self._backoff = wait_exponential_jitter(
            initial=settings.initial_wait.total_seconds(),
            max=settings.max_inline_wait.total_seconds(),
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        asked = _retry_after(retry_state)
        return asked if asked is not None else self._backoff(retry_state)


class _AskedTooLong(stop_base):
    """Stop the quick attempts when the vendor asks for a longer pause than is worth
    holding a claim (and a delivery slot) for: the message goes back to the outbox."""

    def __init__(self, limit: timedelta) -> None:
        self._limit = limit.total_seconds()

    def __call__(self, retry_state: RetryCallState) -> bool:
        asked = _retry_after(retry_state)
        return asked is not None and asked > self._limit


def _retry_after(retry_state: RetryCallState) -> float | None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    return error.retry_after if isinstance(error, TransientDeliveryError) else None


class Dispatcher:
    def __init__(
        self,
        store: Database,
        pagers: Mapping[str, Pager],
        clock: Clock,
        metrics: Metrics,
        *,
        owner: str,
        settings: DeliverySettings | None = None,
        on_paged: PagedHook | None = None,
        channel: str = PAGER,
        texts: DeliveryTexts | None = None,
        on_entry: EntryHook | None = None,
        renew_sleep: Sleep = asyncio.sleep,
    ) -> None:
        """One dispatcher per outbox channel, so a slow or failing channel (Slack) never
        holds the delivery slots of another (pages).

        `owner` must be unique to this process start (`paging_wiring.dispatcher_owner`):
        a restarted daemon must not take its dead predecessor's claims for its own.
        """
        self._renew_sleep = renew_sleep
        self._channel = channel
        self._on_entry = on_entry
        self._texts = texts or PagerTexts(metrics)
        self._store = store
        self._pagers = pagers
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._settings = settings or DeliverySettings()
        self._on_paged = on_paged
        self._slots = asyncio.Semaphore(self._settings.concurrency)
        self._woken = asyncio.Event()

    async def pass_once(self) -> int:
        """Deliver what is due now; returns how many messages were handled."""
        now, s = self._clock.now(), self._settings
        claimed = await self._store.transact(
            lambda uow: uow.claim_outbox(self._owner, now, s.lease, s.batch, self._channel),
            background=True,
        )
        if claimed:
            await self._deliver_batch(claimed)
        return len(claimed)

    async def _deliver_batch(self, claimed: list[ClaimedMessage]) -> None:
        keeper = LeaseKeeper(
            self._store,
            self._clock,
            self._metrics,
            owner=self._owner,
            lease=self._settings.lease,
            channel=self._channel,
            message_ids=[c.message.id for c in claimed],
            sleep=self._renew_sleep,
        )
        renewing = asyncio.create_task(keeper.keep())
        try:
            # Every lane runs to its end under renewal, even when another fails (the
            # store went away while recording a result): then the first error is raised.
            results = await asyncio.gather(
                *(self._deliver_lane(lane, keeper) for lane in in_page_order(claimed)),
                return_exceptions=True,
            )
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _deliver_lane(self, lane: list[list[ClaimedMessage]], keeper: LeaseKeeper) -> None:
        for wave in lane:
            await asyncio.gather(*(self._deliver(item, keeper) for item in wave))

    async def refresh_gauges(self) -> None:
        """Outbox backlog and oldest pending age (the scheduler's tick calls this)."""
        stats = await self._store.outbox_stats(CHANNELS)
        now = self._clock.now()
        for channel in CHANNELS:
            backlog, oldest = stats.get(channel, (0, None))
            age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            self._metrics.set_outbox(channel, backlog, age)

    async def _deliver(self, claimed: ClaimedMessage, keeper: LeaseKeeper) -> None:
        try:
            async with self._slots:
                await self._attempt(claimed, keeper)
        finally:
            keeper.release(claimed.message.id)

    async def _attempt(self, claimed: ClaimedMessage, keeper: LeaseKeeper) -> None:
        message = claimed.message
        pager = self._pagers.get(message.target)
        tries = 0
        try:
            if pager is None:
                raise PermanentDeliveryError(f"pager target {message.target!r} is not configured")
            async for attempt in self._retrying(claimed.channel):
                with attempt:
                    keeper.check(message.id)  # never try again a message another has taken
                    tries += 1
                    reference = await pager.send(message)
        except LeaseLost:
            self._abandoned(claimed, tries)
        except PermanentDeliveryError as exc:
            if keeper.lost(message.id):  # the new owner records what its own try gets
                self._abandoned(claimed, tries)
            else:
                await self._failed(claimed, tries, str(exc))
        except TransientDeliveryError as exc:
            await self._later(claimed, tries, exc, keeper)
        except Exception as exc:  # a bug in a pager must not stop the other pages
            log.exception("pager crashed", extra={"target": message.target})
            await self._later(claimed, tries, TransientDeliveryError(type(exc).__name__), keeper)
        else:
            # Delivered is the truth even if the lease was lost meanwhile: the first finish
            # wins (finish_outbox), and the other dispatcher's finish then changes nothing.
            await self._delivered(claimed, tries, reference)

    def _abandoned(self, claimed: ClaimedMessage, tries: int) -> None:
        log.warning(
            "delivery abandoned: another dispatcher took the message over",
            extra={
                "channel": claimed.channel,
                "incident_id": claimed.message.incident_id,
                "target": claimed.message.target,
                "attempts": tries,
            },
        )

    def _retrying(self, channel: str) -> AsyncRetrying:
        s = self._settings

        def count(_: RetryCallState) -> None:
            self._metrics.delivery_failures.labels(channel, "transient").inc()

        return AsyncRetrying(
            stop=stop_after_attempt(s.attempts) | _AskedTooLong(s.max_inline_wait),
            wait=_RetryAfterOrBackoff(s),
            retry=retry_if_exception_type(TransientDeliveryError),
            sleep=self._clock.sleep,
            before_sleep=count,
            reraise=True,
        )

    async def _delivered(self, claimed: ClaimedMessage, tries: int, reference: str | None) -> None:
        message, now = claimed.message, self._clock.now()
        attempts = tries + claimed.attempts
        entry = self._texts.delivered(message, attempts, reference, now)
        finished = await self._finish(claimed, tries, now, reference=reference, entry=entry)
        self._texts.count(message, "delivered")
        log.info(
            "delivered",
            extra={
                "channel": claimed.channel,
                "incident_id": message.incident_id,
                "target": message.target,
                "role": message.role.value,
                "action": message.action.value,
                "attempts": attempts,
            },
        )
        if finished and message.action is PageAction.TRIGGER and self._on_paged is not None:
            try:
                await self._on_paged(message)
            except Exception:  # advisory (who is on call): never undo a delivered page
                log.exception("on-call lookup failed", extra={"incident_id": message.incident_id})

    async def _failed(self, claimed: ClaimedMessage, tries: int, error: str) -> None:
        message, now = claimed.message, self._clock.now()
        entry = self._texts.failed(message, tries + claimed.attempts, error, now)
        await self._finish(claimed, tries, now, error=error, entry=entry, failed=True)
        self._metrics.delivery_failures.labels(claimed.channel, "permanent").inc()
        self._texts.count(message, "failed")
        log.error(
            "delivery failed permanently",
            extra={
                "channel": claimed.channel,
                "incident_id": message.incident_id,
                "target": message.target,
                "error": error,
            },
        )

    async def _later(
        self,
        claimed: ClaimedMessage,
        tries: int,
        error: TransientDeliveryError,
        keeper: LeaseKeeper,
    ) -> None:
        """Give the claim back with a later attempt time; note the first delay on the timeline."""
        message, now, s = claimed.message, self._clock.now(), self._settings
        self._metrics.delivery_failures.labels(claimed.channel, "transient").inc()
        if keeper.lost(message.id):
            self._abandoned(claimed, tries)
            return
        total = claimed.attempts + tries
        backoff = min(
            s.max_backoff.total_seconds(),
            s.initial_wait.total_seconds() * 2 ** min(total, 20),
        ) * random.uniform(0.5, 1.0)
        wait = max(backoff, error.retry_after or 0.0)
        next_at = now + timedelta(seconds=wait)
        first = claimed.attempts == 0
        entry = self._texts.delayed(message, total, str(error), now) if first else None

        def give_back(uow: UnitOfWork) -> None:
            held = uow.retry_outbox(
                message.id, self._owner, next_at=next_at, attempts=tries, error=str(error)
            )
            if held and entry is not None:
                uow.add_entries(message.incident_id, [entry])
                if self._on_entry is not None:
                    self._on_entry(uow, message.incident_id, entry, now)

        await self._store.transact(give_back, background=True)
        log.warning(
            "delivery failing, will retry",
            extra={
                "channel": claimed.channel,
                "incident_id": message.incident_id,
                "target": message.target,
                "error": str(error),
                "retry_in_s": round(wait, 1),
            },
        )

    async def _finish(
        self,
        claimed: ClaimedMessage,
        tries: int,
        now: datetime,
        *,
        reference: str | None = None,
        error: str | None = None,
        entry: TimelineEntry | None = None,
        failed: bool = False,
    ) -> bool:
        message = claimed.message

        def finish(uow: UnitOfWork) -> bool:
            done = uow.finish_outbox(
                message.id,
                failed=failed,
                now=now,
                attempts=tries,
                reference=reference,
                error=error,
                entry=entry,
                incident_id=message.incident_id,
            )
            if done and entry is not None and self._on_entry is not None:
                self._on_entry(uow, message.incident_id, entry, now)
            return done

        return await self._store.transact(finish, background=True)

    @property
    def woken(self) -> bool:
        """A wake is pending: the next idle interval will be skipped."""
        return self._woken.is_set()

    def wake(self) -> None:
        """Something was just committed to this channel: pass now, not at the next interval
        (an escalation's IMOC page would otherwise wait up to a second for no reason)."""
        self._woken.set()

    async def run(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                while await self.pass_once() >= self._settings.batch:
                    pass  # a full batch: there may be more due right now
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be down; keep trying, pages wait in the outbox
                log.exception("outbox dispatch pass failed")
            await self._idle(interval_s)

    async def _idle(self, interval_s: float) -> None:
        """The interval on the clock, or less if `wake` is called meanwhile."""
        if not self._woken.is_set():
            sleeping = asyncio.ensure_future(self._clock.sleep(interval_s))
            woken = asyncio.ensure_future(self._woken.wait())
            try:
                await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (sleeping, woken):
                    waiting.cancel()
        self._woken.clear()


class PagerTexts:
    """Pages: `paged`, `page_failed` and `page_delayed` on the timeline; `pages_total`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def delivered(
        self, message: PageMessage, attempts: int, reference: str | None, now: datetime
    ) -> TimelineEntry | None:
        if message.action is not PageAction.TRIGGER:
            return None
        return TimelineEntry(
            now,
            "paged",
            f"{message.role.value.upper()} paged through {message.target}: "
            f"{message.payload.get('reason', '')}",
            data=_data(message, attempts),
        )

    def failed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        return TimelineEntry(
            now,
            "page_failed",
            f"{message.action.value.capitalize()} of {message.role.value.upper()} through "
            f"{message.target} failed for good: {error}",
            data={**_data(message, attempts), "error": error},
        )

    def delayed(
        self, message: PageMessage, attempts: int, error: str, now: datetime
    ) -> TimelineEntry:
        return TimelineEntry(
            now,
            "page_delayed",
            f"{message.action.value.capitalize()} of {message.role.value.upper()} through "
            f"{message.target} is failing ({error}); retrying until it is delivered",
            data={**_data(message, attempts), "error": error},
        )

    def count(self, message: PageMessage, result: str) -> None:
        self._metrics.pages.labels(message.target, message.action.value, result).inc()


def _data(message: PageMessage, attempts: int) -> dict[str, Any]:
    return {
        "role": message.role.value,
        "target": message.target,
        "action": message.action.value,
        "dedup_key": message.dedup_key,
        "attempts": attempts,
    }
