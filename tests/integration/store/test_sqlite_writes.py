"""The SQLite ingest path writes on the driver what SQLAlchemy Core would have written.

`SqliteWrites` serialises values itself to skip Core's per-row type processing; these
tests hold its rows byte for byte equal to Core's (`CoreWrites`, PostgreSQL's path), so
that everything reading the store through Core reads the same values.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import Classification
from firstresponder.domain.escalation import PageAction
from firstresponder.domain.grouping import ClassifiedAlert, GroupEngine
from firstresponder.domain.incident import TimelineEntry, TrackedAlert
from firstresponder.domain.vocabulary import DEFAULT_SEVERITY_MAP, Impact, Role
from firstresponder.pagers.base import PageMessage
from firstresponder.store import unit_of_work
from firstresponder.store.sql import SqlStore
from firstresponder.store.sqlite_writes import SqliteWrites, dumps, sqlite_time
from firstresponder.store.unit_of_work import CoreWrites, SqlUnitOfWork, _statements

T0 = datetime(2026, 11, 23, 3, 0, 0, 123456, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
ENGINE = GroupEngine(DEFAULT_SEVERITY_MAP)
TABLES = {
    "alert_events": "id",
    "incident_alerts": "incident_id, fingerprint",
    "timeline": "id",
    "incidents": "id",
    "alert_groups": "group_key",
    "outbox": "id",
}


def event(
    fingerprint: str,
    *,
    status: AlertStatus = AlertStatus.FIRING,
    starts_at: datetime = T0,
    labels: dict[str, str] | None = None,
    impact: Impact = Impact.PARTIAL_DISRUPTION,
    evidence: tuple[dict[str, Any], ...] = (),
    service: str = "checkout",
    declare_after: timedelta = timedelta(0),
) -> ClassifiedAlert:
    resolved = status is AlertStatus.RESOLVED
    alert = Alert(
        status=status,
        labels={"alertname": "HighErrorRate", "service": service, **(labels or {})},
        annotations={"summary": f"errors on {fingerprint}", "runbook_url": "http://rb/1"},
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=3) if resolved else None,
        generator_url="http://prometheus.example:9090/graph",
        fingerprint=fingerprint,
    )
    classification = Classification(
        service=service,
        group_key=f"service={service}",
        impact=impact,
        reason=f'label impact="{impact.value}"',
        declare_threshold=Impact.DEGRADED,
        declare_after=declare_after,
        evidence=evidence,
    )
    return ClassifiedAlert(alert, classification)


BATCHES = [
    [
        event("fp-a"),
        event(
            "fp-b",
            labels={"région": "zürich", "quote": 'say "hi"\n'},
            starts_at=T0.astimezone(CEST),
        ),
        event("fp-c", evidence=({"kind": "error_ratio", "value": 0.25, "window": "5m"},)),
        event("fp-a"),  # the same event twice in one batch
        event("fp-l", service="login", declare_after=timedelta(minutes=5)),  # held pending
    ],
    [
        event("fp-a"),  # already stored
        event("fp-b", status=AlertStatus.RESOLVED, starts_at=T0.astimezone(CEST)),
        event("fp-d", impact=Impact.OUTAGE, starts_at=datetime(2026, 11, 23, 3, 1, tzinfo=UTC)),
        event("fp-m", service="login", declare_after=timedelta(minutes=5)),  # joins fp-l
    ],
]


def ingest_all(conn: Connection) -> list[list[str]]:
    uow = SqlUnitOfWork(conn)
    fresh_keys = []
    for minute, batch in enumerate(BATCHES, start=1):
        now = T0 + timedelta(minutes=minute, microseconds=7)
        fresh = uow.record_events(batch, "firstresponder", now)
        fresh_keys.append([e.alert.fingerprint for e in fresh])
        by_group: dict[str, list[ClassifiedAlert]] = {}
        for item in fresh:
            by_group.setdefault(item.classification.group_key, []).append(item)
        states = uow.load_groups({k: {e.alert.fingerprint for e in v} for k, v in by_group.items()})
        changes = [(states[k], ENGINE.apply_events(states[k], v, now)) for k, v in by_group.items()]
        uow.save_groups(changes, now)
    uow.load_groups({"service=quiet": set()})  # a group's row as created, never updated
    # Pages and Slack calls, as an escalation writes them: nested, non-ASCII payloads, a
    # time given in another zone.
    payload = {"summary": "checkout down ü 🚨", "details": {"n": 3, "x": [1.5, None, True]}}
    messages = [
        PageMessage(0, 1, "pagerduty", Role.EOC, PageAction.TRIGGER, "fr-1-eoc", payload),
        PageMessage(0, 1, "slack", Role.EOC, PageAction.TRIGGER, "fr-1-slack", {"op": "post"}),
    ]
    uow.enqueue(messages, "pager", T0.astimezone(CEST) + timedelta(minutes=9))
    return fresh_keys


def raw_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in TABLES.items()
        }


async def written(path: Path) -> tuple[list[list[str]], dict[str, list[tuple[Any, ...]]]]:
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate()
    try:
        fresh = await store._backend.write(ingest_all)
    finally:
        await store.close()
    return fresh, raw_rows(path)


async def test_the_driver_path_stores_what_core_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await written(tmp_path / "driver.db")
    monkeypatch.setattr(
        unit_of_work,
        "SqliteWrites",
        lambda conn: CoreWrites(conn, _statements("sqlite")),
    )
    core = await written(tmp_path / "core.db")
    assert fast[0] == core[0] == [["fp-a", "fp-b", "fp-c", "fp-l"], ["fp-b", "fp-d", "fp-m"]]
    for table in TABLES:
        assert fast[1][table] == core[1][table], table
    assert len(fast[1]["alert_events"]) == 7
    assert len(fast[1]["outbox"]) == 2
    groups = [row[0] for row in fast[1]["alert_groups"]]
    assert groups == ["service=checkout", "service=login", "service=quiet"]
    assert sorted(json.loads(fast[1]["alert_groups"][1][1])) == ["fp-l", "fp-m"]


@pytest.mark.parametrize(
    "value",
    [
        {"a": "b", "ü": "ß", "quote": '"', "ctl": "\n\t\x00", "emoji": "🚨"},
        {"nested": [{"x": 1.5, "y": None, "z": True}, [], {}], "n": -3, "big": 10**20},
        {"floats": [0.1, 1e-7, 1e300, math.inf, -math.inf]},
        [],
        "text",
    ],
)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_dumps_refuses_what_json_dumps_refuses() -> None:
    with pytest.raises(TypeError):
        dumps({"when": T0})


def tracked(item: ClassifiedAlert) -> TrackedAlert:
    c = item.classification
    return TrackedAlert.of(item.alert, c.impact, c.reason, c.evidence)


# The checkout incident's alerts after BATCHES: each is the last event applied to it.
CHECKOUT = {
    "fp-a": tracked(BATCHES[0][0]),
    "fp-b": tracked(BATCHES[1][1]),  # its recovery
    "fp-c": tracked(BATCHES[0][2]),  # with its evidence
    "fp-d": tracked(BATCHES[1][2]),
}


@pytest.mark.parametrize("path", ["driver", "core"])
async def test_an_incident_alert_reads_back_as_the_event_it_names(
    tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "core":
        monkeypatch.setattr(
            unit_of_work, "SqliteWrites", lambda conn: CoreWrites(conn, _statements("sqlite"))
        )
    store = SqlStore(f"sqlite:///{tmp_path / 'fr.db'}")
    await store.migrate()

    def read_back(conn: Connection) -> tuple[dict[str, TrackedAlert], dict[str, TrackedAlert]]:
        ingest_all(conn)
        uow = SqlUnitOfWork(conn)
        some = uow.load_groups({"service=checkout": set(CHECKOUT)})["service=checkout"]
        assert some.incident is not None
        every = uow.lock_incident(some.incident.id)
        return some.incident.alerts, every.alerts

    try:
        some, every = await store._backend.write(read_back)
        assert some == every == CHECKOUT
        assert (await store.get_incident(1)).alerts == CHECKOUT  # the read API's query
        assert CHECKOUT["fp-c"].evidence == (
            {"kind": "error_ratio", "value": 0.25, "window": "5m"},
        )
    finally:
        await store.close()


async def test_an_alert_stored_before_revision_0004_reads_from_its_own_copy(
    tmp_path: Path,
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'fr.db'}")
    await store.migrate()
    old = tracked(event("fp-old", labels={"instance": "db-1"}))

    def write_old_row(conn: Connection) -> None:
        ingest_all(conn)
        conn.exec_driver_sql(
            "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, event_key, data)"
            " VALUES (1, 'fp-old', '2026-11-23 03:00:00.123456', NULL, ?)",
            (json.dumps(old.as_dict()),),
        )

    try:
        await store._backend.write(write_old_row)
        assert (await store.get_incident(1)).alerts == {**CHECKOUT, "fp-old": old}
    finally:
        await store.close()


def test_sqlite_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 1))
    assert sqlite_time(T0.astimezone(CEST)) == "2026-11-23 03:00:00.123456"
    assert sqlite_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01 00:00:00.000000"


@pytest.mark.parametrize("path", ["driver", "core"])
async def test_a_driver_error_is_the_exception_core_raises(tmp_path: Path, path: str) -> None:
    """The ingest retries on IntegrityError and answers 503 on OperationalError: both must
    come out of the driver path as they come out of Core."""
    store = SqlStore(f"sqlite:///{tmp_path / 'fr.db'}")
    await store.migrate()

    def orphan_entry(conn: Connection) -> None:
        writes = SqliteWrites(conn) if path == "driver" else CoreWrites(conn, _statements("sqlite"))
        writes.insert_entries([(404, TimelineEntry(T0, "note", "no such incident"))])

    def missing_table(conn: Connection) -> None:
        conn.exec_driver_sql("DROP TABLE timeline")
        orphan_entry(conn)

    try:
        with pytest.raises(IntegrityError):
            await store._backend.write(orphan_entry)
        with pytest.raises(OperationalError):
            await store._backend.write(missing_table)
    finally:
        await store.close()
