"""Process-level faults: `kill -9` the daemon mid-incident, restart it, nothing is lost.

The real daemon process pages a fake PagerDuty (a real TLS server in a thread of this
test). Waits poll until something is observed; there is no fixed sleep.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload
from ..fakes import CA_FILE, FakePagerDuty, Recorded
from .daemons import Daemon, Threaded
from .harness import Processes, free_port, get_json, post_json, wait_until

KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
ACK_TIMEOUT_S = 4
DEADLINE_S = 30.0


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with Threaded(FakePagerDuty()) as fake:
        yield fake


@pytest.fixture
def daemon(tmp_path: Path, pd: FakePagerDuty) -> Iterator[Daemon]:
    port = free_port()
    config = tmp_path / "firstresponder.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
                "store": {"url": f"sqlite:///{tmp_path / 'fr.db'}"},
                "auth": {
                    "webhook": {"bearer_token": WEBHOOK_TOKEN},
                    "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
                },
                "escalation": {"enabled": True, "ack_timeout": f"{ACK_TIMEOUT_S}s"},
                "pagerduty": {"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
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


def _declare(daemon: Daemon) -> int:
    alert = make_alert(labels={"service": "cart", "impact": "degraded", "alertname": "CartErrors"})
    answer = post_json(
        f"{daemon.url}/api/v1/alertmanager",
        make_payload(alert),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )
    assert answer is not None and answer.status == 200, answer
    [incident_id] = answer.json()["incidents"]
    return int(incident_id)


def _triggers(pd: FakePagerDuty, role: str) -> list[str]:
    return [
        e["dedup_key"]
        for e in pd.events
        if e["event_action"] == "trigger" and e["routing_key"] == KEYS[role]
    ]


def _timeline(daemon: Daemon, incident_id: int) -> list[str]:
    body = get_json(f"{daemon.url}/api/v1/incidents/{incident_id}/timeline")
    return [e["kind"] for e in body["entries"]] if body else []


def test_kill_9_before_the_escalation_is_due_still_pages_the_imoc_once(
    daemon: Daemon, pd: FakePagerDuty
) -> None:
    daemon.start()
    incident_id = _declare(daemon)
    declared = time.monotonic()
    wait_until(lambda: _triggers(pd, "eoc") or None, what="EOC paged", deadline_s=DEADLINE_S)
    # Killed once the EOC page is recorded as delivered: killed between PagerDuty's 202 and
    # that commit, the restarted daemon sends the trigger again when its 10 s lease runs
    # out (at-least-once; PagerDuty folds it into the same incident by its dedup_key),
    # which is not what this test is about.
    wait_until(
        lambda: "paged" in _timeline(daemon, incident_id) or None,
        what="EOC page recorded",
        deadline_s=DEADLINE_S,
    )
    daemon.kill_9()
    # The escalation falls due while the daemon is dead.
    wait_until(
        lambda: time.monotonic() > declared + ACK_TIMEOUT_S or None,
        what="ack timeout passed",
        deadline_s=DEADLINE_S,
        interval_s=0.2,
    )
    assert _triggers(pd, "imoc") == []
    daemon.start()
    wait_until(lambda: _triggers(pd, "imoc") or None, what="IMOC paged", deadline_s=DEADLINE_S)
    wait_until(
        lambda: "paged" in _timeline(daemon, incident_id)[-1:] or None,
        what="IMOC page recorded",
        deadline_s=DEADLINE_S,
    )
    assert _triggers(pd, "imoc") == [f"firstresponder-{incident_id}-imoc"]
    assert _triggers(pd, "eoc") == [f"firstresponder-{incident_id}-eoc"]
    assert _timeline(daemon, incident_id).count("escalated") == 1


def test_kill_9_between_commit_and_delivery_loses_no_page(
    daemon: Daemon, pd: FakePagerDuty
) -> None:
    pd.fail_next(503, times=10_000)  # PagerDuty is down: the page stays in the outbox
    daemon.start()
    incident_id = _declare(daemon)
    wait_until(
        lambda: "page_delayed" in _timeline(daemon, incident_id) or None,
        what="page delayed",
        deadline_s=DEADLINE_S,
    )
    daemon.kill_9()
    pd.recover()
    daemon.start()

    def eoc_incidents() -> list[str]:
        return [i.dedup_key for i in pd.incidents if i.routing_key == KEYS["eoc"]]

    # The page waits out its backoff (under a minute here), then reaches PagerDuty once.
    wait_until(lambda: eoc_incidents() or None, what="EOC page accepted", deadline_s=90.0)
    assert eoc_incidents() == [f"firstresponder-{incident_id}-eoc"]


def _trigger_requests(pd: FakePagerDuty, key: str) -> list[Recorded]:
    """Every trigger request for `key` that reached the fake, answered or failed."""
    return [
        r
        for r in pd.requests_to("/v2/enqueue")
        if r.json and r.json.get("event_action") == "trigger" and r.json.get("dedup_key") == key
    ]


def _accepted_triggers(pd: FakePagerDuty, role: str, key: str) -> int:
    """Triggers PagerDuty accepted (202) for this key: the fake counts only those."""
    found = pd.incident(KEYS[role], key)
    return 0 if found is None else sum(e["event_action"] == "trigger" for e in found.events)


def _eoc_claim(database: Path) -> tuple[str, str | None]:
    """(status, claimed_by) of the EOC trigger in the daemon's outbox."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT status, claimed_by FROM outbox WHERE role = 'eoc' AND action = 'trigger'"
        ).fetchone()
    assert row is not None
    return str(row[0]), row[1]


def test_kill_9_mid_retry_then_restart_pages_the_eoc_first_soon_after_recovery(
    daemon: Daemon, pd: FakePagerDuty
) -> None:
    """PagerDuty answers 500; the daemon is killed while the EOC trigger is in its quick
    retries, holding the claim, and restarted. The IMOC escalation falls due while the dead
    daemon's lease still holds the EOC page. PagerDuty recovers: the EOC page goes out once
    the lease has run out (seconds, not the old 5 minutes), exactly once, and the IMOC page
    only after it."""
    pd.fail_next(500, times=10_000)
    daemon.start()
    incident_id = _declare(daemon)
    eoc, imoc = (f"firstresponder-{incident_id}-{role}" for role in ("eoc", "imoc"))
    wait_until(
        lambda: len(_trigger_requests(pd, eoc)) >= 2 or None,
        what="the EOC trigger failing in its quick retries",
        deadline_s=DEADLINE_S,
        interval_s=0.1,
    )
    assert daemon.managed is not None
    dead_pid = daemon.managed.pid
    daemon.kill_9()
    database = daemon.config.parent / "fr.db"
    status, holder = _eoc_claim(database)
    assert status == "pending" and holder is not None and f":{dead_pid}:" in holder, holder

    daemon.start()
    wait_until(
        lambda: "escalated" in _timeline(daemon, incident_id) or None,
        what="the IMOC escalation fired by the restarted daemon",
        deadline_s=DEADLINE_S,
        interval_s=0.2,
    )
    pd.recover()
    recovered = time.monotonic()
    wait_until(
        lambda: (
            (_accepted_triggers(pd, "eoc", eoc) and _accepted_triggers(pd, "imoc", imoc)) or None
        ),
        what="EOC and IMOC pages accepted by PagerDuty",
        deadline_s=DEADLINE_S * 2,
        observe=lambda: [(r.json["dedup_key"], r.received_at) for r in pd.requests],
    )
    wait_until(
        lambda: _timeline(daemon, incident_id).count("paged") == 2 or None,
        what="both pages on the timeline",
        deadline_s=DEADLINE_S,
    )
    # Exactly once each at PagerDuty (the dead daemon's tries were all answered 500).
    assert _accepted_triggers(pd, "eoc", eoc) == 1
    assert _accepted_triggers(pd, "imoc", imoc) == 1
    eoc_delivered = _trigger_requests(pd, eoc)[-1].received_at
    assert eoc_delivered - recovered <= 15.0, "the EOC page waited out more than a short lease"
    # The IMOC page was not even tried before the EOC page had gone out.
    assert [r.received_at for r in _trigger_requests(pd, imoc)][0] > eoc_delivered
    assert _eoc_claim(database) == ("delivered", None)
