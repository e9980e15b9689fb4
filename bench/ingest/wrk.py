"""Run wrk with ingest.lua and read the JSON line its `done()` prints."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("ingest.lua")
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class WrkResult:
    requests: int
    ok_requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def ok_req_s(self) -> float:
        return self.ok_requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class WrkLoad:
    alerts: int
    token: str
    run_id: str
    pool: int
    threads: int
    connections: int
    core: int | None


def run_wrk(url: str, load: WrkLoad, seconds: float) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(load.alerts),
        load.token,
        load.run_id,
        str(load.pool),
    ]
    if load.core is not None:
        cmd = ["taskset", "-c", str(load.core), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse(out.stdout)


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            lat, err = raw["latency_us"], raw["errors"]
            # wrk counts a non-2xx/3xx answer in `requests` and in errors.status; socket
            # errors and timeouts are not answers, so they are only errors.
            requests = int(raw["requests"])
            return WrkResult(
                requests=requests,
                ok_requests=requests - int(err["status"]),
                seconds=raw["duration_us"] / 1e6,
                errors=int(sum(err.values())),
                p50_ms=lat["p50"] / 1000,
                p99_ms=lat["p99"] / 1000,
                max_ms=lat["max"] / 1000,
            )
    raise RuntimeError(f"wrk printed no {MARKER.strip()} line:\n{output}")
