"""End to end: a real Prometheus and Alertmanager drive the real daemon process.

The test serves a Sloth-shaped SLI itself; Prometheus scrapes it every second and evaluates
a Sloth-shaped page alert (`for: 3s`); Alertmanager (group_wait/group_interval 1s) posts the
webhook with a bearer token. Every notification is delivered twice (two identical
webhook_configs, as from two HA peers) so the daemon's idempotency is exercised for real.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import (
    Managed,
    Processes,
    SyntheticTarget,
    free_port,
    get_json,
    missing_binaries,
    sample_values,
    scrape,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.e2e

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for upstream `alertmanager`
REPO = Path(__file__).resolve().parents[2]
WEBHOOK_TOKEN = "e2e-webhook-token"
API_TOKEN = "e2e-api-token"

STARTUP_DEADLINE_S = 60.0
ALERT_DEADLINE_S = 90.0
SHUTDOWN_DEADLINE_S = 30.0

SLO_LABELS = (
    'sloth_id="payments-requests-availability",sloth_service="payments",'
    'sloth_slo="requests-availability"'
)
WINDOWS = ("5m", "30m", "1h", "6h")


def sli_body(error_ratio: float) -> str:
    """What Sloth's SLI recording rules would hold, exposed by the synthetic target."""
    lines = ["# TYPE slo:sli_error:ratio_rate5m gauge"]
    lines += [
        f'slo:sli_error:ratio_rate{w}{{{SLO_LABELS},sloth_window="{w}"}} {error_ratio}'
        for w in WINDOWS
    ]
    lines.append(f"slo:objective:ratio{{{SLO_LABELS}}} 0.999")
    return "\n".join(lines) + "\n"


def sloth_page_rule() -> dict[str, Any]:
    """The shape of Sloth's page alert: multiwindow burn rate, `sloth_severity: page`."""

    def burn(long: str, short: str, factor: float) -> str:
        def window(w: str) -> str:
            return (
                f"max(slo:sli_error:ratio_rate{w}{{{SLO_LABELS}}} > ({factor} * (1 - 0.999)))"
                " without (sloth_window)"
            )

        return f"({window(short)} and {window(long)})"

    return {
        "groups": [
            {
                "name": "sloth-slo-alerts-payments-requests-availability",
                "rules": [
                    {
                        "alert": "PaymentsRequestsAvailabilityBudgetBurn",
                        "expr": f"{burn('1h', '5m', 14.4)} or {burn('6h', '30m', 6)}",
                        "for": "3s",
                        "labels": {"sloth_severity": "page", "category": "availability"},
                        "annotations": {
                            "title": "(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} "
                            "SLO error budget burn rate is too fast.",
                            "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO "
                            "error budget burn rate is over the expected.",
                        },
                    }
                ],
            }
        ]
    }


@dataclass
class Stack:
    processes: Processes
    daemon: Managed
    daemon_url: str
    alertmanager_url: str
    prometheus_url: str
    target: SyntheticTarget
    timings: dict[str, float] = field(default_factory=dict)


def _daemon_executable() -> str:
    return str(Path(sys.executable).parent / "firstresponder")


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _daemon_config(tmp: Path, port: int) -> Path:
    # No prometheus.url: the daemon classifies from the alert's labels (Sloth's
    # sloth_severity=page -> partial_disruption -> S2), which is what this test pins down.
    return _write_yaml(
        tmp / "firstresponder.yaml",
        {
            "server": {
                "listen": f"127.0.0.1:{port}",
                "public_url": f"http://127.0.0.1:{port}",
                "shutdown_timeout": "10s",
            },
            "store": {"url": f"sqlite:///{tmp / 'firstresponder.db'}"},
            "escalation": {"enabled": False},  # these tests are about declaring, not paging
            "auth": {
                "webhook": {"bearer_token": WEBHOOK_TOKEN},
                "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
            },
            "rules_dir": str(REPO / "rules"),
            "logging": {"level": "info", "format": "json"},
        },
    )


def _alertmanager_config(tmp: Path, daemon_port: int) -> Path:
    webhook = {
        "url": f"http://127.0.0.1:{daemon_port}/api/v1/alertmanager",
        "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN}},
    }
    return _write_yaml(
        tmp / "alertmanager.yml",
        {
            "route": {
                "receiver": "firstresponder",
                "group_by": ["sloth_service", "sloth_slo"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            # Two identical integrations: every notification arrives twice, like HA peers.
            "receivers": [{"name": "firstresponder", "webhook_configs": [webhook, dict(webhook)]}],
        },
    )


def _prometheus_config(tmp: Path, alertmanager_port: int, target: str) -> Path:
    rules = _write_yaml(tmp / "sloth-rules.yml", sloth_page_rule())
    return _write_yaml(
        tmp / "prometheus.yml",
        {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(rules)],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}
                ]
            },
            "scrape_configs": [
                {"job_name": "payments-sli", "static_configs": [{"targets": [target]}]}
            ],
        },
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    missing = missing_binaries(PROMETHEUS, ALERTMANAGER)
    if missing:
        pytest.skip(
            f"end-to-end test needs {', '.join(missing)} on PATH "
            "(Debian packages prometheus, prometheus-alertmanager; `make test` installs them)"
        )
    daemon_port, am_port, prom_port = free_port(), free_port(), free_port()
    processes = Processes(tmp_path / "logs")
    target = SyntheticTarget(sli_body(0.0)).start()
    started = time.monotonic()
    try:
        daemon = processes.start(
            "firstresponder",
            [_daemon_executable(), "serve", "--config", str(_daemon_config(tmp_path, daemon_port))],
            cwd=tmp_path,
        )
        am_data = tmp_path / "alertmanager-data"
        am_data.mkdir()
        processes.start(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={_alertmanager_config(tmp_path, daemon_port)}",
                f"--storage.path={am_data}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            cwd=tmp_path,
        )
        processes.start(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={_prometheus_config(tmp_path, am_port, target.address)}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            cwd=tmp_path,
        )
        s = Stack(
            processes,
            daemon,
            f"http://127.0.0.1:{daemon_port}",
            f"http://127.0.0.1:{am_port}",
            f"http://127.0.0.1:{prom_port}",
            target,
        )
        for what, url in [
            ("firstresponder /readyz", f"{s.daemon_url}/readyz"),
            ("Alertmanager /-/ready", f"{s.alertmanager_url}/-/ready"),
            ("Prometheus /-/ready", f"{s.prometheus_url}/-/ready"),
        ]:
            wait_ready(url, what=what, deadline_s=STARTUP_DEADLINE_S, processes=processes)
        s.timings["startup"] = time.monotonic() - started
        yield s
    finally:
        processes.stop_all()
        target.stop()
        # Captured by pytest and shown only when the test failed.
        print(processes.describe(tail=None))


def _incidents(s: Stack) -> list[dict[str, Any]] | None:
    listing = get_json(f"{s.daemon_url}/api/v1/incidents")
    if not isinstance(listing, dict):
        return None
    found: list[dict[str, Any]] = listing["incidents"]
    return found


def _summary(s: Stack) -> object:
    """What to show when a wait times out: incidents and the webhook traffic so far."""
    samples = scrape(f"{s.daemon_url}/metrics") or {}
    webhooks = {
        dict(labels).get("code", "?"): value
        for (name, labels), value in samples.items()
        if name == "firstresponder_webhook_requests_total"
    }
    return {"incidents": _incidents(s), "webhook_requests_by_code": webhooks}


def _one_payments_incident(s: Stack, state: str) -> dict[str, Any] | None:
    found = _incidents(s) or []
    hits = [i for i in found if i["service"] == "payments" and i["state"] == state]
    return hits[0] if len(found) == 1 and hits else None


def _declared_metrics_settled(s: Stack) -> dict[str, list[float]] | None:
    samples = scrape(f"{s.daemon_url}/metrics")
    if samples is None:
        return None
    declared = sample_values(samples, "firstresponder_incidents_declared_total")
    open_s2 = sample_values(samples, "firstresponder_open_incidents", severity="S2")
    if sum(declared) >= 1 and open_s2 == [1.0]:
        return {
            "payments": sample_values(
                samples,
                "firstresponder_incidents_declared_total",
                service="payments",
                severity="S2",
                impact="partial_disruption",
            ),
            "declared_all": declared,
            "open_s2": open_s2,
            "duplicates": sample_values(samples, "firstresponder_alerts_duplicate_total"),
        }
    return None


def test_sloth_page_alert_declares_then_recovers_to_monitoring(stack: Stack) -> None:
    s = stack
    wait_until(
        lambda: s.target.scrapes >= 1,
        what="Prometheus to scrape the synthetic target",
        deadline_s=STARTUP_DEADLINE_S,
        processes=s.processes,
    )

    # The SLI goes bad: Prometheus fires after `for: 3s`, Alertmanager posts the webhook.
    s.target.set_body(sli_body(0.5))
    fired = time.monotonic()
    incident = wait_until(
        lambda: _one_payments_incident(s, "investigating"),
        what="one investigating incident for payments",
        deadline_s=ALERT_DEADLINE_S,
        processes=s.processes,
        observe=lambda: _summary(s),
    )
    s.timings["declared"] = time.monotonic() - fired
    assert (incident["service"], incident["severity"], incident["impact"]) == (
        "payments",
        "S2",
        "partial_disruption",
    )
    alerts = incident["alerts"]
    assert alerts, incident
    assert {a["labels"]["sloth_severity"] for a in alerts} == {"page"}

    metrics = wait_until(
        lambda: _declared_metrics_settled(s),
        what="declared/open incident metrics",
        deadline_s=ALERT_DEADLINE_S,
        processes=s.processes,
        observe=lambda: _summary(s),
    )
    assert metrics["payments"] == [1.0], metrics
    assert metrics["declared_all"] == [1.0], metrics
    assert metrics["open_s2"] == [1.0], metrics

    # The SLI recovers: the resolved notification (send_resolved) moves it to monitoring.
    s.target.set_body(sli_body(0.0))
    recovered = time.monotonic()
    monitoring = wait_until(
        lambda: _one_payments_incident(s, "monitoring"),
        what="the payments incident to move to monitoring",
        deadline_s=ALERT_DEADLINE_S,
        processes=s.processes,
        observe=lambda: _summary(s),
    )
    s.timings["monitoring"] = time.monotonic() - recovered
    assert monitoring["id"] == incident["id"]
    assert monitoring["resolved_at"] is None  # recovery never resolves by itself

    _assert_no_second_incident(s, incident["id"])
    _assert_alertmanager_delivered_cleanly(s)

    # Graceful shutdown: SIGTERM, exit 0, the store closed.
    started = time.monotonic()
    s.daemon.popen.send_signal(signal.SIGTERM)
    code = s.daemon.popen.wait(timeout=SHUTDOWN_DEADLINE_S)
    s.timings["shutdown"] = time.monotonic() - started
    assert code == 0, s.daemon.describe()
    assert "firstresponder stopped" in s.daemon.log(None), s.daemon.describe()
    print(f"e2e timings (s): { {k: round(v, 1) for k, v in s.timings.items()} }")


def _assert_no_second_incident(s: Stack, incident_id: int) -> None:
    """Duplicate deliveries (two integrations, retries, repeats) fed the same incident."""
    incidents = _incidents(s)
    assert incidents is not None and [i["id"] for i in incidents] == [incident_id], incidents
    timeline = get_json(f"{s.daemon_url}/api/v1/incidents/{incident_id}/timeline")
    assert isinstance(timeline, dict), timeline
    kinds = [e["kind"] for e in timeline["entries"]]
    assert kinds.count("declared") == 1, kinds
    samples = scrape(f"{s.daemon_url}/metrics")
    assert samples is not None
    assert sample_values(samples, "firstresponder_incidents_declared_total") == [1.0]
    # Monitoring is not resolved: the incident still counts as open.
    assert sample_values(samples, "firstresponder_open_incidents", severity="S2") == [1.0]
    # Every notification came twice, so the daemon must have seen (and ignored) duplicates.
    duplicates = sample_values(samples, "firstresponder_alerts_duplicate_total")
    assert duplicates and duplicates[0] >= 1, duplicates
    codes = {
        dict(labels).get("code"): value
        for (name, labels), value in samples.items()
        if name == "firstresponder_webhook_requests_total"
    }
    assert set(codes) == {"200"} and codes["200"] >= 4, codes  # 2 firing + 2 resolved, all 200


def _assert_alertmanager_delivered_cleanly(s: Stack) -> None:
    samples = scrape(f"{s.alertmanager_url}/metrics")
    assert samples is not None
    sent = sample_values(samples, "alertmanager_notifications_total", integration="webhook")
    failed = sample_values(
        samples, "alertmanager_notifications_failed_total", integration="webhook"
    )
    assert sum(sent) >= 4, sent
    assert sum(failed) == 0, failed
