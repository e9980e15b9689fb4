"""End to end: the dead-man's switch and Alertmanager silences, through the real daemon.

- A Watchdog that stops pages the EOC (a fake PagerDuty) exactly once, also when its
  absence spans a `kill -9` and restart; its return moves the incident to monitoring.
- A silence is created in a real `prometheus-alertmanager` on acknowledgement, extended
  while the incident is open, and expired on resolution (read back from its API).

Durations are seconds here; every wait polls with a deadline, none is a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload
from ..fakes import CA_FILE, FakePagerDuty
from .daemons import Daemon, Threaded
from .harness import (
    Processes,
    free_port,
    get_json,
    missing_binaries,
    post_json,
    sample_values,
    scrape,
    wait_ready,
    wait_until,
)

pytestmark = pytest.mark.e2e

ALERTMANAGER = "prometheus-alertmanager"
KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
HEARTBEAT_TIMEOUT_S = 4
SILENCE_S = 6
DEADLINE_S = 60.0
HOOK = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}


def _daemon(tmp_path: Path, **extra: Any) -> tuple[Daemon, Processes]:
    port = free_port()
    config = {
        "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
        "store": {"url": f"sqlite:///{tmp_path / 'fr.db'}"},
        "auth": {
            "webhook": {"bearer_token": WEBHOOK_TOKEN},
            "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
        },
        "escalation": {"enabled": False},
        "logging": {"level": "info", "format": "json"},
        **extra,
    }
    path = tmp_path / "firstresponder.yaml"
    path.write_text(yaml.safe_dump(config))
    processes = Processes(tmp_path / "logs")
    return Daemon(processes, path, f"http://127.0.0.1:{port}"), processes


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with Threaded(FakePagerDuty()) as fake:
        yield fake


@pytest.fixture
def watched(tmp_path: Path, pd: FakePagerDuty) -> Iterator[Daemon]:
    daemon, processes = _daemon(
        tmp_path,
        escalation={"enabled": True},
        pagerduty={"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
        heartbeat={"repeat_interval": "1s", "timeout": f"{HEARTBEAT_TIMEOUT_S}s"},
    )
    try:
        yield daemon
    finally:
        processes.stop_all()
        print(processes.describe(tail=None))


def _watchdog(daemon: Daemon) -> None:
    alert = make_alert(labels={"alertname": "Watchdog", "severity": "none"})
    alert["labels"].pop("service")  # a Watchdog carries no service label
    answer = post_json(f"{daemon.url}/api/v1/alertmanager", make_payload(alert), headers=HOOK)
    assert answer is not None and answer.status == 200, answer
    assert answer.json()["incidents"] == []  # the heartbeat is never an incident


def _eoc_triggers(pd: FakePagerDuty) -> list[str]:
    return [
        e["dedup_key"]
        for e in pd.events
        if e["event_action"] == "trigger" and e["routing_key"] == KEYS["eoc"]
    ]


def _pipeline_incidents(daemon: Daemon) -> list[dict[str, Any]]:
    body = get_json(f"{daemon.url}/api/v1/incidents")
    found = body["incidents"] if isinstance(body, dict) else []
    return [i for i in found if i["service"] == "alerting-pipeline"]


def _heartbeat_age(daemon: Daemon) -> float | None:
    samples = scrape(f"{daemon.url}/metrics")
    values = sample_values(samples or {}, "firstresponder_heartbeat_age_seconds")
    return values[0] if values else None


def _passed(since: float, seconds: float) -> bool | None:
    return time.monotonic() > since + seconds or None


def test_a_stopped_watchdog_pages_once_and_its_return_moves_to_monitoring(
    watched: Daemon, pd: FakePagerDuty
) -> None:
    watched.start()
    _watchdog(watched)
    stopped = time.monotonic()
    [incident] = wait_until(
        lambda: _pipeline_incidents(watched) or None,
        what="the alerting-pipeline incident",
        deadline_s=DEADLINE_S,
        observe=lambda: _heartbeat_age(watched),
    )
    # Not before the threshold (less a second: the heartbeat was stored before `stopped`).
    assert time.monotonic() - stopped >= HEARTBEAT_TIMEOUT_S - 1
    wait_until(lambda: _eoc_triggers(pd) or None, what="EOC paged", deadline_s=DEADLINE_S)
    # Still missing for two more timeouts: no second page.
    later = time.monotonic()
    wait_until(lambda: _passed(later, 2 * HEARTBEAT_TIMEOUT_S), what="time", deadline_s=30)
    assert _eoc_triggers(pd) == [f"firstresponder-{incident['id']}-eoc"]
    assert [i["id"] for i in _pipeline_incidents(watched)] == [incident["id"]]

    _watchdog(watched)
    wait_until(
        lambda: [i for i in _pipeline_incidents(watched) if i["state"] == "monitoring"] or None,
        what="the incident in monitoring once the heartbeat is back",
        deadline_s=DEADLINE_S,
    )
    assert len(_eoc_triggers(pd)) == 1


def test_an_absence_spanning_a_kill_9_pages_once_counted_from_the_last_heartbeat(
    watched: Daemon, pd: FakePagerDuty
) -> None:
    watched.start()
    _watchdog(watched)
    seen = time.monotonic()
    wait_until(lambda: (_heartbeat_age(watched) is not None) or None, what="metrics", deadline_s=30)
    watched.kill_9()
    wait_until(
        lambda: _passed(seen, HEARTBEAT_TIMEOUT_S + 1),
        what="the timeout to pass while down",
        deadline_s=30,
        interval_s=0.2,
    )
    assert _eoc_triggers(pd) == []
    watched.start()
    # Counted from the last heartbeat, not from start-up: the age is already past it.
    age = wait_until(lambda: _heartbeat_age(watched) or None, what="age", deadline_s=30)
    assert age >= HEARTBEAT_TIMEOUT_S
    [incident] = wait_until(
        lambda: _pipeline_incidents(watched) or None, what="incident", deadline_s=DEADLINE_S
    )
    wait_until(lambda: _eoc_triggers(pd) or None, what="EOC paged", deadline_s=DEADLINE_S)

    watched.kill_9()  # and again: the declaration is durable, nobody is paged twice
    watched.start()
    restarted = time.monotonic()
    wait_until(lambda: _passed(restarted, 2 * HEARTBEAT_TIMEOUT_S), what="time", deadline_s=30)
    assert _eoc_triggers(pd) == [f"firstresponder-{incident['id']}-eoc"]
    assert len(_pipeline_incidents(watched)) == 1


# --- silences in a real Alertmanager ---------------------------------------------------


@dataclass
class SilenceStack:
    daemon: Daemon
    alertmanager_url: str
    processes: Processes


@pytest.fixture
def silence_stack(tmp_path: Path) -> Iterator[SilenceStack]:
    missing = missing_binaries(ALERTMANAGER)
    if missing:
        pytest.skip(f"needs {ALERTMANAGER} on PATH (Debian package prometheus-alertmanager)")
    am_port = free_port()
    am_url = f"http://127.0.0.1:{am_port}"
    daemon, processes = _daemon(
        tmp_path, alertmanager={"url": am_url, "silence_duration": f"{SILENCE_S}s"}
    )
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "null", "repeat_interval": "1h"},
                "receivers": [{"name": "null"}],
            }
        )
    )
    (tmp_path / "am-data").mkdir()
    try:
        processes.start(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={am_config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            cwd=tmp_path,
        )
        wait_ready(
            f"{am_url}/-/ready", what="Alertmanager", deadline_s=DEADLINE_S, processes=processes
        )
        daemon.start()
        yield SilenceStack(daemon, am_url, processes)
    finally:
        processes.stop_all()
        print(processes.describe(tail=None))


def _silences(s: SilenceStack) -> list[dict[str, Any]]:
    found = get_json(f"{s.alertmanager_url}/api/v2/silences")
    return found if isinstance(found, list) else []


def _kinds(s: SilenceStack, incident_id: int) -> list[str]:
    body = get_json(f"{s.daemon.url}/api/v1/incidents/{incident_id}/timeline")
    return [e["kind"] for e in body["entries"]] if isinstance(body, dict) else []


def test_a_silence_is_created_on_ack_extended_and_expired_on_resolve(
    silence_stack: SilenceStack,
) -> None:
    s = silence_stack
    alerts = [
        make_alert(labels={"alertname": "CartErrors", "service": "cart", "impact": "outage"}),
        make_alert(labels={"alertname": "Watchdog", "severity": "none"}, fingerprint="fp-wd"),
    ]
    answer = post_json(f"{s.daemon.url}/api/v1/alertmanager", make_payload(*alerts), headers=HOOK)
    assert answer is not None and answer.status == 200, answer
    [incident_id] = answer.json()["incidents"]
    assert _silences(s) == []

    acked = post_json(f"{s.daemon.url}/api/v1/incidents/{incident_id}/ack", {}, headers=API)
    assert acked is not None and acked.status == 200, acked
    [silence] = wait_until(
        lambda: [x for x in _silences(s) if x["status"]["state"] == "active"] or None,
        what="an active silence",
        deadline_s=DEADLINE_S,
        processes=s.processes,
    )
    assert {(m["name"], m["value"], m["isRegex"]) for m in silence["matchers"]} == {
        ("alertname", "CartErrors", False),
        ("service", "cart", False),
    }
    assert silence["createdBy"] == "firstresponder"
    assert f"incident {incident_id}" in silence["comment"]
    assert "silence_created" in _kinds(s, incident_id)
    first_end = silence["endsAt"]

    # Past half its duration it is extended, so it outlives its first end.
    wait_until(
        lambda: "silence_extended" in _kinds(s, incident_id) or None,
        what="the silence extended",
        deadline_s=DEADLINE_S,
        processes=s.processes,
    )
    [extended] = [x for x in _silences(s) if x["status"]["state"] == "active"]
    assert extended["endsAt"] > first_end

    resolved = post_json(
        f"{s.daemon.url}/api/v1/incidents/{incident_id}/resolve", {"note": "fixed"}, headers=API
    )
    assert resolved is not None and resolved.status == 200, resolved
    wait_until(
        lambda: all(x["status"]["state"] == "expired" for x in _silences(s)) or None,
        what="every silence expired",
        deadline_s=DEADLINE_S,
        processes=s.processes,
        observe=lambda: _silences(s),
    )
    assert "silence_expired" in _kinds(s, incident_id)
    # The Watchdog was never silenced.
    names = {m["value"] for x in _silences(s) for m in x["matchers"] if m["name"] == "alertname"}
    assert names == {"CartErrors"}
