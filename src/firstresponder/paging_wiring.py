"""Build the pager targets, the on-call lookup and the dispatcher from the config."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from datetime import datetime

import aiohttp

from .clock import Clock
from .commands import IncidentCommands
from .config import Config
from .config_paging import PagingConfig
from .dispatch import Dispatcher, EntryHook, PagedHook
from .domain.incident import Incident, TimelineEntry
from .metrics import Metrics
from .pagers.base import PageMessage, Pager
from .pagers.grafana_oncall import GrafanaOnCall, OnCallTarget
from .pagers.oncall_lookup import PagerDutyOnCall
from .pagers.pagerduty import PagerDutyEvents
from .pagers.webhook import WebhookPager
from .paging import Paging
from .prometheus import build_ssl_context
from .store.ports import Database

ONCALL_ACTOR = "PagerDuty schedule"


def build_paging(config: Config) -> Paging | None:
    """The paging policy from the config, or None when paging is off."""
    if not config.paging.enabled:
        return None
    return Paging(
        config.paging.policy,
        config.paging.targets,
        config.server.public_url,
        config.prometheus.url,
    )


def build_pagers(paging: PagingConfig, session: aiohttp.ClientSession) -> dict[str, Pager]:
    """Every configured target, by the name `escalation.targets` uses."""
    pagers: dict[str, Pager] = {}
    pd = paging.pagerduty
    tls = build_ssl_context(pd.ca_file) if pd.ca_file else None
    if pd.routing_keys:
        pagers["pagerduty"] = PagerDutyEvents(
            "pagerduty", pd.routing_keys, pd.events_url, pd.timeout.total_seconds(), tls=tls
        )
    oncall = paging.grafana_oncall
    if oncall.api_url and oncall.api_token:
        pagers["grafana_oncall"] = GrafanaOnCall(
            "grafana_oncall",
            oncall.api_url,
            oncall.api_token,
            {role: OnCallTarget(t.team, t.users) for role, t in oncall.targets.items()},
            session,
            oncall.timeout.total_seconds(),
        )
    for name, hook in paging.webhooks.items():
        pagers[f"webhook:{name}"] = WebhookPager(
            f"webhook:{name}",
            hook.url,
            session,
            hook.bearer_token,
            hook.headers,
            hook.timeout.total_seconds(),
        )
    return pagers


def on_call_recorder(paging: PagingConfig, commands: IncidentCommands) -> PagedHook | None:
    """After a role is paged, record who is on call for it (when schedules are configured)."""
    pd = paging.pagerduty
    if not (pd.api_token and pd.schedules):
        return None
    tls = build_ssl_context(pd.ca_file) if pd.ca_file else None
    lookup = PagerDutyOnCall(
        pd.api_url, pd.api_token, pd.schedules, pd.timeout.total_seconds(), tls=tls
    )

    async def record(message: PageMessage) -> None:
        if message.role not in pd.schedules:
            return
        name = (await lookup.on_call()).get(message.role)
        if not name:
            return

        def assign(incident: Incident, now: datetime) -> list[TimelineEntry]:
            if not incident.is_open or message.role in incident.roles:
                return []
            return incident.assign_role(message.role, name, ONCALL_ACTOR, now)

        await commands.change(message.incident_id, assign)

    return record


def build_dispatcher(
    store: Database,
    pagers: Mapping[str, Pager],
    clock: Clock,
    metrics: Metrics,
    paging: PagingConfig,
    commands: IncidentCommands,
    on_entry: EntryHook | None = None,
) -> Dispatcher:
    return Dispatcher(
        store,
        pagers,
        clock,
        metrics,
        owner=dispatcher_owner(),
        settings=paging.delivery,
        on_paged=on_call_recorder(paging, commands),
        on_entry=on_entry,
    )


def dispatcher_owner() -> str:
    """Who holds an outbox claim: host, process and a random part (a restarted process
    with the same pid does not inherit its predecessor's claims)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
