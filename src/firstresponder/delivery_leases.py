"""Keep a claimed batch's leases while it is being delivered, and deliver it in page order.

A claim is a short lease (`escalation.delivery.lease`, 10 s by default), so a message held
by a dispatcher that died (kill -9, a lost node) is free again within seconds. While a
delivery is in progress (waiting for a slot, in its quick retries, in a slow call), the
`LeaseKeeper` of its batch renews the lease every third of it, each renewal its own short
transaction that extends `claimed_until` only where this dispatcher is still the owner. A
message the renewal did not keep was taken over by another dispatcher after the lease ran
out (this process was stalled, or the store did not answer for a whole lease): its
delivery learns it lost the message and makes no further attempt and no further write.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta

from .clock import Clock
from .metrics import Metrics
from .store.ports import ClaimedMessage, Store

log = logging.getLogger(__name__)

# How the keeper waits between renewals. Wall-clock time by default whatever the
# dispatcher's clock is: other replicas see a lease run out in real seconds (tests that
# drive a fake clock pass a sleep they control).
Sleep = Callable[[float], Awaitable[None]]


class LeaseLost(Exception):
    """Another dispatcher took the message over: stop delivering it here."""


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        *,
        owner: str,
        lease: timedelta,
        channel: str,
        message_ids: Iterable[int],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._lease = lease
        self._channel = channel
        self._sleep = sleep
        self._held = set(message_ids)
        self._lost: set[int] = set()

    def lost(self, message_id: int) -> bool:
        return message_id in self._lost

    def check(self, message_id: int) -> None:
        """Raise `LeaseLost` if the message is no longer ours to deliver."""
        if message_id in self._lost:
            raise LeaseLost(message_id)

    def release(self, message_id: int) -> None:
        """The delivery is over (finished, given back or abandoned): stop renewing it."""
        self._held.discard(message_id)

    async def keep(self) -> None:
        """Renew every third of the lease until cancelled (when the batch is done)."""
        every = self._lease.total_seconds() / 3
        while True:
            await self._sleep(every)
            try:
                await self.renew_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be down: try again; the lease has 2 more thirds
                self._metrics.lease_renewals.labels(self._channel, "failed").inc()
                log.exception("outbox lease renewal failed", extra={"channel": self._channel})

    async def renew_once(self) -> None:
        ids = set(self._held)
        if not ids:
            return
        until = self._clock.now() + self._lease
        kept = await self._store.transact(lambda uow: uow.renew_outbox(ids, self._owner, until))
        gone = (ids - kept) & self._held  # a delivery that ended meanwhile is not lost
        self._metrics.lease_renewals.labels(self._channel, "renewed").inc(len(kept))
        if gone:
            self._metrics.lease_renewals.labels(self._channel, "lost").inc(len(gone))
            self._lost |= gone
            self._held -= gone
            log.warning(
                "outbox lease lost: another dispatcher has taken the messages over",
                extra={"channel": self._channel, "message_ids": sorted(gone)},
            )


def in_page_order(claimed: Sequence[ClaimedMessage]) -> list[list[list[ClaimedMessage]]]:
    """A batch as independent lanes (one per incident and target) of waves: the waves of a
    lane go out one after the other, oldest first; the messages of a wave (written together,
    as S1's pages to every role) and the lanes go out at once.

    So the EOC page retaken after a crash is tried before the escalation written after it.
    """
    lanes: dict[tuple[int, str], list[ClaimedMessage]] = {}
    for item in claimed:
        lanes.setdefault((item.message.incident_id, item.message.target), []).append(item)
    return [
        [
            list(wave)
            for _, wave in itertools.groupby(
                sorted(lane, key=lambda c: (c.created_at, c.message.id)),
                key=lambda c: c.created_at,
            )
        ]
        for lane in lanes.values()
    ]
