"""Alertmanager's silences API (v2), errors translated once, here, into delivery errors.

`POST /api/v2/silences` creates a silence, or updates one when the body carries its `id`
(Alertmanager updates in place when only `endsAt` moves, otherwise it expires the old one
and answers a new id); `GET /api/v2/silence/{id}`; `DELETE /api/v2/silence/{id}` expires
it. 2xx is success; 429, 5xx, timeouts and network errors are transient; any other
status is permanent. Credentials go in headers only (user:password in the base URL is
moved there) and never into a message.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from ssl import SSLContext
from typing import Any

import aiohttp
from yarl import URL

from .pagers.http import Answer, failure, timed_out, unreachable

TARGET = "alertmanager"


class AlertmanagerClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 10.0,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ssl: SSLContext | bool | None = None,
    ) -> None:
        url = URL(base_url)
        self._session = session
        self._api = url.with_user(None).with_password(None) / "api" / "v2"
        self._timeout = timeout
        self._ssl = True if ssl is None else ssl
        self._headers = {"Accept": "application/json"}
        self._secrets: list[str] = []
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
            self._secrets.append(bearer_token)
        elif basic_auth or url.user:
            user, password = basic_auth or (url.user or "", url.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
            self._secrets += [password, token]

    async def post_silence(self, silence: Mapping[str, Any]) -> str:
        """Create (or, with `id`, update) a silence; its id, new or the same."""
        answer = await self._call("POST", self._api / "silences", silence)
        body = answer.json()
        if not answer.ok:
            raise failure(TARGET, answer, self._secrets)
        if not isinstance(body, Mapping) or not isinstance(body.get("silenceID"), str):
            raise failure(TARGET, Answer(502, f"no silenceID in the answer: {answer.text}"))
        return str(body["silenceID"])

    async def get_silence(self, silence_id: str) -> Mapping[str, Any] | None:
        """The silence as Alertmanager has it; None when it does not know the id."""
        answer = await self._call("GET", self._api / "silence" / silence_id, None)
        if answer.status == 404:
            return None
        body = answer.json()
        if not answer.ok or not isinstance(body, Mapping):
            raise failure(TARGET, answer, self._secrets)
        return body

    async def expire_silence(self, silence_id: str) -> bool:
        """Expire it; False when it was already expired or unknown (nothing to do)."""
        answer = await self._call("DELETE", self._api / "silence" / silence_id, None)
        if answer.ok:
            return True
        if answer.status == 404:
            return False
        if answer.status >= 500:
            # Alertmanager answers 500 for a silence that has already expired.
            found = await self.get_silence(silence_id)
            if found is None or silence_state(found) == "expired":
                return False
        raise failure(TARGET, answer, self._secrets)

    async def _call(self, method: str, url: URL, body: Mapping[str, Any] | None) -> Answer:
        try:
            async with self._session.request(
                method,
                url,
                json=body,
                headers=self._headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                text = (await response.read()).decode("utf-8", "replace")
                return Answer(response.status, text, response.headers.get("Retry-After"))
        except TimeoutError:
            raise timed_out(TARGET, self._timeout) from None
        except aiohttp.ClientError as exc:
            raise unreachable(TARGET, exc) from None


def silence_state(silence: Mapping[str, Any]) -> str:
    """`active`, `pending` or `expired` (empty when the answer does not say)."""
    status = silence.get("status")
    return str(status.get("state", "")) if isinstance(status, Mapping) else ""
