"""One benchmark cell: a target at one payload size, max throughput then fixed rate."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from .loadgen import LoadResult
from .options import Options
from .servers import LABELS, REPO, serve
from .wrk import WrkLoad, WrkResult, run_wrk


@dataclass(frozen=True)
class Cell:
    target: str
    alerts: int
    peak: WrkResult
    fixed: LoadResult

    @property
    def req_s(self) -> float:
        return self.peak.ok_req_s

    @property
    def alerts_s(self) -> float:
        return self.peak.ok_req_s * self.alerts


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def max_throughput(opts: Options, target: str, alerts: int) -> WrkResult:
    """wrk at full speed against a fresh server: warm up, then the measured run."""
    with serve(target, opts.token, opts.server_core) as server:

        def load(run_id: str) -> WrkLoad:
            return WrkLoad(
                alerts,
                opts.token,
                run_id,
                opts.pool,
                opts.threads,
                opts.connections,
                opts.load_core,
            )

        if opts.warmup > 0:
            run_wrk(server.webhook_url, load("w"), opts.warmup)
        return run_wrk(server.webhook_url, load("m"), opts.duration)


def fixed_rate(opts: Options, target: str, alerts: int) -> LoadResult:
    """The open-loop generator at `opts.rate` alerts/s against another fresh server."""
    with serve(target, opts.token, opts.server_core) as server:
        cmd = [sys.executable, "-m", "bench.ingest.loadgen", "--url", server.webhook_url]
        cmd += ["--rate", str(opts.rate / alerts), "--alerts", str(alerts)]
        cmd += ["--duration", str(opts.rate_duration), "--warmup", str(opts.warmup)]
        cmd += ["--token", opts.token, "--run-id", "f", "--pool", str(opts.pool)]
        if opts.load_core is not None:
            cmd = ["taskset", "-c", str(opts.load_core), *cmd]
        timeout = opts.warmup + opts.rate_duration + 120
        out = subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, check=True, timeout=timeout
        )
        return LoadResult(**json.loads(out.stdout))


def measure(opts: Options, target: str, alerts: int) -> Cell:
    say(f"[{LABELS[target]}, {alerts} alert(s)/request] max throughput ({opts.duration:g}s)")
    peak = max_throughput(opts, target, alerts)
    say(f"  {peak.ok_req_s:,.0f} req/s, p99 {peak.p99_ms:.1f} ms, errors {peak.errors}")
    say(f"  fixed rate {opts.rate:g} alerts/s ({opts.rate_duration:g}s)")
    fixed = fixed_rate(opts, target, alerts)
    say(
        f"  {fixed.achieved_req_s:,.0f} of {fixed.target_req_s:,.0f} req/s, p50 {fixed.p50_ms:.1f} ms,"
        f" p99 {fixed.p99_ms:.1f} ms, errors {fixed.errors} {fixed.error_kinds or ''}"
    )
    return Cell(target, alerts, peak, fixed)
