"""GitHub Issues as the incident tracker (REST API, a token as Bearer).

Plain aiohttp on the app's shared session: PyGithub is synchronous, and five endpoints do
not justify a thread per call. Endpoints: create `POST /repos/{o}/{r}/issues`, comment
`POST …/issues/{n}/comments`, assignees and state `PATCH …/issues/{n}`, labels
`POST …/issues/{n}/labels` and `DELETE …/issues/{n}/labels/{name}`, rights
`GET /repos/{o}/{r}`.

GitHub signals its primary rate limit as 403 (or 429) with `x-ratelimit-remaining: 0`
and the reset time in `x-ratelimit-reset`; that 403 is transient, not a refusal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import quote

import aiohttp

from ..config_tickets import TicketConfig
from ..pagers.base import TransientDeliveryError
from ..pagers.http import Answer
from .base import NewTicket, TicketRef
from .formats import GITHUB_BODY_MAX, cut, markdown
from .http import TrackerHttp

API_VERSION = "2022-11-28"


class _GitHubHttp(TrackerHttp):
    def _retry_after(self, response: aiohttp.ClientResponse) -> str | None:
        asked = response.headers.get("Retry-After")
        if asked is not None or response.headers.get("x-ratelimit-remaining") != "0":
            return asked
        reset = response.headers.get("x-ratelimit-reset", "")
        return str(max(1, int(reset) - int(time.time()))) if reset.isdigit() else "60"

    def error(self, answer: Answer) -> Exception:
        if answer.status == 403 and answer.retry_after is not None:  # a rate limit
            return TransientDeliveryError(
                f"{self.target}: rate limited (HTTP 403)", retry_after=float(answer.retry_after)
            )
        return super().error(answer)


class GitHubTracker:
    kind = "github"

    def __init__(self, config: TicketConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._repo = f"/repos/{config.repo}"
        self._http = _GitHubHttp(
            session,
            config.url,
            {
                "Authorization": f"Bearer {config.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "firstresponder",
            },
            target=f"github {config.repo}",
            timeout_s=config.timeout.total_seconds(),
            secrets=(config.token,),
        )

    async def create(self, ticket: NewTicket) -> TicketRef:
        body = {
            "title": ticket.title[:256],
            "body": cut(markdown(ticket.lines, ticket.links), GITHUB_BODY_MAX),
            "labels": list(ticket.labels),
        }
        found = (await self._http.call("POST", f"{self._repo}/issues", body)).json()
        number = found.get("number") if isinstance(found, dict) else None
        if not isinstance(number, int):
            raise TransientDeliveryError(f"{self._http.target}: created, but no number came back")
        return TicketRef(str(number), str(found.get("html_url", "")))

    async def comment(self, key: str, text: str, document: str = "") -> None:
        body = {"body": markdown([text], document=document)}
        await self._http.call("POST", f"{self._repo}/issues/{key}/comments", body)

    async def assign(self, key: str, users: Sequence[str]) -> None:
        await self._http.call("PATCH", f"{self._repo}/issues/{key}", {"assignees": list(users)})

    async def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None:
        for label in remove:  # 404: the label was not on the issue, which is what we want
            path = f"{self._repo}/issues/{key}/labels/{quote(label, safe='')}"
            await self._http.call("DELETE", path, allow=(404,))
        if add:
            await self._http.call(
                "POST", f"{self._repo}/issues/{key}/labels", {"labels": list(add)}
            )

    async def close(self, key: str) -> None:
        body = {"state": "closed", "state_reason": "completed"}
        await self._http.call("PATCH", f"{self._repo}/issues/{key}", body)

    async def check(self) -> list[str]:
        answer = await self._http.send("GET", self._repo)
        if answer.status == 401:
            return ["tickets.token: GitHub refused the token (HTTP 401)"]
        if answer.status == 404:
            return [
                f"tickets.repo: GitHub shows no repository {self._config.repo!r} to this token "
                "(HTTP 404: absent, or the token may not see it)"
            ]
        if not answer.ok:
            raise self._http.error(answer)
        found = answer.json() or {}
        problems = []
        if not found.get("has_issues", True):
            problems.append(f"tickets.repo: issues are turned off in {self._config.repo}")
        rights = found.get("permissions") or {}
        if not (rights.get("push") or rights.get("triage") or rights.get("maintain")):
            problems.append(
                f"tickets.token: may not label or assign issues in {self._config.repo} "
                "(needs triage or write access; a fine-grained token needs Issues: read and write)"
            )
        return problems
