"""A generic JSON webhook: one POST per page, for bridges to anything else.

Body: `{"version": "1", "action", "dedup_key", "role", "incident_id", "target"}` plus the
page's payload snapshot (summary, severity, impact, service, title, reason,
incident_url, links, details, timestamp). Receivers should deduplicate on `dedup_key`
and `action`: a page is delivered at least once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from .base import PageMessage
from .http import failure, post

BODY_VERSION = "1"


class WebhookPager:
    """A pager target that POSTs each page as JSON to one URL."""

    def __init__(
        self,
        name: str,
        url: str,
        session: aiohttp.ClientSession,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._url = URL(url)
        self._session = session
        self._timeout_s = timeout_s
        self._headers = {"Accept": "application/json", **(headers or {})}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        # Any configured header may carry a credential, and so may the URL.
        self._secrets = (
            bearer_token or "",
            *(headers or {}).values(),
            self._url.path,
            self._url.query_string,
        )

    async def send(self, message: PageMessage) -> str | None:
        answer = await post(
            self._session,
            self._url,
            webhook_body(message),
            self._headers,
            target=self.name,
            timeout_s=self._timeout_s,
        )
        if not answer.ok:
            raise failure(self.name, answer, secrets=self._secrets)
        return None

    async def close(self) -> None:
        """The session belongs to the app."""


def webhook_body(message: PageMessage) -> dict[str, Any]:
    envelope = {
        "version": BODY_VERSION,
        "action": message.action.value,
        "dedup_key": message.dedup_key,
        "role": message.role.value,
        "incident_id": message.incident_id,
        "target": message.target,
    }
    return {**message.payload, **envelope}  # the envelope wins a name clash
