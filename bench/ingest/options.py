"""Command-line options of `python -m bench.ingest`."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from .servers import REPO, TARGETS


@dataclass(frozen=True)
class Options:
    duration: float
    warmup: float
    rounds: int
    rate: float
    rate_duration: float
    sizes: tuple[int, ...]
    targets: tuple[str, ...]
    threads: int
    connections: int
    pool: int
    server_core: int | None
    load_core: int | None
    token: str
    results_dir: Path


def _csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _targets(text: str) -> tuple[str, ...]:
    chosen = tuple(part for part in text.split(",") if part)
    unknown = sorted(set(chosen) - set(TARGETS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown target(s) {unknown}; choose from {TARGETS}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Webhook ingest throughput/latency: firstresponder vs bare aiohttp baselines.",
    )
    p.add_argument("--duration", type=float, default=8, help="seconds per max-throughput run")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="max-throughput runs per cell, targets taken in turn; the median is reported",
    )
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each run")
    p.add_argument("--rate", type=float, default=500, help="alerts/s of the fixed-rate run")
    p.add_argument("--rate-duration", type=float, help="seconds of the fixed-rate run")
    p.add_argument("--sizes", type=_csv_ints, default=(1, 20), help="alerts per request")
    p.add_argument("--targets", type=_targets, default=TARGETS, help=",".join(TARGETS))
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--connections", type=int, default=16, help="wrk connections")
    p.add_argument(
        "--fingerprint-pool",
        type=int,
        default=0,
        help="reuse this many fingerprints per wrk thread with new startsAt (0: all unique)",
    )
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--load-core", type=int, default=1)
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    return p


def parse(argv: list[str] | None = None) -> Options:
    p = parser()
    args = p.parse_args(argv)
    pin = not args.no_pin
    if pin:
        allowed = os.sched_getaffinity(0)
        wanted = {args.server_core, args.load_core}
        if not wanted <= allowed or args.server_core == args.load_core:
            p.error(f"need two distinct cores from {sorted(allowed)} (or --no-pin)")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        rounds=max(1, args.rounds),
        rate=args.rate,
        rate_duration=args.rate_duration or args.duration,
        sizes=args.sizes,
        targets=args.targets,
        threads=args.threads,
        connections=args.connections,
        pool=args.fingerprint_pool,
        server_core=args.server_core if pin else None,
        load_core=args.load_core if pin else None,
        token="bench-token",
        results_dir=args.results_dir,
    )
