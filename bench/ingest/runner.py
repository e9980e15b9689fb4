"""One benchmark cell: a target at one payload size, max throughput then fixed rate."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from .loadgen import LoadResult
from .options import Options
from .servers import LABELS, REPO, cpu_seconds, serve
from .wrk import WrkLoad, WrkResult, run_wrk


@dataclass(frozen=True)
class PeakRun:
    """One max-throughput run: what wrk saw and the CPU the server spent meanwhile."""

    wrk: WrkResult
    server_cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        answered = self.wrk.requests
        return 1e6 * self.server_cpu_s / answered if answered else 0.0


@dataclass(frozen=True)
class Cell:
    target: str
    alerts: int
    runs: list[PeakRun]  # every max-throughput round, in the order run
    fixed: LoadResult

    @property
    def peak(self) -> WrkResult:
        """The median round by req/s: one slow or lucky round does not decide the figure."""
        return self.median_run.wrk

    @property
    def median_run(self) -> PeakRun:
        ordered = sorted(self.runs, key=lambda run: run.wrk.ok_req_s)
        return ordered[len(ordered) // 2]

    @property
    def req_s(self) -> float:
        return self.peak.ok_req_s

    @property
    def alerts_s(self) -> float:
        return self.peak.ok_req_s * self.alerts

    @property
    def cpu_us_per_request(self) -> float:
        """The median over the rounds of the server's CPU time per answered request."""
        values = sorted(run.cpu_us_per_request for run in self.runs)
        return values[len(values) // 2]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def max_throughput(opts: Options, target: str, alerts: int) -> PeakRun:
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
        before = cpu_seconds(server.pid)
        result = run_wrk(server.webhook_url, load("m"), opts.duration)
        return PeakRun(result, cpu_seconds(server.pid) - before)


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


def measure_all(opts: Options) -> list[Cell]:
    """Every target x size: `rounds` max-throughput runs, the targets taken in turn so that
    a slow spell of the machine falls on all of them; then one fixed-rate run each."""
    cells = [(target, alerts) for target in opts.targets for alerts in opts.sizes]
    runs: dict[tuple[str, int], list[PeakRun]] = {cell: [] for cell in cells}
    for round_ in range(1, opts.rounds + 1):
        for target, alerts in cells:
            say(
                f"[{LABELS[target]}, {alerts} alert(s)/request] max throughput"
                f" ({opts.duration:g}s, round {round_}/{opts.rounds})"
            )
            run = max_throughput(opts, target, alerts)
            runs[(target, alerts)].append(run)
            peak = run.wrk
            say(
                f"  {peak.ok_req_s:,.0f} req/s, p99 {peak.p99_ms:.1f} ms, errors {peak.errors},"
                f" server CPU {run.cpu_us_per_request:.0f} us/request"
            )
    measured = []
    for target, alerts in cells:
        say(f"[{LABELS[target]}, {alerts} alert(s)/request] fixed rate {opts.rate:g} alerts/s")
        fixed = fixed_rate(opts, target, alerts)
        say(
            f"  {fixed.achieved_req_s:,.0f} of {fixed.target_req_s:,.0f} req/s, p50 {fixed.p50_ms:.1f} ms,"
            f" p99 {fixed.p99_ms:.1f} ms, errors {fixed.errors} {fixed.error_kinds or ''}"
        )
        measured.append(Cell(target, alerts, runs[(target, alerts)], fixed))
    return measured
