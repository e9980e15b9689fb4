"""The storm's table, backlog series, growth from the smallest N, goals, and JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .figures import Figures
from .options import Options

GOAL_N = 2000
BIG_N = 10000
GOAL_ALERTS_S = 2000.0
GOAL_P99_MS = 1000.0
GOAL_EOC_S = 30.0
GOAL_LAG_P99_S = 2.0
GOAL_BIG_PER_INCIDENT = 2.0
GOAL_REPLICA_RATIO = 1.5
SERIES_POINTS = 16


def _num(value: float | None, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return ">900"
    return format(value, spec)


def replica_ratio(cell: Figures, cells: list[Figures]) -> float | None:
    """Two replicas' alerts/s over one replica's, same store and N."""
    if cell.replicas == 1:
        return None
    one = _find(cells, cell.store, 1, cell.services)
    if one is None or one.load.alerts_per_s == 0:
        return None
    return cell.load.alerts_per_s / one.load.alerts_per_s


def _find(cells: list[Figures], store: str, replicas: int, services: int) -> Figures | None:
    return next(
        (
            c
            for c in cells
            if (c.store, c.replicas, c.services) == (store, replicas, services) and not c.error
        ),
        None,
    )


def table(cells: list[Figures]) -> str:
    head = (
        f"{'store':<11}{'repl':>4}{'N':>7}{'alerts/s':>10}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'non2xx':>7}{'unsent':>7}{'EOC':>12}{'EOC s':>8}{'+after':>8}{'IMOC':>12}"
        f"{'lag p50':>8}{'lag p99':>8}{'fired':>7}{'hist p99':>9}{'peak pg':>8}{'peak sl':>8}"
        f"{'KiB/inc':>8}{'x1 repl':>8}"
    )
    lines = [head, "-" * len(head)]
    for c in cells:
        if c.error:
            lines.append(f"{c.store:<11}{c.replicas:>4}{c.services:>7}  failed: {c.error}")
            continue
        load, want = c.load, c.expected_pages
        rss = c.rss_per_incident
        ratio = replica_ratio(c, cells)
        lines.append(
            f"{c.store:<11}{c.replicas:>4}{c.services:>7}{load.alerts_per_s:>10,.0f}"
            f"{load.p50_ms:>8.0f}{load.p99_ms:>8.0f}{load.not_2xx:>7}{load.not_sent:>7}"
            f"{f'{c.eoc_pages}/{want}':>12}{_num(c.eoc_span_s):>8}"
            f"{_num(c.eoc_after_last_webhook_s):>8}{f'{c.imoc_pages}/{want}':>12}"
            f"{_num(c.imoc_lag_p50_s, '.2f'):>8}{_num(c.imoc_lag_p99_s, '.2f'):>8}"
            f"{c.hist_lag_count:>7}{_num(c.hist_lag_p99_s, 'g'):>9}{_num(c.peak('pager'), '.0f'):>8}"
            f"{_num(c.peak('slack'), '.0f'):>8}{_num(rss / 1024 if rss else None, '.0f'):>8}"
            f"{_num(ratio, '.2f'):>8}"
        )
    return "\n".join(lines)


def series_lines(cells: list[Figures]) -> list[str]:
    """Outbox backlog over time, at most SERIES_POINTS samples per cell."""
    lines = []
    for c in cells:
        if c.error or not c.backlog:
            continue
        step = max(1, math.ceil(len(c.backlog) / SERIES_POINTS))
        shown = c.backlog[::step]
        every = shown[1].t - shown[0].t if len(shown) > 1 else 0
        pager = " ".join(_num(p.pager, ".0f") for p in shown)
        slack = " ".join(_num(p.slack, ".0f") for p in shown)
        lines.append(f"{c.store} x{c.replicas} N={c.services}, every {every:.0f}s:")
        lines.append(f"  pager: {pager}")
        lines.append(f"  slack: {slack}")
    return lines


def _per_incident(c: Figures) -> dict[str, float | None]:
    """Figures whose value per incident (or per request) should not grow with N."""
    n = c.expected_pages or c.services
    return {
        "storm s/incident": c.load.seconds / n if c.load.seconds else None,
        # Only when every page came: the time to the last of some pages is no figure.
        "EOC s/incident": c.eoc_span_s / n if c.eoc_span_s and c.eoc_pages >= n else None,
        "RSS/incident": c.rss_per_incident,
        "webhook p99": c.load.p99_ms,
        "IMOC lag p99": c.imoc_lag_p99_s,
        "peak pager backlog/incident": (c.peak("pager") or 0) / n,
    }


def growth(cells: list[Figures]) -> list[dict[str, Any]]:
    """Each figure per incident at N over the same at the smallest N of the same setup."""
    rows = []
    for c in cells:
        if c.error:
            continue
        same = [o for o in cells if (o.store, o.replicas) == (c.store, c.replicas) and not o.error]
        base = min(same, key=lambda o: o.services)
        if base is c:
            continue
        mine, theirs = _per_incident(c), _per_incident(base)
        for name, value in mine.items():
            ref = theirs[name]
            ratio = value / ref if value is not None and ref else None
            rows.append(
                {
                    "setup": f"{c.store} x{c.replicas}",
                    "from_n": base.services,
                    "to_n": c.services,
                    "figure": name,
                    "ratio": ratio,
                    "faster_than_linear": ratio is not None and ratio > GOAL_BIG_PER_INCIDENT,
                }
            )
    return rows


def growth_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['setup']} N={r['from_n']}->{r['to_n']}: {r['figure']:<28} x{_num(r['ratio'], '.2f')}"
        + ("  FASTER THAN LINEAR" if r["faster_than_linear"] else "")
        for r in rows
    ]


def _pages_ok(c: Figures) -> tuple[bool, bool]:
    eoc_ok = (
        c.expected_pages > 0
        and c.eoc_pages >= c.expected_pages
        and c.eoc_after_last_webhook_s is not None
        and c.eoc_after_last_webhook_s <= GOAL_EOC_S
    )
    imoc_ok = (
        c.expected_pages > 0
        and c.imoc_pages >= c.expected_pages
        and c.imoc_lag_p99_s is not None
        and c.imoc_lag_p99_s < GOAL_LAG_P99_S
    )
    return eoc_ok, imoc_ok


def goals(cells: list[Figures]) -> list[dict[str, Any]]:
    verdicts: list[dict[str, Any]] = []

    def add(goal: str, met: bool | None, shown: str) -> None:
        verdicts.append({"goal": goal, "met": met, "measured": shown})

    for n in (GOAL_N, BIG_N):
        c = _find(cells, "sqlite", 1, n)
        if c is None:
            add(f"SQLite N={n}: all 2xx, p99 < 1 s, >= 2,000 alerts/s", None, "not run")
            continue
        load = c.load
        met = (
            load.not_2xx == 0
            and load.not_sent == 0
            and load.p99_ms < GOAL_P99_MS
            and load.alerts_per_s >= GOAL_ALERTS_S
        )
        shown = f"{load.not_2xx} non-2xx, {load.not_sent} unsent, p99 {load.p99_ms:.0f} ms, {load.alerts_per_s:,.0f} alerts/s"
        add(f"SQLite N={n}: all 2xx, p99 < 1 s, >= 2,000 alerts/s", met, shown)
    for c in cells:
        if c.error:
            continue
        eoc_ok, imoc_ok = _pages_ok(c)
        name = f"{c.store} x{c.replicas} N={c.services}"
        add(
            f"{name}: every EOC page within 30 s of the last webhook",
            eoc_ok,
            f"{c.eoc_pages}/{c.expected_pages}, last {_num(c.eoc_after_last_webhook_s)} s after",
        )
        add(
            f"{name}: every IMOC page, escalation lag p99 < 2 s",
            imoc_ok,
            f"{c.imoc_pages}/{c.expected_pages}, p99 {_num(c.imoc_lag_p99_s, '.2f')} s",
        )
    for store, replicas in {(c.store, c.replicas) for c in cells}:
        small, big = _find(cells, store, replicas, GOAL_N), _find(cells, store, replicas, BIG_N)
        if small is None or big is None:
            continue
        a, b = _per_incident(small)["EOC s/incident"], _per_incident(big)["EOC s/incident"]
        ratio = b / a if a and b else None
        add(
            f"{store} x{replicas}: N=10,000 at most 2x the time per incident of N=2,000",
            ratio is not None and ratio <= GOAL_BIG_PER_INCIDENT,
            f"x{_num(ratio, '.2f')} (first webhook to last EOC page, per incident)",
        )
    for c in cells:
        ratio = replica_ratio(c, cells) if not c.error else None
        if c.replicas == 2:
            add(
                f"{c.store} N={c.services}: 2 replicas >= 1.5x one replica's alerts/s",
                ratio is not None and ratio >= GOAL_REPLICA_RATIO,
                f"x{_num(ratio, '.2f')}",
            )
    return verdicts


def goal_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    mark = {True: "MET    ", False: "NOT MET", None: "-      "}
    return [f"{mark[v['met']]} {v['goal']}: {v['measured']}" for v in verdicts]


def _cell_json(c: Figures, cells: list[Figures]) -> dict[str, Any]:
    document = asdict(c)
    document["load"]["alerts_per_s"] = c.load.alerts_per_s
    document["load"]["seconds"] = c.load.seconds
    document["rss_per_incident_bytes"] = c.rss_per_incident
    document["replica_ratio"] = replica_ratio(c, cells)
    document["backlog"] = [[p.t, p.pager, p.slack, p.open_incidents] for p in c.backlog]
    return document


def write_json(cells: list[Figures], opts: Options, started: datetime) -> Path:
    opts.results_dir.mkdir(parents=True, exist_ok=True)
    path = opts.results_dir / f"storm-{started.strftime('%Y%m%dT%H%M%S')}.json"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    settings.pop("token")
    document = {
        "started": started.isoformat(),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "settings": settings,
        "backlog_columns": ["t_s", "pager", "slack", "open_incidents"],
        "cells": [_cell_json(c, cells) for c in cells],
        "growth": growth(cells),
        "goals": goals(cells),
    }
    path.write_text(json.dumps(_finite(document), indent=2) + "\n")
    return path


def _finite(value: Any) -> Any:
    """Infinity (a lag above the histogram's top bucket) as the string "inf": strict JSON."""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
