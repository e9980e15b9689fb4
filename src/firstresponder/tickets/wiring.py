"""Build the ticket side from the config: the notices written with each change, the
tracker adapter, and the dispatcher that makes the calls (its own, so a slow tracker
never holds a page's or a Slack call's delivery slot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from ..clock import Clock
from ..config import Config
from ..config_tickets import GITHUB, TicketConfig
from ..dispatch import Dispatcher, EntryHook
from ..metrics import Metrics
from ..paging_wiring import dispatcher_owner
from ..postmortem import render_postmortem
from ..store.ports import Database
from .base import TICKET, TicketRef, Tracker
from .github import GitHubTracker
from .jira import JiraTracker
from .notices import TicketNotices
from .sender import ReviewSource, TicketSender, TicketTexts


def build_ticket_notices(config: Config) -> TicketNotices | None:
    if not config.tickets.enabled:
        return None
    return TicketNotices(config.tickets, config.server.public_url, config.prometheus.url)


def build_tracker(config: TicketConfig, session: aiohttp.ClientSession) -> Tracker:
    if config.tracker == GITHUB:
        return GitHubTracker(config, session)
    return JiraTracker(config, session)


def review_source(store: Database, clock: Clock, public_url: str) -> ReviewSource:
    async def review(incident_id: int) -> str:
        incident = await store.get_incident(incident_id)
        timeline = await store.timeline(incident_id)
        items = await store.transact(lambda uow: uow.action_items(incident_id), background=True)
        entries = [stored.entry for stored in timeline]
        return render_postmortem(incident, entries, items, now=clock.now(), public_url=public_url)

    return review


def build_ticket_dispatcher(
    config: Config,
    session: aiohttp.ClientSession,
    store: Database,
    clock: Clock,
    metrics: Metrics,
    on_entry: EntryHook | None = None,
) -> Dispatcher:
    tracker = build_tracker(config.tickets, session)
    review = review_source(store, clock, config.server.public_url)
    return Dispatcher(
        store,
        {TICKET: TicketSender(tracker, review)},
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=config.paging.delivery,
        channel=TICKET,
        texts=TicketTexts(metrics, tracker.kind),
        on_entry=on_entry,
    )


def ticket_key_lookup(store: Database) -> Callable[[int], Awaitable[tuple[str, bool]]]:
    """The key of an incident's ticket, for naming its Slack channel: ("IM-123", True)
    once opened, ("", True) while opening it is pending, ("", False) when it failed or
    was never asked for."""

    async def lookup(incident_id: int) -> tuple[str, bool]:
        rows = await store.transact(lambda uow: uow.outbox_of(incident_id), background=True)
        for row in rows:
            if row["channel"] == TICKET and row["payload"].get("op") == "create":
                if row["status"] == "delivered" and row["reference"]:
                    return TicketRef.decoded(str(row["reference"])).key, True
                return "", row["status"] == "pending"
        return "", False

    return lookup
