"""Jira as the incident tracker: Cloud (REST v3, ADF bodies, email + API token) and Data
Center (REST v2, wiki markup, a personal access token as Bearer).

Plain aiohttp on the app's shared session: the `jira` package is synchronous (requests)
and would need a thread per call; the handful of endpoints used here are stable and
small. Endpoints: create `POST /issue`, comment `POST /issue/{key}/comment`, assign
`PUT /issue/{key}/assignee` (`accountId` on Cloud, `name` on Data Center), labels
`PUT /issue/{key}` with an `update`, close `GET`+`POST /issue/{key}/transitions`, rights
`GET /mypermissions`, issue types `GET /issue/createmeta/{project}/issuetypes` (paged).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import aiohttp

from ..config_tickets import JIRA_CLOUD, TicketConfig
from ..pagers.base import PermanentDeliveryError, TransientDeliveryError
from . import formats
from .base import NewTicket, TicketRef
from .http import TrackerHttp

# What firstresponder does to a ticket, as Jira's project permissions.
PERMISSIONS = {
    "BROWSE_PROJECTS": "Browse Projects",
    "CREATE_ISSUES": "Create Issues",
    "EDIT_ISSUES": "Edit Issues",
    "ASSIGN_ISSUES": "Assign Issues",
    "TRANSITION_ISSUES": "Transition Issues",
    "ADD_COMMENTS": "Add Comments",
}
_PAGES_MAX = 20


class JiraTracker:
    def __init__(self, config: TicketConfig, session: aiohttp.ClientSession) -> None:
        self.kind = config.tracker
        self._cloud = config.tracker == JIRA_CLOUD
        self._config = config
        version = "3" if self._cloud else "2"
        if self._cloud:
            raw = f"{config.email}:{config.token}".encode()
            authorization = "Basic " + base64.b64encode(raw).decode()
        else:
            authorization = f"Bearer {config.token}"
        self._http = TrackerHttp(
            session,
            f"{config.url}/rest/api/{version}",
            {"Authorization": authorization, "Accept": "application/json"},
            target=f"jira {config.project}",
            timeout_s=config.timeout.total_seconds(),
            secrets=(config.token, authorization.split(" ", 1)[1]),
        )

    def _body(self, lines: Sequence[str], links: Sequence[Any] = (), document: str = "") -> Any:
        if self._cloud:
            return formats.adf(lines, links, document)
        return formats.wiki(lines, links, document)

    async def create(self, ticket: NewTicket) -> TicketRef:
        fields = {
            "project": {"key": self._config.project},
            "issuetype": {"name": self._config.issue_type},
            "summary": ticket.title[:255],
            "description": self._body(ticket.lines, ticket.links),
            "labels": list(ticket.labels),
        }
        answer = await self._http.call("POST", "/issue", {"fields": fields})
        found = answer.json()
        key = found.get("key") if isinstance(found, dict) else None
        if not isinstance(key, str) or not key:
            raise TransientDeliveryError(f"{self._http.target}: created, but no key came back")
        return TicketRef(key, f"{self._config.url}/browse/{key}")

    async def comment(self, key: str, text: str, document: str = "") -> None:
        body = self._body([text], document=document)
        await self._http.call("POST", f"/issue/{key}/comment", {"body": body})

    async def assign(self, key: str, users: Sequence[str]) -> None:
        if not users:
            return
        field = "accountId" if self._cloud else "name"
        await self._http.call("PUT", f"/issue/{key}/assignee", {field: users[0]})

    async def relabel(self, key: str, add: Sequence[str], remove: Sequence[str]) -> None:
        changes = [{"remove": label} for label in remove] + [{"add": label} for label in add]
        if changes:
            await self._http.call("PUT", f"/issue/{key}", {"update": {"labels": changes}})

    async def close(self, key: str) -> None:
        """Take the transition named `close_transition` (by its name or its target
        status's name); when the issue already stands there, nothing is left to do."""
        wanted = self._config.close_transition.casefold()
        answer = await self._http.call("GET", f"/issue/{key}/transitions")
        found = answer.json() or {}
        transitions = found.get("transitions", []) if isinstance(found, dict) else []
        for transition in transitions:
            names = {str(transition.get("name", "")), str(transition.get("to", {}).get("name"))}
            if wanted in {name.casefold() for name in names}:
                body = {"transition": {"id": str(transition["id"])}}
                await self._http.call("POST", f"/issue/{key}/transitions", body)
                return
        if await self._status(key) == wanted:
            return  # closed already (a repeated delivery, or closed by hand)
        offered = ", ".join(repr(t.get("name")) for t in transitions) or "none"
        raise PermanentDeliveryError(
            f"{self._http.target}: {key} has no transition {self._config.close_transition!r} "
            f"(offered: {offered}); set tickets.close_transition"
        )

    async def _status(self, key: str) -> str:
        answer = await self._http.call("GET", f"/issue/{key}", params={"fields": "status"})
        found = answer.json() or {}
        status = found.get("fields", {}).get("status", {}) if isinstance(found, dict) else {}
        return str(status.get("name", "")).casefold()

    async def check(self) -> list[str]:
        project = self._config.project
        params = {"projectKey": project, "permissions": ",".join(PERMISSIONS)}
        answer = await self._http.send("GET", "/mypermissions", params=params)
        if answer.status == 401:
            who = "tickets.email/tickets.token" if self._cloud else "tickets.token"
            return [f"{who}: Jira refused the credentials (HTTP 401)"]
        if answer.status in (400, 404):
            return [f"tickets.project: Jira knows no project {project!r} (HTTP {answer.status})"]
        if not answer.ok:
            raise self._http.error(answer)
        granted = (answer.json() or {}).get("permissions", {})
        problems = [
            f"tickets.token: lacks the Jira permission {name!r} ({key}) in project {project}"
            for key, name in PERMISSIONS.items()
            if not granted.get(key, {}).get("havePermission")
        ]
        if not problems:
            problems += await self._issue_type_problems()
        return problems

    async def _issue_type_problems(self) -> list[str]:
        names: list[str] = []
        start = 0
        for _ in range(_PAGES_MAX):
            path = f"/issue/createmeta/{self._config.project}/issuetypes"
            params = {"startAt": str(start), "maxResults": "50"}
            page = (await self._http.call("GET", path, params=params)).json() or {}
            items = page.get("issueTypes", page.get("values", []))
            names += [str(item.get("name")) for item in items]
            start += len(items)
            if not items or page.get("isLast") or start >= int(page.get("total", start)):
                break
        if self._config.issue_type.casefold() in {name.casefold() for name in names}:
            return []
        return [
            f"tickets.issue_type: project {self._config.project} has no issue type "
            f"{self._config.issue_type!r} (it has: {', '.join(names) or 'none'})"
        ]
