"""The results table, the goal verdict, and the JSON file under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .options import Options
from .runner import Cell
from .servers import LABELS

GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0
METHOD = {
    "max_throughput": "wrk (Debian) with bench/ingest/ingest.lua, closed loop; req/s counts 200 answers only",
    "fixed_rate": "wrk2 is not packaged for Debian, so bench/ingest/loadgen.py: aiohttp client in its own "
    "process, open-loop schedule, latency measured from each request's scheduled send time",
    "servers": "fresh temp dir and database per run; server pinned to one core, load generator to another",
    "rounds": "max throughput is run `rounds` times per cell, the targets in turn; the median "
    "round by req/s is reported; server CPU is user+system time from /proc during the measured run",
}


def ratio(cell: Cell, cells: list[Cell]) -> float | None:
    durable = next((c for c in cells if c.target == "sqlite" and c.alerts == cell.alerts), None)
    if durable is None or durable.alerts_s == 0:
        return None
    return cell.alerts_s / durable.alerts_s


def cpu_ratio(cell: Cell, cells: list[Cell]) -> float | None:
    """Server CPU per request relative to the durable baseline's (2.0: twice its cost).

    Less exposed than throughput to what else the machine is doing: time the server waits
    for a core another guest holds is not CPU it spends."""
    durable = next((c for c in cells if c.target == "sqlite" and c.alerts == cell.alerts), None)
    if durable is None or durable.cpu_us_per_request == 0:
        return None
    return cell.cpu_us_per_request / durable.cpu_us_per_request


def goal(cells: list[Cell]) -> list[dict[str, Any]]:
    verdicts = []
    for cell in cells:
        if cell.target != "firstresponder":
            continue
        r = ratio(cell, cells)
        fixed = cell.fixed
        verdicts.append(
            {
                "alerts_per_request": cell.alerts,
                "ratio_to_durable": r,
                "ratio_ok": r is not None and r >= GOAL_RATIO,
                "p99_ms_at_rate": fixed.p99_ms,
                "p99_ok": fixed.p99_ms < GOAL_P99_MS and fixed.errors == 0,
            }
        )
    return verdicts


def table(cells: list[Cell], opts: Options) -> str:
    head = (
        f"{'target':<26}{'alerts/req':>10}{'req/s':>10}{'alerts/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'vs durable':>11}{'cpu us/req':>11}{'cpu x':>7}"
        f"{f'@{opts.rate:g}/s p50':>14}{f'@{opts.rate:g}/s p99':>14}{'errors':>8}"
    )
    lines = [head, "-" * len(head)]
    for cell in cells:
        r, c = ratio(cell, cells), cpu_ratio(cell, cells)
        peak, fixed = cell.peak, cell.fixed
        lines.append(
            f"{LABELS[cell.target]:<26}{cell.alerts:>10}{cell.req_s:>10,.0f}{cell.alerts_s:>10,.0f}"
            f"{peak.p50_ms:>9.2f}{peak.p99_ms:>9.2f}{peak.errors:>8}"
            f"{(f'{r:.0%}' if r is not None else '-'):>11}"
            f"{cell.cpu_us_per_request:>11.0f}{(f'{c:.2f}' if c is not None else '-'):>7}"
            f"{fixed.p50_ms:>14.2f}{fixed.p99_ms:>14.2f}{fixed.errors:>8}"
        )
    return "\n".join(lines)


def verdict_lines(cells: list[Cell], opts: Options) -> list[str]:
    lines = []
    for v in goal(cells):
        r = v["ratio_to_durable"]
        shown = f"{r:.0%}" if r is not None else "n/a"
        lines.append(
            f"goal, {v['alerts_per_request']} alert(s)/request: alerts/s vs durable baseline "
            f"{shown} (need >= {GOAL_RATIO:.0%}) {'PASS' if v['ratio_ok'] else 'FAIL'}; "
            f"p99 at {opts.rate:g} alerts/s {v['p99_ms_at_rate']:.1f} ms "
            f"(need < {GOAL_P99_MS:g} ms) {'PASS' if v['p99_ok'] else 'FAIL'}"
        )
    return lines


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


def write_json(cells: list[Cell], opts: Options, started: datetime) -> Path:
    opts.results_dir.mkdir(parents=True, exist_ok=True)
    path = opts.results_dir / f"ingest-{started.strftime('%Y%m%dT%H%M%S')}.json"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    settings.pop("token")
    document = {
        "started": started.isoformat(),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "wrk": _wrk_version(),
        },
        "settings": settings,
        "method": METHOD,
        "results": [
            {
                "target": cell.target,
                "label": LABELS[cell.target],
                "alerts_per_request": cell.alerts,
                "req_s": cell.req_s,
                "alerts_s": cell.alerts_s,
                "ratio_to_durable": ratio(cell, cells),
                "server_cpu_us_per_request": cell.cpu_us_per_request,
                "cpu_ratio_to_durable": cpu_ratio(cell, cells),
                "max_throughput": asdict(cell.peak),
                "rounds": [
                    {"server_cpu_s": run.server_cpu_s, **asdict(run.wrk)} for run in cell.runs
                ],
                "fixed_rate": {"alerts_s": opts.rate, **asdict(cell.fixed)},
            }
            for cell in cells
        ],
        "goal": goal(cells),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
