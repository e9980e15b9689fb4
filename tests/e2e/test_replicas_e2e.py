"""Two real daemon processes on one PostgreSQL database, as two replicas behind a Service.

Both start at once on a fresh database (their migrations take turns). Phase 1: the same
Alertmanager notification (four services) is posted to both replicas at once, many times,
from threads, as Alertmanager HA peers and retries do. There is exactly one incident per
service; the fake PagerDuty gets exactly one trigger per incident and role; the escalation
that falls due while both run pages the IMOC once.

Phase 2: four new incidents. The fake PagerDuty holds their EOC pages unanswered, so the
replica that claimed them still holds their outbox leases when it is killed with SIGKILL
(after sending the pages, before the escalations are due). The survivor takes the pages
over once the lease runs out and delivers each one (one PagerDuty incident per key, one
"paged" entry), and fires every escalation exactly once.

Waits poll with deadlines; the only timing assertion is a lower bound (the survivor does
not take a page over before the lease has run out).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload
from ..fakes import CA_FILE, FakePagerDuty, Recorded
from ..integration.store.conftest import NewDatabase
from .daemons import Daemon, Threaded
from .harness import (
    HttpAnswer,
    Processes,
    free_port,
    get_json,
    post_json,
    sample_values,
    scrape,
    wait_until,
)
from .test_paging_e2e import KEYS

pytestmark = pytest.mark.e2e

ACK_TIMEOUT_S = 6
LEASE_S = 4
DEADLINE_S = 60.0
THREADS = 8
POSTS_PER_THREAD = 4
HOLD_S = 300  # the fake keeps the held pages unanswered this long (its teardown ends it)
FIRST_SERVICES = ("cart", "search", "payments", "profile")
SECOND_SERVICES = ("checkout", "billing", "login", "mail")
HOOK_HEADERS = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


@dataclass
class Replicas:
    daemons: tuple[Daemon, Daemon]
    database_url: str


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with Threaded(FakePagerDuty()) as fake:
        yield fake


@pytest.fixture
def replicas(tmp_path: Path, pd: FakePagerDuty, new_pg_database: NewDatabase) -> Iterator[Replicas]:
    url = new_pg_database()
    daemons = []
    for name in ("a", "b"):
        port = free_port()
        config = tmp_path / name / "firstresponder.yaml"
        config.parent.mkdir()
        config.write_text(yaml.safe_dump(_config(port, url, pd)))
        processes = Processes(tmp_path / name / "logs")
        daemons.append(Daemon(processes, config, f"http://127.0.0.1:{port}"))
    a, b = daemons
    try:
        yield Replicas((a, b), url)
    finally:
        for daemon in (a, b):
            daemon.processes.stop_all()
            print(daemon.processes.describe(tail=None))


def _config(port: int, database_url: str, pd: FakePagerDuty) -> dict[str, Any]:
    return {
        "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
        "store": {"url": database_url, "pool_size": 5},
        "auth": {
            "webhook": {"bearer_token": WEBHOOK_TOKEN},
            "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
        },
        "escalation": {
            "enabled": True,
            "ack_timeout": f"{ACK_TIMEOUT_S}s",
            "delivery": {"lease": f"{LEASE_S}s", "interval": "200ms"},
        },
        "pagerduty": {"events_url": pd.url, "ca_file": str(CA_FILE), "routing_keys": KEYS},
        "logging": {"level": "info", "format": "json"},
    }


# --- what the test does and observes ---------------------------------------------------


def _notification(services: tuple[str, ...]) -> dict[str, Any]:
    alerts = [
        make_alert(labels={"service": s, "impact": "degraded", "alertname": f"{s}Errors"})
        for s in services
    ]
    return make_payload(*alerts)


def _post_everywhere_at_once(daemons: tuple[Daemon, Daemon], payload: Any) -> list[HttpAnswer]:
    """THREADS threads start together; each posts to both replicas in turn."""
    start = threading.Barrier(THREADS)

    def worker(index: int) -> list[HttpAnswer | None]:
        start.wait(timeout=30)
        return [
            post_json(
                f"{daemons[(index + k) % 2].url}/api/v1/alertmanager", payload, headers=HOOK_HEADERS
            )
            for k in range(POSTS_PER_THREAD)
        ]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = [a for batch in pool.map(worker, range(THREADS)) for a in batch]
    assert all(a is not None and a.status == 200 for a in answers), [
        (a.status, a.text) if a else None for a in answers
    ]
    return [a for a in answers if a is not None]


def _incident_ids(answers: list[HttpAnswer]) -> set[int]:
    return {int(i) for answer in answers for i in answer.json()["incidents"]}


def _incidents(daemon: Daemon) -> dict[int, str]:
    body = get_json(f"{daemon.url}/api/v1/incidents?limit=500")
    assert body is not None, f"{daemon.url} did not list incidents"
    return {int(i["id"]): i["service"] for i in body["incidents"]}


def _timeline(daemon: Daemon, incident_id: int) -> list[dict[str, Any]]:
    body = get_json(f"{daemon.url}/api/v1/incidents/{incident_id}/timeline")
    return list(body["entries"]) if body else []


def _paged_roles(daemon: Daemon, incident_id: int) -> list[str]:
    entries = _timeline(daemon, incident_id)
    return sorted(e["data"]["role"] for e in entries if e["kind"] == "paged")


def _escalations(daemon: Daemon, incident_id: int) -> int:
    return [e["kind"] for e in _timeline(daemon, incident_id)].count("escalated")


def _all_paged(daemon: Daemon, ids: set[int]) -> bool:
    return all(_paged_roles(daemon, i) == ["eoc", "imoc"] for i in ids)


def _triggers(pd: FakePagerDuty) -> list[Recorded]:
    return [
        r for r in pd.requests_to("/v2/enqueue") if r.json and r.json["event_action"] == "trigger"
    ]


def _trigger_counts(pd: FakePagerDuty) -> Counter[tuple[str, str]]:
    roles = {key: role for role, key in KEYS.items()}
    return Counter((roles[t.json["routing_key"]], t.json["dedup_key"]) for t in _triggers(pd))


def _expected_triggers(ids: set[int]) -> Counter[tuple[str, str]]:
    return Counter((role, f"firstresponder-{i}-{role}") for i in ids for role in ("eoc", "imoc"))


def _escalations_fired(daemon: Daemon) -> float:
    samples = scrape(f"{daemon.url}/metrics")
    assert samples is not None, f"{daemon.url} did not serve /metrics"
    return sum(sample_values(samples, "firstresponder_escalations_total"))


def _outbox(url: str) -> list[asyncpg.Record]:
    """The pager outbox as the database has it (read beside the daemons)."""

    async def read() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return list(
                await conn.fetch(
                    "SELECT incident_id, role, dedup_key, status, claimed_by FROM outbox"
                    " WHERE target = 'pagerduty' ORDER BY id"
                )
            )
        finally:
            await conn.close()

    return asyncio.run(read())


def _holder_of(url: str, ids: set[int]) -> str | None:
    """The one dispatcher holding the leases of these incidents' pending EOC pages."""
    pending = [r for r in _outbox(url) if r["incident_id"] in ids and r["status"] == "pending"]
    owners = {r["claimed_by"] for r in pending}
    if len(pending) != len(ids) or len(owners) != 1 or None in owners:
        return None
    return str(owners.pop())


def _pid_of(owner: str) -> int:
    return int(owner.rsplit(":", 2)[1])  # "<host>:<pid>:<random>"


# --- the test --------------------------------------------------------------------------


def test_two_replicas_declare_page_and_escalate_once_and_survive_a_kill_9(
    replicas: Replicas, pd: FakePagerDuty
) -> None:
    a, b = replicas.daemons
    with ThreadPoolExecutor(max_workers=2) as pool:  # both migrate a fresh database at once
        list(pool.map(Daemon.start, replicas.daemons))

    # Phase 1: both replicas, the same notification, many times at once.
    first = _incident_ids(_post_everywhere_at_once(replicas.daemons, _notification(FIRST_SERVICES)))
    assert len(first) == len(FIRST_SERVICES)
    wait_until(
        lambda: _all_paged(a, first),
        what="EOC and IMOC paged for every incident",
        deadline_s=ACK_TIMEOUT_S + DEADLINE_S,
        observe=lambda: _trigger_counts(pd),
    )
    assert _incidents(a) == _incidents(b)
    assert sorted(_incidents(a).values()) == sorted(FIRST_SERVICES)
    assert set(_incidents(a)) == first
    assert _trigger_counts(pd) == _expected_triggers(first)
    assert [_escalations(b, i) for i in sorted(first)] == [1] * len(first)

    # Phase 2: new incidents; PagerDuty holds the EOC pages; their claimer dies holding them.
    fired_before = {d.url: _escalations_fired(d) for d in replicas.daemons}
    held_before = len(_triggers(pd))
    for _ in SECOND_SERVICES:
        pd.delay_next(HOLD_S)
    started = time.monotonic()
    second = _incident_ids(
        _post_everywhere_at_once(replicas.daemons, _notification(SECOND_SERVICES))
    )
    assert len(second) == len(SECOND_SERVICES) and not second & first

    def held_by_one_replica() -> str | None:
        if len(_triggers(pd)) < held_before + len(second):
            return None  # not every page has reached PagerDuty yet
        return _holder_of(replicas.database_url, second)

    owner = wait_until(
        held_by_one_replica,
        what="one replica holding every new EOC page, sent and unanswered",
        deadline_s=DEADLINE_S,
        interval_s=0.1,
        observe=lambda: _outbox(replicas.database_url),
    )
    holder, survivor = (a, b) if a.managed and a.managed.pid == _pid_of(owner) else (b, a)
    assert holder.managed is not None and holder.managed.pid == _pid_of(owner)
    assert time.monotonic() < started + ACK_TIMEOUT_S, "too slow: the escalations fell due"
    holder.kill_9()

    wait_until(
        lambda: _all_paged(survivor, second),
        what="the survivor delivering the held EOC pages and the escalations",
        deadline_s=LEASE_S + ACK_TIMEOUT_S + DEADLINE_S,
        observe=lambda: _outbox(replicas.database_url),
    )
    assert sorted(_incidents(survivor).values()) == sorted(FIRST_SERVICES + SECOND_SERVICES)
    # Each held page: the dead replica's unanswered send, then the survivor's, after the lease.
    for incident_id in second:
        key = f"firstresponder-{incident_id}-eoc"
        sends = [t.received_at for t in _triggers(pd) if t.json["dedup_key"] == key]
        assert len(sends) == 2, (key, sends)
        assert sends[1] - sends[0] >= LEASE_S / 2, "taken over before the lease ran out"
        assert len([i for i in pd.incidents if i.dedup_key == key]) == 1
    imoc = _trigger_counts(pd)
    assert [imoc["imoc", f"firstresponder-{i}-imoc"] for i in sorted(second)] == [1] * len(second)
    assert [_escalations(survivor, i) for i in sorted(second)] == [1] * len(second)
    assert _escalations_fired(survivor) - fired_before[survivor.url] == len(second)
    pages = 2 * len(first | second)  # EOC and IMOC for each
    assert [r["status"] for r in _outbox(replicas.database_url)] == ["delivered"] * pages
