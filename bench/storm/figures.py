"""From what one storm produced (`Observed`) to its figures (`Figures`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .daemons import ROUTING_KEYS
from .metrics import Point, bucket_quantile
from .senders import StormLoad, percentile

_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Observed:
    load: StormLoad
    events: list[
        list[Any]
    ]  # the fake PagerDuty's log: [at, routing_key, dedup_key, action, status]
    declared: dict[int, float]  # incident id -> declared_at (Unix time), from the API
    lag_buckets: dict[float, float] | None  # escalation_lag_seconds, summed over replicas
    rss_before: int
    rss_after: int
    backlog: list[Point]
    slack: dict[str, Any]
    wait_s: float


@dataclass(frozen=True)
class Figures:
    store: str
    replicas: int
    services: int
    load: StormLoad
    expected_pages: int  # services with a 2xx webhook: each must get an EOC and an IMOC page
    eoc_pages: int
    eoc_span_s: float | None  # first webhook sent -> last distinct EOC page received
    eoc_after_last_webhook_s: float | None
    extra_triggers: int  # accepted triggers for a dedup key already triggered
    imoc_pages: int
    imoc_lag_p50_s: float | None  # IMOC page received - (declared_at + ack_timeout)
    imoc_lag_p99_s: float | None
    imoc_lag_max_s: float | None
    imoc_unmatched: int  # IMOC pages whose incident the API did not list
    hist_lag_p50_s: float | None  # bucket bound from the daemon's histogram (inf: > 900 s)
    hist_lag_p99_s: float | None
    hist_lag_count: int
    backlog: list[Point]
    rss_before: int
    rss_after: int
    slack: dict[str, Any]
    wait_s: float
    error: str | None = None

    @classmethod
    def failed(cls, store: str, replicas: int, services: int, error: str) -> Figures:
        """A storm that could not be run or measured: the table says why."""
        load = StormLoad(0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, False)
        return cls(
            store, replicas, services, load, 0, 0, None, None, 0, 0, None, None, None, 0,
            None, None, 0, [], 0, 0, {}, 0.0, error,
        )  # fmt: skip

    @property
    def rss_per_incident(self) -> float | None:
        if not self.expected_pages or not self.rss_after:
            return None
        return (self.rss_after - self.rss_before) / self.expected_pages

    def peak(self, channel: str) -> float | None:
        values = [getattr(p, channel) for p in self.backlog if getattr(p, channel) is not None]
        return max(values, default=None)


def _first_triggers(events: list[list[Any]], role: str) -> tuple[dict[str, float], int]:
    first: dict[str, float] = {}
    extra = 0
    for at, routing_key, dedup_key, action, status in events:
        if routing_key != ROUTING_KEYS[role] or action != "trigger" or status != 202:
            continue
        if dedup_key in first:
            extra += 1
        else:
            first[dedup_key] = at
    return first, extra


def _incident_id(dedup_key: str) -> int | None:
    numbers = _NUMBER.findall(dedup_key)
    return int(numbers[0]) if numbers else None


def figures(
    store: str, replicas: int, services: int, ack_timeout: float, seen: Observed
) -> Figures:
    load = seen.load
    eoc, eoc_extra = _first_triggers(seen.events, "eoc")
    imoc, imoc_extra = _first_triggers(seen.events, "imoc")
    last_eoc = max(eoc.values(), default=None)
    lags, unmatched = [], 0
    for key, at in imoc.items():
        incident = _incident_id(key)
        if incident is None or incident not in seen.declared:
            unmatched += 1
            continue
        lags.append(at - (seen.declared[incident] + ack_timeout))
    buckets = seen.lag_buckets or {}
    return Figures(
        store=store,
        replicas=replicas,
        services=services,
        load=load,
        expected_pages=load.services_accepted,
        eoc_pages=len(eoc),
        eoc_span_s=last_eoc - load.first_sent if last_eoc and load.first_sent else None,
        eoc_after_last_webhook_s=last_eoc - load.last_done if last_eoc and load.last_done else None,
        extra_triggers=eoc_extra + imoc_extra,
        imoc_pages=len(imoc),
        imoc_lag_p50_s=percentile(lags, 50) if lags else None,
        imoc_lag_p99_s=percentile(lags, 99) if lags else None,
        imoc_lag_max_s=max(lags, default=None),
        imoc_unmatched=unmatched,
        hist_lag_p50_s=bucket_quantile(buckets, 0.50),
        hist_lag_p99_s=bucket_quantile(buckets, 0.99),
        hist_lag_count=int(max(buckets.values(), default=0)),
        backlog=seen.backlog,
        rss_before=seen.rss_before,
        rss_after=seen.rss_after,
        slack=seen.slack,
        wait_s=seen.wait_s,
    )
