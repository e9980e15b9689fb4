"""Command-line options of `python -m bench.storm`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..ingest.servers import REPO

STORES = ("sqlite", "postgresql")
DEFAULT_SIZES = (200, 2000)


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...]
    stores: tuple[str, ...]
    replicas: tuple[int, ...]  # PostgreSQL only; SQLite always runs one
    senders: int
    copies: int
    ack_timeout: float
    storm_timeout: float
    eoc_wait: float
    imoc_grace: float
    slack_rate_scale: float
    postgres_url: str
    token: str
    results_dir: Path

    def cells(self) -> list[tuple[str, int, int]]:
        """(store, replicas, services) in the order run: small storms first."""
        return [
            (store, replicas, n)
            for n in self.sizes
            for store in self.stores
            for replicas in (self.replicas if store == "postgresql" else (1,))
        ]


def _csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _stores(text: str) -> tuple[str, ...]:
    chosen = tuple(part for part in text.split(",") if part)
    unknown = sorted(set(chosen) - set(STORES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown store(s) {unknown}; choose from {STORES}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.storm",
        description="An alert storm against the real daemon with fake PagerDuty and Slack.",
    )
    p.add_argument("--sizes", type=_csv_ints, help="services per storm (default 200,2000)")
    p.add_argument("--stores", type=_stores, default=STORES, help=",".join(STORES))
    p.add_argument("--replicas", type=_csv_ints, default=(1, 2), help="PostgreSQL replicas")
    p.add_argument("--senders", type=int, default=16, help="concurrent webhook senders")
    p.add_argument("--copies", type=int, default=2, help="times each notification is sent")
    p.add_argument("--ack-timeout", type=float, help="escalation.ack_timeout, seconds (60)")
    p.add_argument(
        "--storm-timeout", type=float, help="seconds the senders may take, then stop (120)"
    )
    p.add_argument(
        "--eoc-wait", type=float, help="seconds after the last webhook to wait for EOC pages (60)"
    )
    p.add_argument(
        "--imoc-grace",
        type=float,
        help="seconds after the last IMOC deadline to wait for IMOC pages (30)",
    )
    p.add_argument(
        "--slack-rate-scale",
        type=float,
        default=1.0,
        help="multiply the fake Slack's published rate limits (0: no limits)",
    )
    p.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL: a fresh database is created there per run and dropped after",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="N=200 only, ack_timeout 20s, shorter waits: a look in about 3 minutes",
    )
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    return p


def parse(argv: list[str] | None = None) -> Options:
    args = parser().parse_args(argv)
    quick = args.quick

    def pick(value: float | None, normal: float, short: float) -> float:
        return value if value is not None else (short if quick else normal)

    return Options(
        sizes=args.sizes or ((200,) if quick else DEFAULT_SIZES),
        stores=args.stores,
        replicas=args.replicas,
        senders=args.senders,
        copies=args.copies,
        ack_timeout=pick(args.ack_timeout, 60, 20),
        storm_timeout=pick(args.storm_timeout, 120, 60),
        eoc_wait=pick(args.eoc_wait, 60, 30),
        imoc_grace=pick(args.imoc_grace, 30, 15),
        slack_rate_scale=args.slack_rate_scale,
        postgres_url=args.postgres_url,
        token="bench-token",
        results_dir=args.results_dir,
    )
