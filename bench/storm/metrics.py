"""Reading the daemon's /metrics: a once-a-second sampler and the escalation-lag histogram.

Only the lines the storm reports are parsed (the declared-incidents counter has one series
per service, 10,000 in a big storm). A scrape that fails or is slow leaves a gap in the
series (None): a daemon too busy to answer /metrics is itself a finding.
"""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

_LINE = re.compile(r"^(?P<name>[a-z_:]+)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
BACKLOG = "firstresponder_outbox_backlog"
OPEN = "firstresponder_open_incidents"
LAG_BUCKET = "firstresponder_escalation_lag_seconds_bucket"


def parse(text: str, names: set[str]) -> list[tuple[str, dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None or match["name"] not in names:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        found.append((match["name"], labels, float(match["value"])))
    return found


def get(url: str, timeout: float) -> str | None:
    """The body of a 200 answer, None on any failure (a busy daemon is the normal case)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return None


def scrape(url: str, timeout: float = 2.0) -> str | None:
    return get(url + "/metrics", timeout)


@dataclass(frozen=True)
class Point:
    t: float  # seconds since the sampler started
    pager: float | None  # outbox backlog, channel="pager" (replica 0: the store's total)
    slack: float | None
    open_incidents: float | None  # summed over the severities


@dataclass
class Sampler:
    """Samples replica 0's /metrics every `interval` s in a thread until stopped."""

    url: str
    interval: float = 1.0
    points: list[Point] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Point]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self.points

    def _run(self) -> None:
        start = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            text = scrape(self.url)
            self.points.append(_point(time.monotonic() - start, text))
            tick += 1
            self._stop.wait(max(0.0, start + tick * self.interval - time.monotonic()))


def _point(t: float, text: str | None) -> Point:
    if text is None:
        return Point(round(t, 1), None, None, None)
    backlog: dict[str, float] = {}
    open_total = 0.0
    for name, labels, value in parse(text, {BACKLOG, OPEN}):
        if name == BACKLOG:
            backlog[labels.get("channel", "")] = value
        else:
            open_total += value
    return Point(round(t, 1), backlog.get("pager"), backlog.get("slack"), open_total)


def lag_buckets(urls: list[str]) -> dict[float, float] | None:
    """The escalation-lag histogram's cumulative buckets, summed over the replicas."""
    total: dict[float, float] = defaultdict(float)
    for url in urls:
        text = scrape(url, timeout=10.0)
        if text is None:
            return None
        for _, labels, value in parse(text, {LAG_BUCKET}):
            total[float(labels["le"])] += value
    return dict(total)


def bucket_quantile(buckets: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` (inf: above the top bucket);
    None when nothing was observed."""
    ordered = sorted(buckets.items())
    count = ordered[-1][1] if ordered else 0.0
    if count <= 0:
        return None
    for bound, cumulative in ordered:
        if cumulative >= q * count:
            return bound
    return math.inf
