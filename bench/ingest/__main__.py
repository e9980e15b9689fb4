"""`python -m bench.ingest`: run every target x payload size, print the table, save JSON."""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import UTC, datetime

from . import options, report
from .runner import Cell, measure_all, say


def main(argv: list[str] | None = None) -> int:
    opts = options.parse(argv)
    if shutil.which("wrk") is None:
        say("wrk not found: apt-get install -y wrk (or `make bench-ingest`)")
        return 2
    if opts.server_core is not None and shutil.which("taskset") is None:
        say("taskset not found: apt-get install -y util-linux (or pass --no-pin)")
        return 2
    load = os.getloadavg()[0]
    if load >= 1.0:
        say(f"warning: 1-minute load average is {load:.1f}; other work will add noise")
    started, clock = datetime.now(UTC), time.monotonic()
    cells: list[Cell] = measure_all(opts)
    print()
    print(report.table(cells, opts))
    print()
    for line in report.verdict_lines(cells, opts):
        print(line)
    path = report.write_json(cells, opts, started)
    print(f"\n{len(cells)} cells in {time.monotonic() - clock:.0f}s; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
