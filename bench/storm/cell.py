"""One storm: a store, a replica count and N services, from fresh processes to figures.

Phases, each bounded: start the fakes and the daemon(s); the storm (the senders, at most
`storm_timeout`); then wait for the pages: EOC until every service's page arrived or
`eoc_wait` after the last webhook, IMOC until every one arrived or `imoc_grace` after the
last deadline could fall due (last webhook + ack_timeout). /metrics is sampled each second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from ..ingest.runner import say
from ..ingest.servers import REPO
from . import fakes_process, metrics
from .daemons import ROUTING_KEYS, Replica, replicas, rss_bytes, store_url
from .figures import Figures, Observed, figures
from .options import Options
from .senders import StormLoad

POLL_S = 1.0


def run_cell(opts: Options, store: str, count: int, services: int) -> Figures:
    with (
        tempfile.TemporaryDirectory(prefix="bench-storm-") as tmp,
        fakes_process.running(opts.slack_rate_scale) as fakes,
        store_url(store, Path(tmp), opts.postgres_url) as url,
        replicas(count, Path(tmp), url, fakes.ready, opts.token, opts.ack_timeout) as daemons,
    ):
        observed = _observe(opts, daemons, fakes, services)
        return figures(store, count, services, opts.ack_timeout, observed)


def _observe(
    opts: Options, daemons: list[Replica], fakes: fakes_process.Fakes, services: int
) -> Observed:
    rss_before = sum(rss_bytes(d.pid) for d in daemons)
    sampler = metrics.Sampler(daemons[0].url).start()
    try:
        load = _storm(opts, daemons, services)
        say(
            f"  storm: {load.answered_2xx} of {load.notifications} webhooks 2xx in"
            f" {load.seconds:.1f}s, {load.alerts_per_s:,.0f} alerts/s, p99 {load.p99_ms:.0f} ms"
            + (" (timed out)" if load.timed_out else "")
        )
        started = time.time()
        rss_after = _wait_for_pages(opts, daemons, fakes, load)
        wait_s = time.time() - started
    finally:
        backlog = sampler.stop()
    urls = [d.url for d in daemons]
    return Observed(
        load=load,
        events=fakes.page_events(),
        declared=_declared(daemons[0].url),
        lag_buckets=metrics.lag_buckets(urls),
        rss_before=rss_before,
        rss_after=rss_after,
        backlog=backlog,
        slack=fakes.slack_stats(),
        wait_s=wait_s,
    )


def _storm(opts: Options, daemons: list[Replica], services: int) -> StormLoad:
    cmd = [sys.executable, "-m", "bench.storm.senders"]
    cmd += ["--urls", ",".join(d.webhook_url for d in daemons)]
    cmd += ["--services", str(services), "--senders", str(opts.senders)]
    cmd += ["--copies", str(opts.copies), "--token", opts.token]
    cmd += ["--run-id", f"storm-{time.time_ns()}", "--timeout", str(opts.storm_timeout)]
    out = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, check=True, timeout=opts.storm_timeout + 90
    )
    return StormLoad(**json.loads(out.stdout))


def _wait_for_pages(
    opts: Options, daemons: list[Replica], fakes: fakes_process.Fakes, load: StormLoad
) -> int:
    """Poll the fake PagerDuty until both phases end; returns the daemons' RSS when the
    EOC phase ended (every incident open)."""
    expected = load.services_accepted
    last = load.last_done or time.time()
    eoc_until, imoc_until = last + opts.eoc_wait, last + opts.ack_timeout + opts.imoc_grace
    rss_after = 0
    while True:
        counts, now = fakes.page_counts(), time.time()
        eoc, imoc = counts.get(ROUTING_KEYS["eoc"], 0), counts.get(ROUTING_KEYS["imoc"], 0)
        if not rss_after and (eoc >= expected or now > eoc_until):
            rss_after = sum(rss_bytes(d.pid) for d in daemons)
            say(f"  EOC pages: {eoc} of {expected}")
        if rss_after and (imoc >= expected or now > imoc_until):
            say(f"  IMOC pages: {imoc} of {expected}")
            return rss_after
        time.sleep(POLL_S)


def _declared(url: str, timeout_s: float = 120.0) -> dict[int, float]:
    """Every incident's declared_at, through the API (pages of 500)."""
    found: dict[int, float] = {}
    before: int | None = None
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        query = "limit=500" + (f"&before={before}" if before is not None else "")
        text = metrics.get(f"{url}/api/v1/incidents?{query}", timeout=30.0)
        if text is None:
            break
        body = json.loads(text)
        for incident in body["incidents"]:
            found[int(incident["id"])] = datetime.fromisoformat(incident["declared_at"]).timestamp()
        before = body.get("next_before")
        if before is None:
            break
    return found
