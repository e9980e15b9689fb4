"""Typed application state shared by the handlers."""

from __future__ import annotations

from aiohttp import web

from ..clock import Clock
from ..commands import IncidentCommands
from ..config import Config
from ..dispatch import Dispatcher
from ..ingest import Ingestor
from ..metrics import Metrics
from ..scheduler import Scheduler
from ..store.ports import Database

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Database)
INGESTOR = web.AppKey("ingestor", Ingestor)
COMMANDS = web.AppKey("commands", IncidentCommands)
METRICS = web.AppKey("metrics", Metrics)
SCHEDULER = web.AppKey("scheduler", Scheduler)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
CLOCK = web.AppKey("clock", Clock)
SLACK_DISPATCHER = web.AppKey("slack_dispatcher", Dispatcher)  # absent without Slack
TICKET_DISPATCHER = web.AppKey("ticket_dispatcher", Dispatcher)  # absent without tickets
SILENCE_DISPATCHER = web.AppKey("silence_dispatcher", Dispatcher)  # absent without silences
