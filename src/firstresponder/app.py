"""Wiring: build the aiohttp application from a Config. The CLI only loads config and calls this."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from ssl import SSLContext
from typing import Any

import aiohttp
from aiohttp import web

from .api import board_page, health, html, incidents, postmortem, status_page
from .api.errors import Handler, error_middleware
from .api.keys import (
    CLOCK,
    COMMANDS,
    CONFIG,
    DISPATCHER,
    INGESTOR,
    METRICS,
    SCHEDULER,
    SILENCE_DISPATCHER,
    SLACK_DISPATCHER,
    STORE,
    TICKET_DISPATCHER,
)
from .api.pagerduty_webhook import pagerduty_webhook
from .api.slack import slack_commands, slack_interactions
from .api.webhook import alertmanager_webhook
from .clock import Clock, SystemClock
from .commands import IncidentCommands
from .config import Config
from .dispatch import Dispatcher
from .domain.classify import LabelClassifier
from .domain.grouping import GroupEngine
from .escalations import POSTGRES_BUDGET_S, POSTGRES_WORKERS, EscalationRunner
from .heartbeat import HeartbeatWatch
from .ingest import Ingestor, refresh_open_counts
from .metrics import Metrics
from .paging_wiring import build_dispatcher, build_pagers, build_paging
from .prometheus import PrometheusClient, build_ssl_context
from .reactions import reactions
from .reevaluate import Reevaluator
from .retention import Retention
from .scheduler import Scheduler
from .silence_wiring import build_silence_dispatcher, build_silences
from .silences import Silences
from .slack.notices import SlackNotices
from .slack.wiring import build_notices, build_slack_dispatcher
from .slo_eval import SloEvaluator
from .store.sql import SqlStore
from .tickets.notices import TicketNotices
from .tickets.wiring import build_ticket_dispatcher, build_ticket_notices, ticket_key_lookup

log = logging.getLogger(__name__)


def build_app(
    config: Config,
    *,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    run_scheduler: bool = True,
) -> web.Application:
    app = web.Application(
        client_max_size=config.server.max_body_size, middlewares=[error_middleware]
    )
    app[CONFIG] = config
    app[METRICS] = metrics or Metrics()
    chosen_clock = clock or SystemClock()
    app[CLOCK] = chosen_clock
    app.cleanup_ctx.append(_lifecycle(chosen_clock, run_scheduler))
    _routes(app)
    return app


@web.middleware
async def count_api_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """REST API answers by status code (the webhook counts its own)."""
    response = await handler(request)
    if request.path.startswith("/api/v1/") and not request.path.startswith("/api/v1/alertmanager"):
        request.app[METRICS].api_requests.labels(str(response.status)).inc()
    return response


def _routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/api/v1/alertmanager", alertmanager_webhook)
    router.add_post("/api/v1/pagerduty/webhook", pagerduty_webhook)
    router.add_post("/api/v1/slack/commands", slack_commands)
    router.add_post("/api/v1/slack/interactions", slack_interactions)
    for method, path, handler, _ in (*incidents.ROUTES, *postmortem.ROUTES):
        router.add_route(method, re.sub(r"\{id\}", r"{id:\\d{1,18}}", path), handler)
    router.add_get("/api/v1/openapi.json", health.openapi)
    router.add_get("/healthz", health.healthz)
    router.add_get("/readyz", health.readyz)
    router.add_get("/metrics", health.metrics)
    router.add_get("/status", status_page.StatusPage().handle)
    router.add_get("/", board_page.board)
    router.add_get("/favicon.ico", html.favicon)


def _prometheus_client(config: Config, session: aiohttp.ClientSession) -> PrometheusClient | None:
    prom = config.prometheus
    if not prom.url:
        return None
    ssl: SSLContext | bool | None = None
    if prom.ca_file or prom.cert_file or prom.insecure_skip_verify:
        ssl = build_ssl_context(
            prom.ca_file, prom.insecure_skip_verify, prom.cert_file, prom.key_file
        )
    return PrometheusClient(
        session,
        prom.url,
        timeout=prom.timeout.total_seconds(),
        bearer_token=prom.bearer_token,
        basic_auth=prom.basic_auth,
        ssl=ssl,
    )


def _lifecycle(clock: Clock, run_scheduler: bool):  # type: ignore[no-untyped-def]
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        config, metrics = app[CONFIG], app[METRICS]
        store = SqlStore.from_config(config.store)
        await store.migrate()
        session = aiohttp.ClientSession()
        classifier = LabelClassifier(config.rules, config.classification)
        evaluator = SloEvaluator(
            _prometheus_client(config, session),
            clock,
            metrics,
            config.prometheus.timeout.total_seconds(),
        )
        paging = build_paging(config)
        notices = build_notices(config)
        tickets = build_ticket_notices(config)
        silences = build_silences(config)
        hooks = reactions(paging, notices, tickets, silences)
        commands = IncidentCommands(
            store, classifier, config.severity_map, clock, metrics, paging=hooks
        )
        pagers = build_pagers(config.paging, session)
        dispatcher = build_dispatcher(
            store,
            pagers,
            clock,
            metrics,
            config.paging,
            commands,
            on_entry=notices.delivery_entry if notices else None,
        )
        ingestor = Ingestor(
            store,
            classifier,
            GroupEngine(config.severity_map),
            clock,
            metrics,
            evaluator,
            paging=hooks,
            heartbeat=config.heartbeat.matchers if config.heartbeat.enabled else (),
            on_paged=dispatcher.wake,
        )
        app[STORE], app[INGESTOR], app[COMMANDS] = store, ingestor, commands
        app[DISPATCHER] = dispatcher
        side = _side_dispatchers(app, session, store, clock, notices, tickets, silences)
        app[SCHEDULER] = Scheduler(
            ingestor,
            store,
            clock,
            metrics,
            reevaluator=Reevaluator(
                store, classifier, evaluator, commands, dict(config.severity_map)
            ),
            reevaluate_every=config.prometheus.evaluation_interval,
            escalations=(
                EscalationRunner(
                    store,
                    paging,
                    clock,
                    metrics,
                    slack=notices,
                    silences=silences,
                    on_paged=dispatcher.wake,
                    **_escalation_pace(store),
                )
                if paging or notices or silences
                else None
            ),
            dispatcher=dispatcher,
            heartbeat=(
                HeartbeatWatch(store, commands, clock, metrics, config.heartbeat)
                if config.heartbeat.enabled
                else None
            ),
        )
        await refresh_open_counts(store, metrics)
        tasks = []
        if run_scheduler:
            interval = config.paging.interval.total_seconds()
            # Retention in its own task: a long prune never delays a tick (escalations).
            retention = Retention(store, config.retention, clock, metrics)
            tasks = [
                asyncio.create_task(app[SCHEDULER].run()),
                *(asyncio.create_task(d.run(interval)) for d in (dispatcher, *side)),
                asyncio.create_task(retention.run()),
            ]
        if paging is None:
            log.warning("paging is off (escalation.enabled: false): nobody will be paged")
        log.info(
            "firstresponder started",
            extra={
                "rules": len(config.rules),
                "store": store.dialect,
                "prometheus": bool(config.prometheus.url),
                "pagers": sorted(pagers),
                "slack": notices is not None,
                "tickets": config.tickets.tracker if tickets else None,
                "silences": silences is not None,
                "heartbeat": config.heartbeat.enabled,
            },
        )
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ingestor.drain()
        for pager in pagers.values():
            await pager.close()
        await session.close()
        await store.close()
        log.info("firstresponder stopped")

    return lifecycle


def _side_dispatchers(
    app: web.Application,
    session: aiohttp.ClientSession,
    store: SqlStore,
    clock: Clock,
    notices: SlackNotices | None,
    tickets: TicketNotices | None,
    silences: Silences | None,
) -> list[Dispatcher]:
    """A dispatcher of its own for each configured channel besides pages (Slack, the
    tracker, Alertmanager's silences), so none of them ever holds a page's delivery slot."""
    config, metrics = app[CONFIG], app[METRICS]
    found: list[Dispatcher] = []
    if notices is not None:
        app[SLACK_DISPATCHER] = build_slack_dispatcher(
            config,
            session,
            store,
            clock,
            metrics,
            ticket_key=ticket_key_lookup(store) if tickets else None,
            on_entry=tickets.delivery_entry if tickets else None,
        )
        found.append(app[SLACK_DISPATCHER])
    if tickets is not None:
        app[TICKET_DISPATCHER] = build_ticket_dispatcher(config, session, store, clock, metrics)
        found.append(app[TICKET_DISPATCHER])
    if silences is not None:
        app[SILENCE_DISPATCHER] = build_silence_dispatcher(config, session, store, clock, metrics)
        found.append(app[SILENCE_DISPATCHER])
    return found


def _escalation_pace(store: SqlStore) -> dict[str, Any]:
    """SQLite: one short transaction at a time (webhooks wait for the one writer).
    PostgreSQL: longer transactions, two at once (row locks let writers run together)."""
    if store.dialect == "sqlite":
        return {}
    return {"budget_s": POSTGRES_BUDGET_S, "workers": POSTGRES_WORKERS}
