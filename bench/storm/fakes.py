"""Fake PagerDuty and Slack for the storm, in their own process.

    python -m bench.storm.fakes     # prints one JSON line with the URLs when ready

They are tests/fakes' FakePagerDuty and FakeSlack, answering as those do, with what a storm
needs on top: Slack's per-method rate limits (HTTP 429 + Retry-After, see `ratelimit`),
lookups that stay O(1) with 10,000 incidents, and compact logs instead of every request
kept whole. `GET /bench/pages` (PagerDuty) lists every Events API call with its receive
time (time.time()); `GET /bench/slack` (Slack) counts calls per method and answer.
SIGTERM stops them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.pagerduty import FakeIncident, FakePagerDuty
from tests.fakes.server import Handler
from tests.fakes.slack import FakeChannel, FakeSlack, _args

from .ratelimit import SlackLimits

ANNOUNCE_CHANNEL = "incidents"
RESPONDER = "UONCALL01"


class StormPagerDuty(FakePagerDuty):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[
            tuple[float, str, str, str, int]
        ] = []  # at, routing key, dedup, action, status
        self.first_accepted: dict[tuple[str, str], float] = {}  # (routing key, dedup) -> at
        self._latest: dict[tuple[str, str], FakeIncident] = {}
        self._indexed = 0

    def routes(self) -> Iterable[web.RouteDef]:
        return [*super().routes(), web.get("/bench/pages", self._pages)]

    def incident(self, routing_key: str, dedup_key: str) -> FakeIncident | None:
        for incident in self.incidents[self._indexed :]:
            self._latest[(incident.routing_key, incident.dedup_key)] = incident
        self._indexed = len(self.incidents)
        return self._latest.get((routing_key, dedup_key))

    async def _enqueue(self, request: web.Request) -> web.Response:
        response = await super()._enqueue(request)
        event, now = await request.json(), time.time()
        key = (str(event.get("routing_key", "")), str(event.get("dedup_key", "")))
        action = str(event.get("event_action", ""))
        self.log.append((now, *key, action, response.status))
        if action == "trigger" and response.status == 202:
            self.first_accepted.setdefault(key, now)
        return response

    async def _pages(self, request: web.Request) -> web.Response:
        """`?summary=1`: distinct triggered dedup keys per routing key; else every event."""
        if request.query.get("summary"):
            return web.json_response(dict(Counter(rk for rk, _ in self.first_accepted)))
        return web.json_response({"events": self.log})

    @web.middleware
    async def _record_then_script(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        return await handler(request)  # no per-request records: `log` is enough


class StormSlack(FakeSlack):
    def __init__(self, limits: SlackLimits) -> None:
        super().__init__(users={RESPONDER})
        self.limits = limits
        self.answers: Counter[tuple[str, str]] = Counter()  # (method, ok|error|429)
        self._by_name: dict[str, FakeChannel] = {}

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/api/{method}", self._limited), web.get("/bench/slack", self._stats)]

    def channel_named(self, name: str) -> FakeChannel | None:
        if len(self._by_name) != len(self.channels):
            self._by_name = {c.name: c for c in self.channels.values()}
        return self._by_name.get(name.lstrip("#"))

    async def _limited(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        channel = str((await _args(request)).get("channel", ""))
        wait = self.limits.take(method, channel, time.monotonic())
        if wait > 0:
            self.answers[(method, "429")] += 1
            headers = {"Retry-After": str(max(1, round(wait + 0.5)))}
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers=headers)
        response = await self._dispatch(request)
        ok = json.loads(response.text or "{}").get("ok") is True
        self.answers[(method, "ok" if ok else "error")] += 1
        return response

    async def _stats(self, request: web.Request) -> web.Response:
        counts: dict[str, dict[str, int]] = {}
        for (method, answer), count in self.answers.items():
            counts.setdefault(method, {})[answer] = count
        return web.json_response({"calls": counts, "channels": len(self.channels)})

    @web.middleware
    async def _record_then_script(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        return await handler(request)


async def serve(limits: SlackLimits) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with StormPagerDuty() as pd, StormSlack(limits) as slack:
        announce = slack.add_channel(ANNOUNCE_CHANNEL)
        ready: dict[str, Any] = {
            "pagerduty_url": pd.url,
            "slack_api_url": slack.api_url,
            "slack_token": slack.token,
            "announce_channel": announce.id,
            "responder": RESPONDER,
        }
        print(json.dumps(ready), flush=True)
        await stop.wait()


def main() -> None:
    limits = SlackLimits.published(scale=float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
    asyncio.run(serve(limits))


if __name__ == "__main__":
    main()
