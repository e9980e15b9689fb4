"""Micro-benchmark of the webhook parse path (`parse_notification`), no server, no store.

    .venv/bin/python -m bench.parse                       # about 20 seconds
    .venv/bin/python -m bench.parse --compare OLD/payload.py

Bodies are the ingest benchmark's (bench/ingest/payload.py), 1 and 20 alerts, plus the same
20-alert body with a `generatorURL` as Go writes it (`&` as `\\u0026`, which every real
Alertmanager body has) and with a NUL in one annotation (the body that is cleaned). Each
figure is the best of `--repeat` timings of `--number` parses, in microseconds per body:
the best is the least disturbed by the other work of a shared machine.

`--compare` loads another version of `api/payload.py` (e.g. from `git show REV:...`) in
the same process and times the two in turn, round after round, so that a busy spell of the
machine falls on both alike; it prints both and the ratio.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import timeit
from collections.abc import Callable
from typing import Any

from firstresponder.api import payload

from .ingest.payload import PayloadFactory

GO_URL = b'"http://prometheus.bench:9090/graph?g0.expr=up\\u0026g0.tab=1"'
Parse = Callable[[bytes], Any]


def bodies() -> dict[str, bytes]:
    one = PayloadFactory(alerts=1, run="p").next_body()
    twenty = PayloadFactory(alerts=20, run="p").next_body()
    go = twenty.replace(b'"http://prometheus.bench:9090/graph"', GO_URL)
    nul = go.replace(b'"bench alert p-0-0-3"', b'"bench\\u0000alert"', 1)
    return {"1 alert": one, "20 alerts": twenty, "20 alerts, Go escapes": go, "20, one NUL": nul}


def load_other(path: str) -> Parse:
    """`parse_notification` of another payload.py, importing its neighbours from this tree."""
    spec = importlib.util.spec_from_file_location("firstresponder.api._payload_compared", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parse: Parse = module.parse_notification
    return parse


def best_us(parse: Parse, body: bytes, number: int) -> float:
    timer = timeit.Timer(functools.partial(parse, body))
    return timer.timeit(number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.parse", description=__doc__)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compare", metavar="PAYLOAD_PY", help="another api/payload.py")
    args = parser.parse_args()
    parsers: dict[str, Parse] = {"this": payload.parse_notification}
    if args.compare:
        parsers = {"other": load_other(args.compare), **parsers}
    print(f"{'body':<24} {'bytes':>7} " + " ".join(f"{n + ' us':>10}" for n in parsers), end="")
    print(f" {'this/other':>10}" if args.compare else "")
    for name, body in bodies().items():
        best = dict.fromkeys(parsers, float("inf"))
        for parse in parsers.values():
            parse(body)  # warm: compiled schema, caches
        for _ in range(args.repeat):
            for label, parse in parsers.items():
                best[label] = min(best[label], best_us(parse, body, args.number))
        cells = " ".join(f"{value:>10.1f}" for value in best.values())
        ratio = f" {best['this'] / best['other']:>10.3f}" if args.compare else ""
        print(f"{name:<24} {len(body):>7} {cells}{ratio}")


if __name__ == "__main__":
    main()
