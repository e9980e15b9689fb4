"""Open-loop, fixed-rate load generator (wrk cannot hold a rate and wrk2 is not packaged).

    python -m bench.ingest.loadgen --url URL --rate 25 --duration 10 --alerts 20

Requests are scheduled at start + i/rate whatever the server does; latency is measured
from the scheduled time, not the send time, so a stalled server cannot hide its queue
(no coordinated omission). The first `--warmup` seconds are sent but not recorded.
Prints one JSON object (see `LoadResult`) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections import Counter
from dataclasses import asdict, dataclass

import aiohttp

from .payload import PayloadFactory


@dataclass(frozen=True)
class Sample:
    due: float
    sent: float
    done: float
    outcome: str  # "200", another status code, or an exception's name

    @property
    def ok(self) -> bool:
        return self.outcome == "200"


@dataclass(frozen=True)
class LoadResult:
    target_req_s: float
    achieved_req_s: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    service_p99_ms: float
    error_kinds: dict[str, int]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


async def _send(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], due: float
) -> Sample:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            outcome = str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        outcome = type(exc).__name__
    return Sample(due, sent, loop.time(), outcome)


async def run(args: argparse.Namespace) -> LoadResult:
    factory = PayloadFactory(args.alerts, args.run_id, pool=args.pool)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
    total = int((args.warmup + args.duration) * args.rate)
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = loop.time() + 0.05
        tasks: list[asyncio.Task[Sample]] = []
        for i in range(total):
            due = start + i / args.rate
            body = factory.next_body()
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, args.url, body, headers, due)))
        samples = await asyncio.gather(*tasks)
    return summarize(samples, start + args.warmup, args.rate)


def summarize(samples: list[Sample], measure_from: float, rate: float) -> LoadResult:
    measured = [s for s in samples if s.due >= measure_from]
    good = [s for s in measured if s.ok]
    latencies = [(s.done - s.due) * 1000 for s in good]
    service = [(s.done - s.sent) * 1000 for s in good]
    span = (max(s.done for s in measured) - measure_from) if measured else 0.0
    return LoadResult(
        target_req_s=rate,
        achieved_req_s=len(good) / span if span > 0 else 0.0,
        requests=len(measured),
        errors=len(measured) - len(good),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
        service_p99_ms=percentile(service, 99),
        error_kinds=dict(Counter(s.outcome for s in measured if not s.ok)),
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.ingest.loadgen", description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True, help="requests per second")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds first")
    p.add_argument("--alerts", type=int, default=1, help="alerts per request")
    p.add_argument("--token", default="bench-token")
    p.add_argument("--run-id", default="f")
    p.add_argument("--pool", type=int, default=0, help="fingerprint pool (0: all unique)")
    p.add_argument("--connections", type=int, default=256)
    p.add_argument("--timeout", type=float, default=30.0)
    return p


def main() -> None:
    result = asyncio.run(run(parser().parse_args()))
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
