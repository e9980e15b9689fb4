"""Build the silences side from the config: the hook that writes silence calls with each
change, and the dispatcher that makes them (its own, so an Alertmanager outage never holds
a page's delivery slot)."""

from __future__ import annotations

from ssl import SSLContext

import aiohttp

from .alertmanager_client import AlertmanagerClient
from .clock import Clock
from .config import Config
from .dispatch import Dispatcher
from .metrics import Metrics
from .paging_wiring import dispatcher_owner
from .prometheus import build_ssl_context
from .silence_sender import SilenceSender, SilenceTexts
from .silences import ALERTMANAGER, Silences
from .store.ports import Database


def build_silences(config: Config) -> Silences | None:
    if not config.alertmanager.silences:
        return None
    return Silences(
        config.alertmanager.silence_duration,
        config.classification,
        config.heartbeat.matchers,  # never silenced, even with the switch off
        config.server.public_url,
    )


def build_silence_dispatcher(
    config: Config,
    session: aiohttp.ClientSession,
    store: Database,
    clock: Clock,
    metrics: Metrics,
) -> Dispatcher:
    am = config.alertmanager
    ssl: SSLContext | None = None
    if am.ca_file or am.cert_file or am.insecure_skip_verify:
        ssl = build_ssl_context(am.ca_file, am.insecure_skip_verify, am.cert_file, am.key_file)
    client = AlertmanagerClient(
        session,
        am.url,
        timeout=am.timeout.total_seconds(),
        bearer_token=am.bearer_token,
        basic_auth=am.basic_auth,
        ssl=ssl,
    )
    return Dispatcher(
        store,
        {ALERTMANAGER: SilenceSender(client, clock)},
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=config.paging.delivery,
        channel=ALERTMANAGER,
        texts=SilenceTexts(metrics),
    )
