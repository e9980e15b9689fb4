"""firstresponder's own metrics, on a registry the app owns (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .config_retention import AGES as RETENTION_TABLES
from .domain.alerts import AlertStatus
from .domain.vocabulary import Severity

CHANNELS = ("pager", "slack", "ticket", "alertmanager")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.alerts_received = Counter(
            "firstresponder_alerts_received",
            "Alert events received from Alertmanager.",
            ["status"],
            registry=r,
        )
        self.alerts_duplicate = Counter(
            "firstresponder_alerts_duplicate",
            "Alert events already seen (HA peers, retries, repeats).",
            registry=r,
        )
        self.alerts_truncated = Counter(
            "firstresponder_alerts_truncated",
            "Alerts Alertmanager left out of notifications (truncatedAlerts).",
            registry=r,
        )
        self.webhook_requests = Counter(
            "firstresponder_webhook_requests",
            "Webhook requests by HTTP status code.",
            ["code"],
            registry=r,
        )
        self.webhook_duration = Histogram(
            "firstresponder_webhook_duration_seconds",
            "Time to answer a webhook request.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.incidents_declared = Counter(
            "firstresponder_incidents_declared",
            "Incidents declared.",
            ["service", "severity", "impact"],
            registry=r,
        )
        self.open_incidents = Gauge(
            "firstresponder_open_incidents", "Incidents not yet resolved.", ["severity"], registry=r
        )
        self.near_misses = Counter(
            "firstresponder_near_misses",
            "Alerts that fired and recovered without an incident.",
            ["service"],
            registry=r,
        )
        self.declaration_delay = Histogram(
            "firstresponder_declaration_delay_seconds",
            "Time from the first alert's start to the incident's declaration.",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=r,
        )
        self.api_requests = Counter(
            "firstresponder_api_requests",
            "REST API requests by HTTP status code.",
            ["code"],
            registry=r,
        )
        self.prometheus_query_errors = Counter(
            "firstresponder_prometheus_query_errors",
            "SLO evaluations that fell back to alert labels, by kind of failure.",
            ["kind"],
            registry=r,
        )
        self.slo_evaluations = Counter(
            "firstresponder_slo_evaluations",
            "SLO evaluations against Prometheus, by result.",
            ["result"],
            registry=r,
        )
        self.last_webhook = Gauge(
            "firstresponder_last_webhook_timestamp_seconds",
            "Unix time of the last webhook accepted from Alertmanager.",
            registry=r,
        )
        self.pages = Counter(
            "firstresponder_pages",
            "Pager deliveries (trigger, acknowledge, resolve) by target and final result.",
            ["target", "action", "result"],
            registry=r,
        )
        self.slack_calls = Counter(
            "firstresponder_slack_calls",
            "Slack calls from the outbox (create_channel, post, …) by final result.",
            ["op", "result"],
            registry=r,
        )
        self.ticket_calls = Counter(
            "firstresponder_ticket_calls",
            "Issue tracker calls from the outbox (create, comment, close, …) by final result.",
            ["tracker", "op", "result"],
            registry=r,
        )
        self.slack_rate_limiter = Counter(
            "firstresponder_slack_rate_limiter",
            "Slack calls held to stay under Slack's rate limits, by method: waited (briefly, "
            "holding a delivery slot) or requeued (given back to the outbox for their slot).",
            ["method", "outcome"],
            registry=r,
        )
        self.escalations = Counter(
            "firstresponder_escalations",
            "Escalations fired by a deadline, by reason.",
            ["reason"],
            registry=r,
        )
        self.deadline_failures = Counter(
            "firstresponder_deadline_failures",
            "Deadlines whose firing failed (tried again a minute later), by kind.",
            ["kind"],
            registry=r,
        )
        self.escalation_lag = Histogram(
            "firstresponder_escalation_lag_seconds",
            "How late an escalation deadline fired after it was due.",
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "firstresponder_outbox_backlog",
            "Outbox messages not yet delivered, by channel.",
            ["channel"],
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "firstresponder_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbox message, by channel (0 when none).",
            ["channel"],
            registry=r,
        )
        self.delivery_failures = Counter(
            "firstresponder_delivery_failures",
            "Failed delivery attempts by channel and kind (transient is retried).",
            ["channel", "kind"],
            registry=r,
        )
        self.retention_pruned = Counter(
            "firstresponder_retention_pruned_rows",
            "Rows deleted by retention after their configured age, by table.",
            ["table"],
            registry=r,
        )
        self.retention_failures = Counter(
            "firstresponder_retention_failures",
            "Retention passes over a table that failed (retried at the next interval).",
            ["table"],
            registry=r,
        )
        self.heartbeat_age = Gauge(
            "firstresponder_heartbeat_age_seconds",
            "Seconds since the heartbeat alert (Watchdog) last arrived, or since watching "
            "began if it never did (0 when the dead-man's switch is off).",
            registry=r,
        )
        self.heartbeat_check_failures = Counter(
            "firstresponder_heartbeat_check_failures",
            "Dead-man's switch checks that failed (the store may be down).",
            registry=r,
        )
        self.silences = Counter(
            "firstresponder_silences",
            "Alertmanager silence calls (create, extend, expire) from the outbox by final result.",
            ["op", "result"],
            registry=r,
        )
        self.lease_renewals = Counter(
            "firstresponder_outbox_lease_renewals",
            "Renewals of outbox leases while deliveries are in progress, by channel and "
            "result: renewed; lost (another dispatcher took the message over after the "
            "lease ran out); failed (the store did not answer).",
            ["channel", "result"],
            registry=r,
        )
        lifecycle_buckets = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)
        self.time_to_acknowledge = Histogram(
            "firstresponder_time_to_acknowledge_seconds",
            "Time from declaration to acknowledgement (MTTA), by severity.",
            ["severity"],
            buckets=lifecycle_buckets,
            registry=r,
        )
        self.time_to_resolve = Histogram(
            "firstresponder_time_to_resolve_seconds",
            "Time from declaration to resolution (MTTR), by severity.",
            ["severity"],
            buckets=lifecycle_buckets,
            registry=r,
        )
        for severity in Severity:
            self.open_incidents.labels(severity.value).set(0)
        for channel in CHANNELS:
            self.outbox_backlog.labels(channel).set(0)
            self.outbox_oldest.labels(channel).set(0)
        for table in RETENTION_TABLES:
            self.retention_pruned.labels(table)
            self.retention_failures.labels(table)
        # What every webhook counts, each child looked up once rather than per request.
        self.received = {
            status: self.alerts_received.labels(status.value) for status in AlertStatus
        }
        self._answered: dict[int, Counter] = {}

    def webhook_answered(self, code: int, seconds: float) -> None:
        child = self._answered.get(code)
        if child is None:
            child = self._answered[code] = self.webhook_requests.labels(str(code))
        child.inc()
        self.webhook_duration.observe(seconds)

    def set_open_counts(self, counts: dict[str, int]) -> None:
        for severity in Severity:
            self.open_incidents.labels(severity.value).set(counts.get(severity.value, 0))

    def set_outbox(self, channel: str, backlog: int, oldest_s: float) -> None:
        self.outbox_backlog.labels(channel).set(backlog)
        self.outbox_oldest.labels(channel).set(oldest_s)
