"""The Slack Web API, one operation per method, failures as delivery errors.

slack_sdk's `AsyncWebClient` does the HTTP. It retries briefly by itself: connection
errors (its default), HTTP 429 when Slack asks for a wait short enough to spend inline,
and HTTP 500/503 with backoff. What is left is translated once, here, into the pagers'
errors, so the dispatcher treats Slack like any other channel:

- HTTP 429 (or `ratelimited`) -> TransientDeliveryError with Slack's `Retry-After`
- HTTP 5xx, `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout`,
  timeouts and connection errors -> TransientDeliveryError
- any other `ok: false` -> SlackRefused (a PermanentDeliveryError carrying Slack's code)

Before each call the `RateLimiter` (limits.py) makes it wait its turn under Slack's
per-method limits, or sends it back to the outbox (`HeldBack`) when its turn is not soon.
Messages name the method and Slack's error code; the token never appears in them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from ..pagers.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    parse_retry_after,
)
from ..pagers.http import scrub, timed_out, unreachable
from . import rules
from .limits import RateLimiter

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Inviting someone already there, or the bot itself, leaves the channel as wanted.
IGNORED_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})
# Errors about the invitees (not the channel or the token): name the users.
USER_INVITE_ERRORS = frozenset(
    {
        "user_not_found",
        "cant_invite",
        "user_is_restricted",
        "user_is_ultra_restricted",
        "ura_max_channels",
        "invitee_cant_see_channel",
        "no_external_invite_permission",
    }
)
NAME_ATTEMPTS = 20
DETAIL_LIMIT = 200


class SlackRefused(PermanentDeliveryError):
    """Slack answered `ok: false` with an error retrying cannot fix; `error` is its code."""

    def __init__(self, message: str, error: str, data: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.error = error
        self.data = data


class ShortRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, only when the wait is short enough to spend inline.

    A longer `Retry-After` goes back to the caller (and so to the outbox, which waits
    without holding a dispatcher). A value slack_sdk cannot read (not whole seconds)
    is refused too: its handler would fail on it.
    """

    def __init__(self, max_retry_count: int = 1, max_wait_s: float = 5.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        if not values:
            return True  # slack_sdk waits 1-2 s
        first = values[0][0] if isinstance(values[0], list) else values[0]
        text = str(first).strip()
        return text.isdigit() and int(text) <= self.max_wait_s


class SlackClient:
    """One Slack workspace through a bot token (`xoxb-…`)."""

    channel_name = staticmethod(rules.channel_name)

    def __init__(
        self,
        bot_token: str,
        api_url: str = DEFAULT_API_URL,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout_s: float = 30.0,
        rate_limit_retries: int = 1,
        max_inline_wait_s: float = 5.0,
        server_error_retries: int = 1,
        server_error_interval: RetryIntervalCalculator | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """`timeout_s` bounds each operation, slack_sdk's inline retries included (not the
        wait for the `limiter`, which keeps the calls under Slack's rate limits).

        With no `session`, slack_sdk opens one per request.
        """
        server_errors = (
            AsyncServerErrorRetryHandler(server_error_retries)
            if server_error_interval is None
            else AsyncServerErrorRetryHandler(server_error_retries, server_error_interval)
        )
        handlers: list[AsyncRetryHandler] = async_default_handlers()
        handlers += [
            ShortRateLimitRetryHandler(rate_limit_retries, max_inline_wait_s),
            server_errors,
        ]
        self._token = bot_token
        self._limiter = limiter
        self._timeout_s = timeout_s
        self._web = AsyncWebClient(
            token=bot_token,
            base_url=api_url,
            session=session,
            timeout=math.ceil(timeout_s),
            retry_handlers=handlers,
        )

    @property
    def retry_handlers(self) -> list[AsyncRetryHandler]:
        return list(self._web.retry_handlers)

    async def bot_user_id(self) -> str:
        """`auth.test`: the bot's own user id (and proof that the token works)."""
        response = await self._call("auth.test", self._web.auth_test, None)
        return str(response.get("user_id", ""))

    async def create_channel(self, base_name: str, *, ticket: int | None = None) -> tuple[str, str]:
        """`conversations.create` (public): returns (channel id, name created).

        A taken name is retried as `base-2`, `base-3`, … up to `base-20`.
        """
        for attempt in range(1, NAME_ATTEMPTS + 1):
            name = base_name if attempt == 1 else rules.numbered(base_name, attempt)
            try:
                response = await self._call(
                    "conversations.create",
                    partial(self._web.conversations_create, name=name),
                    ticket,
                )
            except SlackRefused as refused:
                if refused.error != "name_taken":
                    raise
                log.info("slack channel name taken, trying the next", extra={"channel": name})
                continue
            channel = response.get("channel") or {}
            return str(channel["id"]), str(channel.get("name", name))
        raise PermanentDeliveryError(
            f"slack conversations.create: {base_name} and {base_name}-2 … "
            f"-{NAME_ATTEMPTS} are all taken"
        )

    async def set_topic(self, channel: str, text: str, *, ticket: int | None = None) -> None:
        topic = rules.truncate(text, rules.TOPIC_MAX)
        await self._call(
            "conversations.setTopic",
            lambda: self._web.conversations_setTopic(channel=channel, topic=topic),
            ticket,
        )

    async def set_purpose(self, channel: str, text: str, *, ticket: int | None = None) -> None:
        purpose = rules.truncate(text, rules.PURPOSE_MAX)
        await self._call(
            "conversations.setPurpose",
            lambda: self._web.conversations_setPurpose(channel=channel, purpose=purpose),
            ticket,
        )

    async def invite(
        self, channel: str, user_ids: Iterable[str], *, ticket: int | None = None
    ) -> None:
        """`conversations.invite` with `force`: the valid users are invited even when some
        are not. Members already there and the bot itself are fine; anyone who could not
        be invited is named in a SlackRefused."""
        users = list(dict.fromkeys(user.strip() for user in user_ids if user.strip()))
        if not users:
            return
        try:
            await self._call(
                "conversations.invite",
                lambda: self._web.conversations_invite(channel=channel, users=users, force=True),
                ticket,
            )
        except SlackRefused as refused:
            failed = _invite_failures(refused, users)
            if failed is None:
                raise
            if failed:
                who = ", ".join(f"{user} ({error})" for user, error in failed)
                raise SlackRefused(
                    f"slack conversations.invite: could not invite {who}",
                    refused.error,
                    refused.data,
                ) from refused

    async def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        ticket: int | None = None,
    ) -> str:
        """`chat.postMessage`; returns the message's `ts`. `text` is the notification and
        the fallback for clients that cannot show blocks. Links do not unfurl.

        Every operation takes a `ticket` (the outbox message's id): when the rate limiter
        sends the call back (HeldBack), it keeps the call's slot for that ticket."""
        response = await self._call(
            "chat.postMessage",
            lambda: self._web.chat_postMessage(
                channel=channel,
                text=text,
                blocks=[dict(block) for block in blocks] if blocks else None,
                unfurl_links=False,
                unfurl_media=False,
            ),
            ticket,
            channel,
        )
        return str(response["ts"])

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        ticket: int | None,
        channel: str = "",
    ) -> AsyncSlackResponse:
        """Make the call once the limiter lets it go (HeldBack when that is not soon: the
        slot is then kept for `ticket`, the outbox message that will come back for it)."""
        if self._limiter is not None:
            await self._limiter.acquire(method, channel, ticket)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call()
        except SlackApiError as exc:
            raise self._translate(method, exc) from exc
        except TimeoutError:
            raise timed_out(f"slack {method}", self._timeout_s) from None
        except aiohttp.ClientError as exc:
            raise unreachable(f"slack {method}", exc) from None
        except SlackClientError as exc:  # a request slack_sdk refused to build
            message = scrub(f"slack {method}: {type(exc).__name__}: {exc}", [self._token])
            raise PermanentDeliveryError(message) from None

    def _translate(self, method: str, exc: SlackApiError) -> DeliveryError:
        response = exc.response
        status = int(response.status_code)
        data: Mapping[str, Any] = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or "")
        headers = response.headers or {}
        retry_after = parse_retry_after(headers.get("Retry-After"))
        where = f"slack {method}"
        if status == 429 or error == "ratelimited":
            wait = f", retry after {retry_after:g}s" if retry_after is not None else ""
            why = f"HTTP {status}" if status == 429 else error
            return TransientDeliveryError(
                f"{where}: rate limited ({why}){wait}", retry_after=retry_after
            )
        if status >= 500 or error in TRANSIENT_ERRORS:
            what = error or "server error"
            return TransientDeliveryError(
                self._safe(f"{where}: HTTP {status}: {what}"), retry_after=retry_after
            )
        if error:
            return SlackRefused(self._safe(f"{where}: {error}{_detail(data)}"), error, data)
        return PermanentDeliveryError(f"{where}: HTTP {status}: not a Slack API answer")

    def _safe(self, message: str) -> str:
        return scrub(message, [self._token])


def _invite_failures(refused: SlackRefused, users: Sequence[str]) -> list[tuple[str, str]] | None:
    """The users that could not be invited and why; None when the error is not about users
    (a missing channel, a bad token), so the original error stands."""
    per_user = refused.data.get("errors")
    if isinstance(per_user, list) and per_user:
        failed = [
            (str(item.get("user", "?")), str(item.get("error", refused.error)))
            for item in per_user
            if isinstance(item, Mapping)
        ]
        return [(user, error) for user, error in failed if error not in IGNORED_INVITE_ERRORS]
    if refused.error in IGNORED_INVITE_ERRORS:
        return []
    if refused.error in USER_INVITE_ERRORS:
        return [(user, refused.error) for user in users]
    return None


def _detail(data: Mapping[str, Any]) -> str:
    """What Slack adds to some errors: the scope it needs, block validation messages."""
    parts = []
    if data.get("needed"):
        parts.append(f"needs scope {data['needed']}")
    metadata = data.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, Mapping) else None
    if isinstance(messages, list):
        parts += [str(message) for message in messages[:3]]
    if not parts:
        return ""
    return " (" + rules.truncate("; ".join(parts), DETAIL_LIMIT) + ")"
