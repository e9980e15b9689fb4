"""`python -m bench.storm`: every store x replicas x N storm, the table, goals and JSON."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from ..ingest.runner import say
from . import report
from .cell import run_cell
from .figures import Figures
from .options import parse


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    load = os.getloadavg()[0]
    if load >= 1.0:
        say(f"warning: 1-minute load average is {load:.1f}; other work will add noise")
    started, clock = datetime.now(UTC), time.monotonic()
    cells: list[Figures] = []
    for store, replicas, services in opts.cells():
        say(f"[{store} x{replicas}, N={services}: {services * 5 * opts.copies:,} alerts]")
        try:
            cells.append(run_cell(opts, store, replicas, services))
        except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            say(f"  failed: {type(exc).__name__}: {exc}")
            cells.append(Figures.failed(store, replicas, services, f"{type(exc).__name__}: {exc}"))
    print()
    print(report.table(cells))
    print("\noutbox backlog (firstresponder_outbox_backlog, one sample per second):")
    for line in report.series_lines(cells):
        print(line)
    rows = report.growth(cells)
    if rows:
        print("\ngrowth per incident from the smallest N (x1.00: linear in N):")
        for line in report.growth_lines(rows):
            print(line)
    print("\ngoals:")
    for line in report.goal_lines(report.goals(cells)):
        print(line)
    path = report.write_json(cells, opts, started)
    print(f"\n{len(cells)} storms in {time.monotonic() - clock:.0f}s; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
