"""End to end: live SLO classification against a real Prometheus.

The test serves `http_requests_total{job, region, code}` counters that grow at per-second
rates it sets (`CounterTarget`); one Prometheus (scrape_interval 1s) scrapes them for the
whole module. Each scenario uses its own `job` label, so scenarios never see each other's
traffic, and starts its own daemon whose one rule (`checkout`) reads that job's error ratio
through a `promql` template split by region. Webhooks are posted straight to the daemon in
Alertmanager's shape (the Alertmanager e2e covers delivery): the alert only says
`severity="warning"`, so any other impact must come from Prometheus's numbers.

Before an alert is posted the test polls Prometheus itself until the error-ratio queries
show the traffic it set, so the daemon's verdict does not depend on machine speed.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import (
    LOG_TAIL_CHARS,
    CounterTarget,
    Managed,
    ProcessDied,
    Processes,
    free_port,
    get_json,
    missing_binaries,
    post_json,
    prometheus_query,
    sample_values,
    scrape,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.e2e

PROMETHEUS = "prometheus"
WEBHOOK_TOKEN = "e2e-slo-webhook-token"
API_TOKEN = "e2e-slo-api-token"

STARTUP_DEADLINE_S = 60.0
SETTLE_DEADLINE_S = 60.0  # Prometheus shows the traffic the test set
VERDICT_DEADLINE_S = 60.0  # the daemon's incident shows the expected verdict

REGIONS = ("eu", "us", "ap")
REQUESTS_PER_SECOND = 20.0  # per region; equal traffic, so service-wide = mean of regions
OBJECTIVE = 0.99  # error budget 1%
OUTAGE_LINE = 0.5
PAGE_FACTOR = 10.0
SUSTAIN = "10s"
PAGE_LONG, PAGE_SHORT = "20s", "10s"
WINDOWS = (SUSTAIN, PAGE_LONG, PAGE_SHORT)
TOLERANCE = 0.01  # how close Prometheus's ratio must be to the one set

OUTAGE_RATIO = 0.8  # >= outage line 0.5
DEGRADED_RATIO = 0.03  # > 1% budget, burn 3x < page factor 10

TEMPLATE_BY = "{{by}}"
TEMPLATE_WINDOW = "{{window}}"


def error_ratio_template(job: str) -> str:
    return (
        f'sum {TEMPLATE_BY} (rate(http_requests_total{{job="{job}",code="500"}}[{TEMPLATE_WINDOW}]))'
        f' / sum {TEMPLATE_BY} (rate(http_requests_total{{job="{job}"}}[{TEMPLATE_WINDOW}]))'
    )


def render(job: str, window: str, by: str = "") -> str:
    """The test's own rendering of the template (independent of the daemon's)."""
    by_clause = f"by ({by})" if by else ""
    return (
        error_ratio_template(job).replace(TEMPLATE_WINDOW, window).replace(TEMPLATE_BY, by_clause)
    )


# ---------------------------------------------------------------- shared Prometheus


@dataclass
class SharedPrometheus:
    processes: Processes
    managed: Managed
    url: str
    target: CounterTarget


def _write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path


def _prometheus_config(directory: Path, targets: list[str]) -> Path:
    scrape_configs = [
        {
            "job_name": "synthetic",
            # The target sets `job` itself (one per scenario): keep it, do not rename it.
            "honor_labels": True,
            "static_configs": [{"targets": targets}],
        }
    ]
    return _write_yaml(
        directory / "prometheus.yml",
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": scrape_configs if targets else [],
        },
    )


def _start_prometheus(processes: Processes, directory: Path, targets: list[str]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    processes.start(
        "prometheus",
        [
            PROMETHEUS,
            f"--config.file={_prometheus_config(directory, targets)}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        cwd=directory,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(
        f"{url}/-/ready",
        what="Prometheus /-/ready",
        deadline_s=STARTUP_DEADLINE_S,
        processes=processes,
    )
    return url


def _require_prometheus() -> None:
    if missing_binaries(PROMETHEUS):
        pytest.skip(
            f"end-to-end SLO test needs {PROMETHEUS!r} on PATH "
            "(Debian package prometheus; `make test` installs it)"
        )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedPrometheus]:
    _require_prometheus()
    directory = tmp_path_factory.mktemp("prometheus")
    processes = Processes(directory / "logs")
    target = CounterTarget("http_requests_total").start()
    try:
        url = _start_prometheus(processes, directory, [target.address])
        wait_until(
            lambda: target.scrapes >= 2,
            what="Prometheus to scrape the synthetic target",
            deadline_s=STARTUP_DEADLINE_S,
            processes=processes,
        )
        yield SharedPrometheus(processes, processes.started[0], url, target)
    finally:
        processes.stop_all()
        target.stop()
        print(processes.describe(tail=None))


# ---------------------------------------------------------------- one scenario's daemon


@dataclass
class Watched(Processes):
    """This scenario's processes, plus shared ones it depends on (checked, never stopped)."""

    shared: list[Managed] = field(default_factory=list)

    def check_alive(self) -> None:
        dead = [p for p in [*self.shared, *self.started] if p.returncode() is not None]
        if dead:
            names = ", ".join(f"{p.name} (exit {p.returncode()})" for p in dead)
            raise ProcessDied(f"process exited early: {names}\n{self.describe()}")

    def describe(self, tail: int | None = LOG_TAIL_CHARS) -> str:
        return "\n".join(p.describe(tail) for p in [*self.shared, *self.started])


@dataclass
class Daemon:
    processes: Watched
    managed: Managed
    url: str
    job: str

    def incidents(self) -> list[dict[str, Any]] | None:
        listing = get_json(f"{self.url}/api/v1/incidents")
        if not isinstance(listing, dict):
            return None
        found: list[dict[str, Any]] = listing["incidents"]
        return found

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        found = get_json(f"{self.url}/api/v1/incidents/{incident_id}")
        return found if isinstance(found, dict) else None

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        found = get_json(f"{self.url}/api/v1/incidents/{incident_id}/timeline")
        assert isinstance(found, dict), found
        entries: list[dict[str, Any]] = found["entries"]
        return entries

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        samples = scrape(f"{self.url}/metrics")
        assert samples is not None, self.processes.describe()
        return samples

    def post_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        answer = post_json(
            f"{self.url}/api/v1/alertmanager",
            webhook(alert),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        )
        assert answer is not None, f"the daemon did not answer\n{self.processes.describe()}"
        assert answer.status == 200, (answer.status, answer.text)
        body: dict[str, Any] = answer.json()
        return body

    def wait(
        self, probe: Callable[[], Any], what: str, deadline_s: float = VERDICT_DEADLINE_S
    ) -> Any:
        return wait_until(
            probe,
            what=what,
            deadline_s=deadline_s,
            processes=self.processes,
            observe=lambda: {"incidents": self.incidents()},
        )


def _rules(directory: Path, job: str) -> Path:
    rules_dir = directory / "rules"
    rules_dir.mkdir()
    _write_yaml(
        rules_dir / "checkout.yaml",
        {
            "services": [
                {
                    "name": "checkout",
                    "description": f"Checkout, traffic of job {job!r} in three regions",
                    "match": ['service="checkout"'],
                    "slo": {
                        "objective": OBJECTIVE,
                        "outage_line": OUTAGE_LINE,
                        "parts_label": "region",
                        "sustain": SUSTAIN,
                        "burn_windows": [
                            {
                                "severity": "page",
                                "factor": PAGE_FACTOR,
                                "long": PAGE_LONG,
                                "short": PAGE_SHORT,
                            }
                        ],
                        "source": {"promql": {"error_ratio": error_ratio_template(job)}},
                    },
                }
            ]
        },
    )
    return rules_dir


def _daemon_config(directory: Path, port: int, prometheus_url: str, rules_dir: Path) -> Path:
    return _write_yaml(
        directory / "firstresponder.yaml",
        {
            "server": {
                "listen": f"127.0.0.1:{port}",
                "public_url": f"http://127.0.0.1:{port}",
                "shutdown_timeout": "5s",
            },
            "store": {"url": f"sqlite:///{directory / 'firstresponder.db'}"},
            "escalation": {"enabled": False},  # these tests are about declaring, not paging
            "auth": {
                "webhook": {"bearer_token": WEBHOOK_TOKEN},
                "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
            },
            "rules_dir": str(rules_dir),
            "prometheus": {
                "url": prometheus_url,
                "timeout": "2s",
                "evaluation_interval": "1s",
            },
            "logging": {"level": "info", "format": "json"},
        },
    )


DaemonFactory = Callable[[str, str, list[Managed]], Daemon]


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[DaemonFactory]:
    """`start_daemon(job, prometheus_url, shared)` starts a daemon (ready awaited by `ready`)."""
    started: list[Watched] = []

    def start(job: str, prometheus_url: str, shared: list[Managed]) -> Daemon:
        processes = Watched(tmp_path / "logs", shared=list(shared))
        started.append(processes)
        port = free_port()
        config = _daemon_config(tmp_path, port, prometheus_url, _rules(tmp_path, job))
        managed = processes.start(
            "firstresponder",
            [str(Path(sys.executable).parent / "firstresponder"), "serve", "--config", str(config)],
            cwd=tmp_path,
        )
        return Daemon(processes, managed, f"http://127.0.0.1:{port}", job)

    try:
        yield start
    finally:
        for processes in started:
            processes.stop_all()
            print(processes.describe(tail=None))  # shown by pytest only when the test failed


def ready(daemon: Daemon) -> None:
    wait_ready(
        f"{daemon.url}/readyz",
        what="firstresponder /readyz",
        deadline_s=STARTUP_DEADLINE_S,
        processes=daemon.processes,
    )


# ---------------------------------------------------------------- traffic and alerts


NO_TRAFFIC = math.nan  # a region serving nothing: PromQL's 0/0, "no data"


def set_error_ratios(target: CounterTarget, job: str, ratios: Mapping[str, float]) -> None:
    """From now on each region serves REQUESTS_PER_SECOND with `ratio` of them failing
    (NO_TRAFFIC: the region's counters exist but stop growing)."""
    for region, ratio in ratios.items():
        total = 0.0 if math.isnan(ratio) else REQUESTS_PER_SECOND
        errors = 0.0 if math.isnan(ratio) else total * ratio
        target.set_rate({"job": job, "region": region, "code": "500"}, errors)
        target.set_rate({"job": job, "region": region, "code": "200"}, total - errors)


def everywhere(ratio: float) -> dict[str, float]:
    return dict.fromkeys(REGIONS, ratio)


def by_region(url: str, job: str) -> dict[str, float] | None:
    answer = prometheus_query(url, render(job, SUSTAIN, "region"))
    if answer is None:
        return None
    return {labels.get("region", ""): value for labels, value in answer}


def service_wide(url: str, job: str) -> dict[str, float] | None:
    found: dict[str, float] = {}
    for window in WINDOWS:
        answer = prometheus_query(url, render(job, window))
        if not answer:
            return None
        found[window] = answer[0][1]
    return found


def settled(url: str, job: str, ratios: Mapping[str, float]) -> dict[str, Any] | None:
    """Prometheus shows `ratios` per region (sustain window) and their mean in every window."""
    parts, overall = by_region(url, job), service_wide(url, job)
    if parts is None or overall is None or set(parts) != set(ratios):
        return None
    serving = [v for v in ratios.values() if not math.isnan(v)]
    mean = math.fsum(serving) / len(serving)

    def near(seen: float, wanted: float) -> bool:
        return math.isnan(seen) if math.isnan(wanted) else abs(seen - wanted) <= TOLERANCE

    if all(near(parts[r], v) for r, v in ratios.items()) and all(
        near(v, mean) for v in overall.values()
    ):
        return {"by_region": parts, "service_wide": overall}
    return None


def wait_settled(
    url: str, job: str, ratios: Mapping[str, float], processes: Processes
) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: settled(url, job, ratios),
        what=f"Prometheus to show error ratios {dict(ratios)} for job {job!r}",
        deadline_s=SETTLE_DEADLINE_S,
        processes=processes,
        observe=lambda: {"by_region": by_region(url, job), "service_wide": service_wide(url, job)},
    )
    return found


def firing_alert(name: str) -> dict[str, Any]:
    labels = {"alertname": name, "service": "checkout", "severity": "warning"}
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": "checkout is failing requests"},
        "startsAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
    }


def webhook(alert: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager's webhook v4 for one group holding `alert`."""
    return {
        "version": "4",
        "groupKey": '{}:{service="checkout"}',
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": "firstresponder",
        "groupLabels": {"service": "checkout"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.invalid",
        "alerts": [alert],
    }


def declared_incident(daemon: Daemon, answer: Mapping[str, Any]) -> dict[str, Any]:
    ids = answer.get("incidents")
    assert isinstance(ids, list) and len(ids) == 1, answer
    incident = daemon.incident(int(ids[0]))
    assert incident is not None, daemon.processes.describe()
    return incident


def evidence_of(incident: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in incident["classification"]["evidence"] if e["kind"] == kind]


# ---------------------------------------------------------------- scenarios a, b, c


def check_outage(job: str, incident: dict[str, Any]) -> None:
    reason = incident["classification"]["reason"]
    assert "outage line" in reason and all(r in reason for r in REGIONS), reason
    [line] = [e for e in evidence_of(incident, "outage_line") if e["crossed"]]
    assert set(line["parts"]) == set(REGIONS), line
    assert line["threshold"] == pytest.approx(OUTAGE_LINE), line
    assert line["value"] >= OUTAGE_LINE, line
    assert line["window"] == SUSTAIN, line
    assert f'job="{job}"' in line["query"] and "by (region)" in line["query"], line


def check_partial(job: str, incident: dict[str, Any]) -> None:
    reason = incident["classification"]["reason"]
    assert "1 of 3 regions (eu)" in reason, reason
    [line] = [e for e in evidence_of(incident, "outage_line") if e["crossed"]]
    assert line["parts"] == ["eu"], line
    assert line["value"] == pytest.approx(OUTAGE_RATIO, abs=TOLERANCE), line


def check_quiet_region(job: str, incident: dict[str, Any]) -> None:
    """A region without traffic (0/0) is no data: the others decide, and the gap is said."""
    reason = incident["classification"]["reason"]
    assert "outage line" in reason and "no data for region ap" in reason, reason
    lines = evidence_of(incident, "outage_line")
    [crossed] = [e for e in lines if e["crossed"]]
    assert set(crossed["parts"]) == {"eu", "us"}, crossed
    [gap] = [e for e in lines if e["value"] == "NaN"]
    assert gap["parts"] == ["ap"] and "no data" in gap["note"], gap
    assert not any(e["value"] in ("-Inf", "+Inf") for e in lines), lines


def check_degraded(job: str, incident: dict[str, Any]) -> None:
    reason = incident["classification"]["reason"]
    assert "SLO" in reason and "outage line" not in reason, reason
    [ratio] = evidence_of(incident, "error_ratio")
    assert ratio["crossed"] is True, ratio
    assert ratio["value"] == pytest.approx(DEGRADED_RATIO, abs=TOLERANCE), ratio
    assert ratio["threshold"] == pytest.approx(1 - OBJECTIVE), ratio
    burns = evidence_of(incident, "burn_rate")
    assert {b["window"] for b in burns} == {PAGE_LONG, PAGE_SHORT}, burns
    assert not any(b["crossed"] for b in burns), burns
    assert all(b["value"] == pytest.approx(3.0, abs=1.0) for b in burns), burns
    assert not any(e["crossed"] for e in evidence_of(incident, "outage_line")), incident


@pytest.mark.parametrize(
    ("scenario", "ratios", "impact", "severity", "check"),
    [
        ("outage", everywhere(OUTAGE_RATIO), "outage", "S1", check_outage),
        (
            "partial",
            {"eu": OUTAGE_RATIO, "us": 0.0, "ap": 0.0},
            "partial_disruption",
            "S2",
            check_partial,
        ),
        ("degraded", everywhere(DEGRADED_RATIO), "degraded", "S3", check_degraded),
        (
            "quiet",
            {"eu": OUTAGE_RATIO, "us": OUTAGE_RATIO, "ap": NO_TRAFFIC},
            "outage",
            "S1",
            check_quiet_region,
        ),
    ],
    ids=["outage", "partial", "degraded", "quiet-region"],
)
def test_live_numbers_decide_the_impact(
    prometheus: SharedPrometheus,
    start_daemon: DaemonFactory,
    scenario: str,
    ratios: dict[str, float],
    impact: str,
    severity: str,
    check: Callable[[str, dict[str, Any]], None],
) -> None:
    job = f"checkout-{scenario}"
    daemon = start_daemon(job, prometheus.url, [prometheus.managed])
    set_error_ratios(prometheus.target, job, ratios)
    ready(daemon)
    wait_settled(prometheus.url, job, ratios, daemon.processes)

    incident = declared_incident(daemon, daemon.post_alert(firing_alert(f"Checkout{scenario}")))

    shown = (incident["service"], incident["impact"], incident["severity"])
    assert shown == ("checkout", impact, severity), incident
    assert incident["classification"]["impact"] == impact, incident
    assert incident["classification"]["reason"].startswith("SLO: "), incident
    assert "unavailable" not in incident["classification"]["reason"], incident
    check(job, incident)
    samples = daemon.metrics()
    assert sum(sample_values(samples, "firstresponder_prometheus_query_errors_total")) == 0
    declared = sample_values(
        samples,
        "firstresponder_incidents_declared_total",
        service="checkout",
        severity=severity,
        impact=impact,
    )
    assert declared == [1.0], declared


# ---------------------------------------------------------------- scenario d


def _webhooks_received(daemon: Daemon) -> float:
    return sum(sample_values(daemon.metrics(), "firstresponder_webhook_requests_total"))


def test_degraded_incident_rises_to_outage_by_reevaluation(
    prometheus: SharedPrometheus, start_daemon: DaemonFactory
) -> None:
    job = "checkout-spreading"
    daemon = start_daemon(job, prometheus.url, [prometheus.managed])
    set_error_ratios(prometheus.target, job, everywhere(DEGRADED_RATIO))
    ready(daemon)
    wait_settled(prometheus.url, job, everywhere(DEGRADED_RATIO), daemon.processes)

    incident = declared_incident(daemon, daemon.post_alert(firing_alert("CheckoutSpreading")))
    assert (incident["impact"], incident["severity"]) == ("degraded", "S3"), incident
    incident_id = incident["id"]
    webhooks = _webhooks_received(daemon)

    # Every region fails now; no new webhook: scheduled re-evaluation must notice.
    spread = time.monotonic()
    set_error_ratios(prometheus.target, job, everywhere(OUTAGE_RATIO))

    def all_regions_down() -> bool:
        parts = by_region(prometheus.url, job)
        return (
            bool(parts)
            and parts is not None
            and set(parts) == set(REGIONS)
            and all(v >= OUTAGE_LINE for v in parts.values())
        )

    wait_until(
        all_regions_down,
        what="Prometheus to show every region above the outage line",
        deadline_s=SETTLE_DEADLINE_S,
        processes=daemon.processes,
        observe=lambda: by_region(prometheus.url, job),
    )

    def outage() -> dict[str, Any] | None:
        found = daemon.incident(incident_id)
        return found if found is not None and found["impact"] == "outage" else None

    raised: dict[str, Any] = daemon.wait(outage, "the open incident to rise to outage")
    rise_s = time.monotonic() - spread

    assert raised["severity"] == "S1", raised
    assert raised["state"] == "investigating", raised
    assert raised["classification"]["impact"] == "outage", raised
    assert raised["classification"]["reason"].startswith("SLO: "), raised
    check_outage(job, raised)
    assert [i["id"] for i in daemon.incidents() or []] == [incident_id]
    assert _webhooks_received(daemon) == webhooks, "a webhook arrived; the rise must not need one"

    entries = daemon.timeline(incident_id)
    kinds = [e["kind"] for e in entries]
    assert kinds.count("declared") == 1, kinds
    impact_raised = [e for e in entries if e["kind"] == "impact_raised"]
    severity_raised = [e for e in entries if e["kind"] == "severity_raised"]
    assert impact_raised and severity_raised, kinds
    assert impact_raised[0]["data"]["from"] == "degraded", impact_raised
    assert impact_raised[-1]["data"]["to"] == "outage", impact_raised
    assert "SLO" in impact_raised[-1]["message"], impact_raised
    assert any(e["kind"] == "outage_line" for e in impact_raised[-1]["data"]["evidence"])
    assert severity_raised[0]["data"]["from"] == "S3", severity_raised
    assert severity_raised[-1]["data"]["to"] == "S1", severity_raised
    # The impact only went up, one step at a time at most (it may pass through partial).
    order = ["degraded", "partial_disruption", "outage"]
    steps = [(order.index(e["data"]["from"]), order.index(e["data"]["to"])) for e in impact_raised]
    assert all(a < b for a, b in steps), impact_raised
    print(f"rise to outage took {rise_s:.1f}s; impact steps {[e['data'] for e in impact_raised]}")


# ---------------------------------------------------------------- scenario e


def test_prometheus_down_classifies_from_labels(
    tmp_path: Path, start_daemon: DaemonFactory
) -> None:
    _require_prometheus()
    # A Prometheus of its own, stopped before the alert (the shared one keeps serving).
    doomed = Processes(tmp_path / "doomed-logs")
    try:
        url = _start_prometheus(doomed, tmp_path / "doomed-prometheus", [])
        daemon = start_daemon("checkout-dark", url, [])
        ready(daemon)
        code = doomed.started[0].terminate(timeout=15.0)
        assert code is not None
    finally:
        doomed.stop_all()
    assert prometheus_query(url, "vector(1)") is None, "Prometheus still answers"

    incident = declared_incident(daemon, daemon.post_alert(firing_alert("CheckoutDark")))
    assert (incident["impact"], incident["severity"]) == ("degraded", "S3"), incident
    classification = incident["classification"]
    assert classification["impact"] == "degraded", classification
    reason = classification["reason"]
    assert 'severity="warning"' in reason and "unavailable" in reason, reason
    assert "live SLO numbers unavailable" in reason, reason

    errors = sample_values(daemon.metrics(), "firstresponder_prometheus_query_errors_total")
    assert sum(errors) > 0, errors
    # Re-evaluation keeps failing too: said once on the timeline, severity kept.
    daemon.wait(
        lambda: any(e["kind"] == "slo_unavailable" for e in daemon.timeline(incident["id"])),
        "the timeline to note that re-evaluation failed",
    )
    after = daemon.incident(incident["id"])
    assert after is not None and (after["impact"], after["severity"]) == ("degraded", "S3"), after
