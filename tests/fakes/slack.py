"""A fake Slack Web API: `POST /api/<method>` for the methods firstresponder calls.

    async with FakeSlack(users={"UALICE", "UBOB"}) as slack:
        client = SlackClient(slack.token, slack.api_url)
        slack.refuse("conversations.create", "restricted_action")  # next call: ok:false
        slack.fail_next(429, retry_after=1)                          # next request: HTTP 429
        slack.enforce_rate_limits(clock.now)   # Slack's per-method limits, 429 past them
        slack.hold_until_in_flight(2)          # the first calls wait for a second one
        ... slack.calls ... slack.channel_named("inc-42-checkout") ... slack.max_in_flight ...

Rate limits, once enforced, are counted as Slack publishes them (calls per method per
minute by tier, posts per channel per second) on the clock given, so a test on a fake
clock sees what real Slack would have refused: HTTP 429, `ratelimited`, `Retry-After`.

Answers are Slack's: HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error": …}`.
Arguments are read the way Slack reads them: from the query string, a form body or a
JSON body (slack_sdk sends most methods' arguments as query parameters and
`chat.postMessage` as JSON). Channel names follow Slack's rules. Every request needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from .server import FakeServer, Recorded

TOKEN = "xoxb-fake-0000-secret-bot-token"
BOT_USER = "UBOT00001"
NAME_MAX = 80
TOPIC_MAX = 250
_NAME_CHARS = re.compile(r"[a-z0-9_-]+")

Answer = dict[str, Any]
Method = Callable[[dict[str, Any]], Answer]


@dataclass(frozen=True)
class Limit:
    """`per_minute` calls on average, with up to `burst` at once (per channel for
    `per_channel`): a token bucket, as Slack's "N+ per minute, occasional bursts"."""

    per_minute: int
    burst: int
    per_channel: bool = False

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=60 / self.per_minute)


# The floors of Slack's published limits (api.slack.com/docs/rate-limits): Tier 2 "20+
# per minute" with occasional bursts, Tier 3 "50+ per minute" with sporadic bursts,
# chat.postMessage one per second per channel with short bursts.
SLACK_LIMITS: Mapping[str, Limit] = {
    "conversations.create": Limit(20, 3),
    "conversations.setTopic": Limit(20, 3),
    "conversations.setPurpose": Limit(20, 3),
    "conversations.invite": Limit(50, 5),
    "chat.postMessage": Limit(60, 5, per_channel=True),
}


@dataclass(frozen=True)
class SlackCall:
    """One Web API call: the method, its arguments (from wherever they were sent), when."""

    method: str
    args: dict[str, Any]
    at: float  # time.monotonic()


@dataclass
class FakeMessage:
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str


@dataclass
class FakeChannel:
    id: str
    name: str
    topic: str = ""
    purpose: str = ""
    members: list[str] = field(default_factory=list)
    messages: list[FakeMessage] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,
            "is_private": False,
            "is_member": BOT_USER in self.members,
            "topic": {"value": self.topic, "creator": BOT_USER, "last_set": 0},
            "purpose": {"value": self.purpose, "creator": BOT_USER, "last_set": 0},
        }


class FakeSlack(FakeServer):
    def __init__(self, token: str = TOKEN, users: Iterable[str] = ()) -> None:
        super().__init__()
        self.token = token
        self.users = {BOT_USER, *users}
        self.channels: dict[str, FakeChannel] = {}
        self._ids = itertools.count(1)
        self._refusals: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._methods: Mapping[str, Method] = {
            "auth.test": self._auth_test,
            "conversations.create": self._create,
            "conversations.setTopic": self._set_topic,
            "conversations.setPurpose": self._set_purpose,
            "conversations.invite": self._invite,
            "chat.postMessage": self._post,
        }
        self.rate_limited: list[tuple[str, dict[str, Any]]] = []  # calls answered 429
        self.in_flight = 0
        self.max_in_flight = 0
        self.widest: list[str] = []  # what was in flight when max_in_flight was reached
        self._current: dict[int, str] = {}
        self._flights = itertools.count()
        self._limits: Mapping[str, Limit] = {}
        self._now: Callable[[], datetime] | None = None
        self._next_at: dict[tuple[str, str], datetime] = {}  # each bucket's theoretical time
        self._gate: tuple[int, asyncio.Event, float] | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/api/{method}", self._dispatch)]

    def failure_body(self, status: int) -> Any:
        return {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}

    def refuse(self, method: str, error: str, times: int = 1, **extra: Any) -> None:
        """Answer the next `times` calls of `method` with `ok: false` and `error`."""
        self._refusals[method].extend({"ok": False, "error": error, **extra} for _ in range(times))

    def enforce_rate_limits(
        self, now: Callable[[], datetime], limits: Mapping[str, Limit] = SLACK_LIMITS
    ) -> None:
        """From now on, answer a call past its method's limit (on the `now` clock) with
        HTTP 429 and a `Retry-After` of whole seconds, as Slack does."""
        self._now, self._limits = now, limits

    def hold_until_in_flight(self, calls: int, timeout_s: float = 5.0) -> None:
        """Hold the first calls until `calls` are in flight at once (or `timeout_s` real
        seconds passed): shows whether the client makes calls concurrently."""
        self._gate = (calls, asyncio.Event(), timeout_s)

    def add_channel(self, name: str, members: Iterable[str] = (BOT_USER,)) -> FakeChannel:
        """A channel that already exists (an announcement channel, a taken name)."""
        channel = FakeChannel(f"C{next(self._ids):08d}", name, members=list(members))
        self.channels[channel.id] = channel
        return channel

    def channel_named(self, name: str) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.name == name.lstrip("#")), None)

    @property
    def calls(self) -> list[SlackCall]:
        return [_call(request) for request in self.requests if request.path.startswith("/api/")]

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    async def _dispatch(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return web.json_response({"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.token}" or not self.token.startswith("xoxb-"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        method = request.match_info["method"]
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        if self._refusals[method]:
            return web.json_response(self._refusals[method].popleft())
        args = await _args(request)
        wait = self._over_limit(method, args)
        if wait is not None:
            self.rate_limited.append((method, args))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        async with self._flying(f"{method} {args.get('channel') or args.get('name') or ''}"):
            return web.json_response(handler(args))

    def _over_limit(self, method: str, args: Mapping[str, Any]) -> int | None:
        """Seconds to wait when this call is past its limit; else count it and None."""
        limit = self._limits.get(method)
        if limit is None or self._now is None:
            return None
        now = self._now()
        key = (method, str(args.get("channel", "")) if limit.per_channel else "")
        next_at = max(self._next_at.get(key, now), now)
        allowed_at = next_at - limit.interval * (limit.burst - 1)
        if allowed_at > now:
            return max(1, math.ceil((allowed_at - now).total_seconds()))
        self._next_at[key] = next_at + limit.interval
        return None

    @contextlib.asynccontextmanager
    async def _flying(self, what: str) -> AsyncIterator[None]:
        key = next(self._flights)
        self._current[key] = what
        self.in_flight += 1
        try:
            if self.in_flight > self.max_in_flight:
                self.max_in_flight, self.widest = self.in_flight, list(self._current.values())
            if self._gate is not None:
                calls, reached, timeout_s = self._gate
                if self.in_flight >= calls:
                    reached.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reached.wait(), timeout_s)
            yield
        finally:
            self.in_flight -= 1
            del self._current[key]

    def _auth_test(self, args: dict[str, Any]) -> Answer:
        return {"ok": True, "team": "Fake", "user": "firstresponder", "user_id": BOT_USER}

    def _create(self, args: dict[str, Any]) -> Answer:
        name = str(args.get("name", ""))
        error = _name_error(name)
        if error:
            return {"ok": False, "error": error}
        if self.channel_named(name) is not None:
            return {"ok": False, "error": "name_taken"}
        return {"ok": True, "channel": self.add_channel(name).as_dict()}

    def _set_topic(self, args: dict[str, Any]) -> Answer:
        return self._set_text(args, "topic")

    def _set_purpose(self, args: dict[str, Any]) -> Answer:
        return self._set_text(args, "purpose")

    def _set_text(self, args: dict[str, Any], what: str) -> Answer:
        channel, error = self._member_channel(args)
        if channel is None:
            return {"ok": False, "error": error}
        text = str(args.get(what, ""))
        if len(text) > TOPIC_MAX:
            return {"ok": False, "error": "too_long"}
        setattr(channel, what, text)
        return {"ok": True, "channel": channel.as_dict()}

    def _invite(self, args: dict[str, Any]) -> Answer:
        channel, error = self._member_channel(args)
        if channel is None:
            return {"ok": False, "error": error}
        users = [user for user in str(args.get("users", "")).split(",") if user]
        if not users:
            return {"ok": False, "error": "no_user"}
        failures = [
            (user, problem) for user in users if (problem := self._invite_problem(channel, user))
        ]
        if failures and str(args.get("force")) not in ("1", "true"):
            users = []  # without force, one failure invites nobody
        failed = {user for user, _ in failures}
        channel.members += [user for user in users if user not in failed]
        if not failures:
            return {"ok": True, "channel": channel.as_dict()}
        errors = [{"user": user, "ok": False, "error": problem} for user, problem in failures]
        return {"ok": False, "error": failures[0][1], "errors": errors}

    def _invite_problem(self, channel: FakeChannel, user: str) -> str:
        if user == BOT_USER:
            return "cant_invite_self"
        if user not in self.users:
            return "user_not_found"
        if user in channel.members:
            return "already_in_channel"
        return ""

    def _post(self, args: dict[str, Any]) -> Answer:
        target = str(args.get("channel", ""))
        channel = self.channels.get(target) or self.channel_named(target)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if BOT_USER not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        text, blocks = str(args.get("text") or ""), args.get("blocks") or []
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if not isinstance(blocks, list) or len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        channel.messages.append(FakeMessage(ts, text, blocks, BOT_USER))
        return {"ok": True, "channel": channel.id, "ts": ts, "message": {"text": text, "ts": ts}}

    def _member_channel(self, args: dict[str, Any]) -> tuple[FakeChannel | None, str]:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            return None, "channel_not_found"
        if BOT_USER not in channel.members:
            return None, "not_in_channel"
        return channel, ""


def _name_error(name: str) -> str:
    if not name:
        return "invalid_name_required"
    if len(name) > NAME_MAX:
        return "invalid_name_maxlength"
    if not _NAME_CHARS.fullmatch(name):
        return "invalid_name_specials"
    if not name.strip("-_"):
        return "invalid_name_punctuation"
    return ""


async def _args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            args.update(body)
    elif request.content_type == "application/x-www-form-urlencoded":
        args.update(await request.post())
    return args


def _call(request: Recorded) -> SlackCall:
    args: dict[str, Any] = {key: values[-1] for key, values in request.query.items()}
    content_type = request.headers.get("Content-Type", "")
    if isinstance(request.json, dict):
        args.update(request.json)
    elif content_type.startswith("application/x-www-form-urlencoded") and request.text:
        args.update(parse_qsl(request.text, keep_blank_values=True))
    return SlackCall(request.path.removeprefix("/api/"), args, request.received_at)
