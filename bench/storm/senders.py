"""The storm itself: every service's notification, twice, from concurrent senders.

    python -m bench.storm.senders --urls URL[,URL2] --services 2000 --senders 16

Closed loop, like Alertmanager's notifiers: each sender posts the next notification as
soon as its previous one is answered. The two copies of a notification are queued next
to each other, so two senders post them at the same moment, as an HA pair does when its
gossip has not caught up. With several URLs (replicas) requests go round robin.
After `--timeout` seconds the senders stop; what was not sent is counted, not hidden.
Prints one JSON object (`StormLoad`) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp

from .payload import ALERTS_PER_SERVICE, notification


@dataclass
class Sample:
    service: int
    sent: float  # time.time()
    done: float
    outcome: str  # the status code, or an exception's name

    @property
    def ok(self) -> bool:
        return self.outcome.isdigit() and 200 <= int(self.outcome) < 300


@dataclass(frozen=True)
class StormLoad:
    notifications: int  # the whole storm: services x copies
    sent: int
    answered_2xx: int
    not_2xx: int
    not_sent: int
    alerts_accepted: int
    first_sent: float  # time.time(); 0 when nothing was sent
    last_done: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    services_accepted: int  # services with at least one 2xx
    timed_out: bool
    not_2xx_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(0.0, self.last_done - self.first_sent)

    @property
    def alerts_per_s(self) -> float:
        return self.alerts_accepted / self.seconds if self.seconds > 0 else 0.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


async def _worker(
    session: aiohttp.ClientSession,
    queue: deque[tuple[int, bytes]],
    urls: itertools.cycle[str],
    headers: dict[str, str],
    samples: list[Sample],
) -> None:
    while queue:
        service, body = queue.popleft()
        sent = time.time()
        try:
            async with session.post(next(urls), data=body, headers=headers) as response:
                await response.read()
                outcome = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = type(exc).__name__
        samples.append(Sample(service, sent, time.time(), outcome))


async def run(args: argparse.Namespace) -> StormLoad:
    starts_at = datetime.now(UTC) - timedelta(minutes=1)
    queue: deque[tuple[int, bytes]] = deque()
    for index in range(args.services):
        body = notification(args.run_id, index, starts_at)
        queue.extend((index, body) for _ in range(args.copies))
    total = len(queue)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
    urls = itertools.cycle(args.urls.split(","))
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=args.senders)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        workers = [
            asyncio.create_task(_worker(session, queue, urls, headers, samples))
            for _ in range(args.senders)
        ]
        _, pending = await asyncio.wait(workers, timeout=args.timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return summarize(samples, total, timed_out=bool(pending))


def summarize(samples: list[Sample], total: int, *, timed_out: bool) -> StormLoad:
    good = [s for s in samples if s.ok]
    latencies = [(s.done - s.sent) * 1000 for s in samples]
    return StormLoad(
        notifications=total,
        sent=len(samples),
        answered_2xx=len(good),
        not_2xx=len(samples) - len(good),
        not_sent=total - len(samples),
        alerts_accepted=len(good) * ALERTS_PER_SERVICE,
        first_sent=min((s.sent for s in samples), default=0.0),
        last_done=max((s.done for s in samples), default=0.0),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
        services_accepted=len({s.service for s in good}),
        timed_out=timed_out,
        not_2xx_kinds=dict(Counter(s.outcome for s in samples if not s.ok)),
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.storm.senders", description=__doc__)
    p.add_argument("--urls", required=True, help="webhook URL(s), comma-separated")
    p.add_argument("--services", type=int, required=True)
    p.add_argument("--copies", type=int, default=2, help="times each notification is sent")
    p.add_argument("--senders", type=int, default=16)
    p.add_argument("--token", default="bench-token")
    p.add_argument("--run-id", default="storm")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds for the whole storm")
    p.add_argument("--request-timeout", type=float, default=30.0)
    return p


def main() -> None:
    result = asyncio.run(run(parser().parse_args()))
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
