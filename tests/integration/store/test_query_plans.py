"""Every query a periodic pass runs is served by an index, checked with the planners.

Each query is captured as the store sends it (SQL and parameters), then explained on the
same database: SQLite's `EXPLAIN QUERY PLAN` must show no full scan of a table and no
sort of a whole table; PostgreSQL's `EXPLAIN`, with sequential scans priced out in the
transaction (`SET LOCAL enable_seqscan = off`), must show no `Seq Scan` and the indexes
expected. A query no index serves shows a scan whatever the price.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Engine, event

from firstresponder.domain.escalation import Deadline, DeadlineKind, PageAction
from firstresponder.domain.incident import TimelineEntry
from firstresponder.domain.vocabulary import Role
from firstresponder.store.ports import IncidentFilter
from firstresponder.store.sql import SqlStore
from firstresponder.store.tables import metadata

from .conftest import Backend
from .test_paging_contract import LEASE, page
from .test_store_contract import NOW, declare, incident

Captured = list[tuple[str, Any]]
SLACK_KEY = "slack-incident"


@contextmanager
def capture() -> Iterator[Captured]:
    """The SELECT, UPDATE and DELETE statements any engine sends meanwhile."""
    seen: Captured = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().split()[0].upper() in {"SELECT", "UPDATE", "DELETE"}:
            seen.append((statement, params))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def explain(backend: Backend, url: str, statement: str, params: Any) -> str:
    if backend == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
        return "\n".join(str(row[-1]) for row in rows)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            rows = await conn.fetch("EXPLAIN " + statement, *params)
    finally:
        await conn.close()
    return "\n".join(row[0] for row in rows)


def unserved(backend: Backend, plan: str, ordered: bool) -> list[str]:
    """The lines of a plan that read a whole table, or (`ordered`: a LIMIT that must stop
    the walk early) that sort what they read instead of reading it in index order."""
    if backend == "sqlite":
        whole = re.compile(rf"SCAN ({'|'.join(metadata.tables)})$")
        return [
            line
            for line in plan.splitlines()
            if whole.match(line.strip()) or (ordered and "TEMP B-TREE FOR ORDER BY" in line)
        ]
    sort = re.compile(r"\bSort\b")
    return [
        line for line in plan.splitlines() if "Seq Scan" in line or (ordered and sort.search(line))
    ]


async def seeded(store: SqlStore) -> tuple[int, int]:
    """Two incidents with history: delivered, pending, blocked and Slack messages,
    deadlines, timeline entries; what a busy store holds, in small."""
    first = await declare(store, incident("checkout"))
    second = await declare(store, incident("cart"))
    old = NOW - timedelta(minutes=5)
    messages = [
        page(first.id, Role.EOC, PageAction.TRIGGER),
        page(first.id, Role.EOC, PageAction.ACKNOWLEDGE),
        page(second.id, Role.EOC, PageAction.TRIGGER),
    ]
    slack = page(first.id, Role.EOC, PageAction.TRIGGER, target="slack")
    slack_post = page(first.id, Role.EOC, PageAction.ACKNOWLEDGE, target="slack")

    def fill(uow: Any) -> None:
        uow.enqueue(messages, "pager", old)
        uow.enqueue([slack, slack_post], "slack", old)
        uow.schedule(
            [Deadline(first.id, DeadlineKind.ACK, NOW), Deadline(second.id, DeadlineKind.ACK, NOW)]
        )
        uow.add_entries(first.id, [TimelineEntry(NOW, "status_update", "all fine")])

    await store.transact(fill)
    claimed = await store.transact(lambda uow: uow.claim_outbox("a", NOW, LEASE, 1))
    await store.transact(
        lambda uow: uow.finish_outbox(
            claimed[0].message.id, failed=False, now=NOW, attempts=1, reference="ref-1"
        )
    )
    [created] = await store.transact(lambda uow: uow.claim_outbox("a", NOW, LEASE, 1, "slack"))
    await store.transact(
        lambda uow: uow.finish_outbox(
            created.message.id, failed=False, now=NOW, attempts=1, reference="C42|inc-1"
        )
    )
    return first.id, second.id


Query = Callable[[SqlStore, int], Awaitable[object]]
# name: (the query, the indexes its plan must use ("a|b": either; "sqlite:a": on SQLite,
# whose planner picks by rules, where PostgreSQL's picks by the costs of these few rows),
# whether its LIMIT must stop an index walk early rather than sort what it found)
PERIODIC: dict[str, tuple[Query, set[str], bool]] = {
    "claim_outbox": (
        lambda s, _: s.transact(lambda uow: uow.claim_outbox("b", NOW, LEASE, 10)),
        {"ix_outbox_claim", "ix_outbox_key_pending", "ix_outbox_key_trigger"}
        | {"sqlite:ix_outbox_pending_pages"},  # a page waits for its incident's earlier one
        True,
    ),
    # An escalation's trigger brings the incident's earlier pages forward (a storm writes
    # one with every declaration): a probe of the incident's pending pages, not a walk of
    # every pending row of the channel (SQLite chose ix_outbox_backlog before).
    "enqueue a page": (
        lambda s, i: s.transact(
            lambda uow: uow.enqueue([page(i, Role.IMOC, PageAction.TRIGGER)], "pager", NOW)
        ),
        {"sqlite:ix_outbox_pending_pages"},
        False,
    ),
    "retry a page": (lambda s, _: _retry_a_page(s), {"sqlite:ix_outbox_pending_pages"}, False),
    "claim_outbox slack": (
        lambda s, _: s.transact(lambda uow: uow.claim_outbox("b", NOW, LEASE, 10, "slack")),
        {"ix_outbox_claim", "ix_outbox_key_pending", "ix_outbox_key_trigger"},
        True,
    ),
    "outbox_stats": (
        lambda s, _: s.transact(lambda uow: uow.outbox_stats(["pager", "slack"])),
        {"ix_outbox_backlog"},
        False,
    ),
    "take_due_deadline": (
        lambda s, _: s.transact(lambda uow: uow.take_due_deadline(NOW)),
        {"ix_deadlines_due_id"},
        True,
    ),
    "next_deadline": (
        lambda s, _: s.transact(lambda uow: uow.next_deadline()),
        {"ix_deadlines_due_id"},
        True,
    ),
    "groups_due": (lambda s, _: s.groups_due(NOW), {"ix_alert_groups_declare"}, True),
    "open_counts": (
        lambda s, _: s.open_counts(),
        {"ix_incidents_open|ix_incidents_open_group"},
        False,
    ),
    "open incidents": (
        lambda s, _: s.list_incidents(IncidentFilter(open_only=True, with_alerts=False)),
        {"ix_incidents_open"},
        False,  # sorts the open incidents, none of the resolved ones
    ),
    "pager_keys": (
        lambda s, i: s.transact(lambda uow: uow.pager_keys(i)),
        {"ix_outbox_incident_action"},
        False,
    ),
    "reference_of": (
        lambda s, _: s.transact(lambda uow: uow.reference_of("slack", "C42|")),
        {"ix_outbox_reference|ix_outbox_reference_c"},
        False,
    ),
    "last_entry_at": (
        lambda s, i: s.transact(lambda uow: uow.last_entry_at(i, ["status_update", "note"])),
        {"ix_timeline_incident_kind"},
        False,
    ),
}


async def _retry_a_page(store: SqlStore) -> None:
    """A page given back after a failed attempt keeps its incident's pages in order."""
    [claimed] = await store.transact(lambda uow: uow.claim_outbox("b", NOW, LEASE, 1))
    await store.transact(
        lambda uow: uow.retry_outbox(
            claimed.message.id, "b", next_at=NOW + LEASE, attempts=1, error="503"
        )
    )


@pytest.mark.parametrize("name", sorted(PERIODIC))
async def test_a_periodic_query_is_served_by_its_index(
    store: SqlStore, backend: Backend, store_url: str, name: str
) -> None:
    first, _ = await seeded(store)
    query, expected, ordered = PERIODIC[name]
    with capture() as seen:
        await query(store, first)
    assert seen, "the query reached the database"
    used: set[str] = set()
    for statement, params in seen:
        plan = await explain(backend, store_url, statement, params)
        assert not unserved(backend, plan, ordered), f"{statement}\n{plan}"
        used |= set(re.findall(r"\b(ix_\w+|\w+_pkey|sqlite_autoindex_\w+)", plan))
    for wanted in expected:  # "a|b": either index will do
        dialect, _, names = wanted.rpartition(":")
        if dialect in ("", backend):
            assert used & set(names.split("|")), (wanted, used)
