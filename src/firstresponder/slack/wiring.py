"""Build the Slack side from the config: the notices written with each change, and the
dispatcher that makes the calls (its own, so Slack never holds a page's delivery slot)."""

from __future__ import annotations

import aiohttp

from ..clock import Clock
from ..config import Config
from ..dispatch import Dispatcher
from ..metrics import Metrics
from ..paging_wiring import dispatcher_owner
from ..store.ports import Database
from .client import SlackClient
from .notices import SLACK, SlackNotices
from .sender import SlackSender, SlackTexts


def build_notices(config: Config) -> SlackNotices | None:
    if not config.slack.enabled:
        return None
    return SlackNotices(config.slack, config.server.public_url, config.prometheus.url)


def build_slack_dispatcher(
    config: Config,
    session: aiohttp.ClientSession,
    store: Database,
    clock: Clock,
    metrics: Metrics,
) -> Dispatcher:
    client = SlackClient(
        config.slack.bot_token,
        config.slack.api_url,
        session,
        timeout_s=config.slack.timeout.total_seconds(),
    )
    return Dispatcher(
        store,
        {SLACK: SlackSender(client)},
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=config.paging.delivery,
        channel=SLACK,
        texts=SlackTexts(metrics),
    )
