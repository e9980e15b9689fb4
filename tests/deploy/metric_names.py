"""The metrics firstresponder exports: the one list the dashboard and alert-rule checks read.

Names are as Prometheus sees them (`_total` on counters; a histogram's series add
`_bucket`, `_sum`, `_count`). `test_metric_names.py` checks this list against what
`Metrics().registry` really exports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...] = ()


EXISTING: tuple[MetricSpec, ...] = (
    MetricSpec("firstresponder_alerts_received_total", "counter", ("status",)),
    MetricSpec("firstresponder_alerts_duplicate_total", "counter"),
    MetricSpec("firstresponder_alerts_truncated_total", "counter"),
    MetricSpec("firstresponder_webhook_requests_total", "counter", ("code",)),
    MetricSpec("firstresponder_webhook_duration_seconds", "histogram"),
    MetricSpec(
        "firstresponder_incidents_declared_total", "counter", ("service", "severity", "impact")
    ),
    MetricSpec("firstresponder_open_incidents", "gauge", ("severity",)),
    MetricSpec("firstresponder_near_misses_total", "counter", ("service",)),
    MetricSpec("firstresponder_declaration_delay_seconds", "histogram"),
    MetricSpec("firstresponder_api_requests_total", "counter", ("code",)),
    MetricSpec("firstresponder_prometheus_query_errors_total", "counter", ("kind",)),
    MetricSpec("firstresponder_slo_evaluations_total", "counter", ("result",)),
)

# Added with the paging and escalation work. Until the daemon exports one of these, the
# checks that need it skip, naming it; they never pass silently.
PAGING: tuple[MetricSpec, ...] = (
    MetricSpec("firstresponder_pages_total", "counter", ("target", "action", "result")),
    MetricSpec("firstresponder_escalations_total", "counter", ("reason",)),
    MetricSpec("firstresponder_escalation_lag_seconds", "histogram"),
    MetricSpec("firstresponder_deadline_failures_total", "counter", ("kind",)),
    MetricSpec("firstresponder_outbox_backlog", "gauge", ("channel",)),
    MetricSpec("firstresponder_outbox_oldest_pending_seconds", "gauge", ("channel",)),
    MetricSpec("firstresponder_delivery_failures_total", "counter", ("channel", "kind")),
    MetricSpec("firstresponder_time_to_acknowledge_seconds", "histogram", ("severity",)),
    MetricSpec("firstresponder_time_to_resolve_seconds", "histogram", ("severity",)),
    MetricSpec("firstresponder_last_webhook_timestamp_seconds", "gauge"),
)

# Retention (docs/retention.md).
RETENTION: tuple[MetricSpec, ...] = (
    MetricSpec("firstresponder_retention_pruned_rows_total", "counter", ("table",)),
    MetricSpec("firstresponder_retention_failures_total", "counter", ("table",)),
)

# The dead-man's switch and the Alertmanager silences.
PIPELINE: tuple[MetricSpec, ...] = (
    MetricSpec("firstresponder_heartbeat_age_seconds", "gauge"),
    MetricSpec("firstresponder_heartbeat_check_failures_total", "counter"),
    MetricSpec("firstresponder_silences_total", "counter", ("op", "result")),
)

METRICS: tuple[MetricSpec, ...] = EXISTING + PAGING + RETENTION + PIPELINE
BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}
PENDING_NAMES: frozenset[str] = frozenset(m.name for m in PAGING)

# Series that come from Prometheus itself, not from the daemon.
FROM_PROMETHEUS: frozenset[str] = frozenset({"up"})

_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_of(series: str) -> str:
    """The metric a series name belongs to: `x_seconds_bucket` -> `x_seconds` for histograms."""
    for suffix in _HISTOGRAM_SUFFIXES:
        base = series.removesuffix(suffix)
        if base != series and base in BY_NAME and BY_NAME[base].kind == "histogram":
            return base
    return series
