"""Micro-benchmark of the webhook parse path (`parse_notification`), no server, no store.

    .venv/bin/python -m bench.parse            # about 20 seconds

Bodies are the ingest benchmark's (bench/ingest/payload.py), 1 and 20 alerts, plus the same
20-alert body with a `generatorURL` as Go writes it (`&` as `\\u0026`, which every real
Alertmanager body has) and with a NUL in one annotation (the body that is cleaned). Each
figure is the best of `--repeat` timings of `--number` parses, in microseconds per body:
the best is the least disturbed by the other work of a shared machine.
"""

from __future__ import annotations

import argparse
import functools
import timeit

from firstresponder.api.payload import parse_notification

from .ingest.payload import PayloadFactory

GO_URL = b'"http://prometheus.bench:9090/graph?g0.expr=up\\u0026g0.tab=1"'


def bodies() -> dict[str, bytes]:
    one = PayloadFactory(alerts=1, run="p").next_body()
    twenty = PayloadFactory(alerts=20, run="p").next_body()
    go = twenty.replace(b'"http://prometheus.bench:9090/graph"', GO_URL)
    nul = go.replace(b'"bench alert p-0-0-3"', b'"bench\\u0000alert"', 1)
    return {"1 alert": one, "20 alerts": twenty, "20 alerts, Go escapes": go, "20, one NUL": nul}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.parse", description=__doc__)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'body':<24} {'bytes':>7} {'us/body':>9}")
    for name, body in bodies().items():
        parse_notification(body)  # warm: compiled schema, caches
        timer = timeit.Timer(functools.partial(parse_notification, body))
        best = min(timer.repeat(number=args.number, repeat=args.repeat))
        print(f"{name:<24} {len(body):>7} {best / args.number * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
