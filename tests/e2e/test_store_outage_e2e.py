"""The database goes down under the real daemon and comes back: 503 meanwhile, no restart.

A private PostgreSQL (initdb + pg_ctl on a free port) is stopped with `-m immediate`, as a
crash or a lost host would stop it. While it is down the daemon stays up, answers the
webhook 503 (Alertmanager retries 5xx) and `/readyz` 503, and keeps `/healthz` 200 (so
Kubernetes takes it out of the Service rather than restarting it). Once the database is
back the very next webhook is accepted, and what was accepted before the crash is there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload
from .daemons import Daemon
from .harness import HttpAnswer, Processes, free_port, get_json, http_get, post_json
from .postgres import PrivatePostgres, private_postgres, unavailable_reason

pytestmark = pytest.mark.e2e

HOOK_HEADERS = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"no private PostgreSQL: {reason}")
    with private_postgres() as server:
        yield server


@pytest.fixture
def daemon(tmp_path: Path, database: PrivatePostgres) -> Iterator[Daemon]:
    port = free_port()
    config = tmp_path / "firstresponder.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
                "store": {
                    "url": database.url,
                    "connect_timeout": "2s",
                    "pool_timeout": "2s",
                    "statement_timeout": "5s",
                },
                "auth": {
                    "webhook": {"bearer_token": WEBHOOK_TOKEN},
                    "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
                },
                "escalation": {"enabled": False},
                "logging": {"level": "info", "format": "json"},
            }
        )
    )
    processes = Processes(tmp_path / "logs")
    try:
        yield Daemon(processes, config, f"http://127.0.0.1:{port}")
    finally:
        processes.stop_all()
        print(processes.describe(tail=None))
        print(f"----- postgres log -----\n{database.server_log()}")


def _post(daemon: Daemon, alertname: str) -> HttpAnswer:
    alert = make_alert(labels={"service": "cart", "impact": "degraded", "alertname": alertname})
    answer = post_json(
        f"{daemon.url}/api/v1/alertmanager", make_payload(alert), headers=HOOK_HEADERS
    )
    assert answer is not None, "the daemon did not answer the webhook"
    return answer


def _status(daemon: Daemon, path: str) -> int | None:
    answer = http_get(f"{daemon.url}{path}")
    return None if answer is None else answer.status


def _fingerprints(incident: dict[str, Any]) -> set[str]:
    return {alert["fingerprint"] for alert in incident["alerts"]}


def test_database_down_answers_503_and_the_next_webhook_after_recovery_is_accepted(
    daemon: Daemon, database: PrivatePostgres
) -> None:
    daemon.start()
    assert daemon.managed is not None
    before = _post(daemon, "CartErrors")
    assert before.status == 200, before.text
    [incident_id] = before.json()["incidents"]

    database.stop_immediately()
    down = _post(daemon, "CartLatency")
    assert down.status == 503, down.text
    assert down.json() == {"error": "store unavailable, retry later"}
    assert daemon.managed.returncode() is None, "the daemon must survive the outage"
    assert _status(daemon, "/healthz") == 200
    assert _status(daemon, "/readyz") == 503

    database.start()
    after = _post(daemon, "CartLatency")
    assert after.status == 200, after.text
    assert after.json()["incidents"] == [incident_id]
    assert _status(daemon, "/readyz") == 200
    incident = get_json(f"{daemon.url}/api/v1/incidents/{incident_id}")
    assert incident is not None
    assert _fingerprints(incident) == {"fp-CartErrors-cart", "fp-CartLatency-cart"}
    listed = get_json(f"{daemon.url}/api/v1/incidents")
    assert listed is not None and [i["id"] for i in listed["incidents"]] == [incident_id]
