"""Build the Slack side from the config: the notices written with each change, and the
dispatcher that makes the calls (its own, so Slack never holds a page's delivery slot)."""

from __future__ import annotations

import aiohttp

from ..clock import Clock
from ..config import Config
from ..dispatch import Dispatcher, EntryHook
from ..metrics import Metrics
from ..paging_wiring import dispatcher_owner
from ..store.ports import Database
from .client import SlackClient
from .notices import SLACK, SlackNotices
from .sender import SlackSender, SlackTexts, TicketKey


def build_notices(config: Config) -> SlackNotices | None:
    if not config.slack.enabled:
        return None
    wait = config.tickets.channel_wait if config.tickets.enabled else None
    return SlackNotices(config.slack, config.server.public_url, config.prometheus.url, wait)


def build_slack_dispatcher(
    config: Config,
    session: aiohttp.ClientSession,
    store: Database,
    clock: Clock,
    metrics: Metrics,
    ticket_key: TicketKey | None = None,
    on_entry: EntryHook | None = None,
) -> Dispatcher:
    client = SlackClient(
        config.slack.bot_token,
        config.slack.api_url,
        session,
        timeout_s=config.slack.timeout.total_seconds(),
    )
    return Dispatcher(
        store,
        {SLACK: SlackSender(client, ticket_key, clock)},
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=config.paging.delivery,
        channel=SLACK,
        texts=SlackTexts(metrics),
        on_entry=on_entry,
    )
