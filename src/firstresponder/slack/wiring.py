"""Build the Slack side from the config: the notices written with each change, and the
dispatcher that makes the calls (its own, so Slack never holds a page's delivery slot).

The Slack dispatcher takes the paging delivery settings (attempts, backoff, lease) with
its own concurrency and batch (`slack.delivery`), and waits inline at most
`slack.delivery.max_wait`: a longer wait, the rate limiter's or a 429's, gives the call
back to the outbox for later rather than holding a slot other incidents' calls could use.
"""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from ..clock import Clock
from ..config import Config
from ..config_paging import DeliverySettings
from ..dispatch import Dispatcher, EntryHook
from ..metrics import Metrics
from ..paging_wiring import dispatcher_owner
from ..store.ports import Database
from .client import SlackClient
from .limits import RateLimiter
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
    def held(method: str, outcome: str) -> None:
        metrics.slack_rate_limiter.labels(method, outcome).inc()

    client = SlackClient(
        config.slack.bot_token,
        config.slack.api_url,
        session,
        timeout_s=config.slack.timeout.total_seconds(),
        limiter=RateLimiter(clock, hold_limit=config.slack.delivery.max_wait, on_hold=held),
    )
    return Dispatcher(
        store,
        {SLACK: SlackSender(client, ticket_key, clock)},
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=slack_delivery(config),
        channel=SLACK,
        texts=SlackTexts(metrics),
        on_entry=on_entry,
    )


def slack_delivery(config: Config) -> DeliverySettings:
    return replace(
        config.paging.delivery,
        concurrency=config.slack.delivery.concurrency,
        batch=config.slack.delivery.batch,
        max_inline_wait=config.slack.delivery.max_wait,
    )
