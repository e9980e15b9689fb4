"""A fake Slack Web API: `POST /api/<method>` for the methods firstresponder calls.

    async with FakeSlack(users={"UALICE", "UBOB"}) as slack:
        client = SlackClient(slack.token, slack.api_url)
        slack.refuse("conversations.create", "restricted_action")  # next call: ok:false
        slack.fail_next(429, retry_after=1)                          # next request: HTTP 429
        ... slack.calls ... slack.channel_named("inc-42-checkout") ...

Answers are Slack's: HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error": …}`.
Arguments are read the way Slack reads them: from the query string, a form body or a
JSON body (slack_sdk sends most methods' arguments as query parameters and
`chat.postMessage` as JSON). Channel names follow Slack's rules. Every request needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
        return web.json_response(handler(await _args(request)))

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
