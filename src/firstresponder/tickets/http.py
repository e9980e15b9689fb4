"""One HTTP request to a tracker, its answer turned into a delivery error once.

The shared `pagers.http` rules apply (2xx success; 429 and 5xx transient with
`Retry-After`; anything else permanent), with the secrets scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import aiohttp

from ..pagers.http import Answer, failure, timed_out, unreachable


class TrackerHttp:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str],
        *,
        target: str,
        timeout_s: float,
        secrets: Iterable[str] = (),
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = dict(headers)
        self.target = target
        self._timeout = timeout_s
        self._secrets = tuple(secrets)

    async def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
    ) -> Answer:
        """Make the request; a 2xx answer (or a status in `allow`) is returned, any other
        raises the delivery error it means."""
        answer = await self.send(method, path, body, params=params)
        if answer.ok or answer.status in allow:
            return answer
        raise self.error(answer)

    async def send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        """Make the request and return whatever came back; only the network raises."""
        try:
            async with self._session.request(
                method,
                self._base + path,
                json=body,
                params=params,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                text = (await response.read()).decode("utf-8", "replace")
                return Answer(response.status, text, self._retry_after(response))
        except TimeoutError:
            raise timed_out(self.target, self._timeout) from None
        except aiohttp.ClientError as exc:
            raise unreachable(self.target, exc) from None

    def error(self, answer: Answer) -> Exception:
        return failure(self.target, answer, self._secrets)

    def _retry_after(self, response: aiohttp.ClientResponse) -> str | None:
        return response.headers.get("Retry-After")
