"""A fake Jira: Cloud (REST v3, ADF, email + API token) or Data Center (REST v2, wiki
text, a personal access token as Bearer), for the endpoints firstresponder calls.

    async with FakeJira(cloud=True) as jira:
        jira.fail_next(429, retry_after=1)      # Jira Cloud's rate limit answer
        ... jira.issues["IM-1"].comments ... jira.issues["IM-1"].status ...

Answers are Jira's: 201 with `{"id","key","self"}` for a new issue, 204 for updates,
400 with `{"errorMessages": [...], "errors": {field: message}}` for bad fields, 401 for
bad credentials, 404 for an unknown issue or project. The issue types list is paged
(`startAt`, `maxResults`, `total`) with a small page so callers must follow it. The
workflow is To Do → In Progress → Done (and Done → To Do by "Reopen").
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import FakeServer

EMAIL = "bot@example.com"
TOKEN = "fake-jira-api-token-secret"
PROJECT = "IM"
ALL_PERMISSIONS = (
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "ASSIGN_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
)
WORKFLOW = {
    "To Do": [("21", "Start work", "In Progress"), ("31", "Done", "Done")],
    "In Progress": [("31", "Done", "Done")],
    "Done": [("11", "Reopen", "To Do")],
}


@dataclass
class FakeIssue:
    key: str
    summary: str
    description: Any
    issue_type: str
    labels: list[str]
    status: str = "To Do"
    assignee: str | None = None
    comments: list[Any] = field(default_factory=list)


def _error(status: int, messages: Iterable[str] = (), **fields: str) -> web.Response:
    body = {"errorMessages": list(messages), "errors": fields}
    return web.json_response(body, status=status)


class FakeJira(FakeServer):
    def __init__(
        self,
        *,
        cloud: bool = True,
        project: str = PROJECT,
        token: str = TOKEN,
        email: str = EMAIL,
        permissions: Iterable[str] = ALL_PERMISSIONS,
        issue_types: Iterable[str] = ("Bug", "Task", "Story", "Epic", "Incident"),
        users: Iterable[str] = ("acct-alice", "acct-bob", "alice", "bob"),
        page_size: int = 2,
    ) -> None:
        super().__init__()
        self.cloud = cloud
        self.project = project
        self._token, self._email = token, email
        self.permissions = set(permissions)
        self.issue_types = list(issue_types)
        self.users = set(users)
        self.page_size = page_size
        self.issues: dict[str, FakeIssue] = {}
        self._ids = itertools.count(10001)
        self._numbers = itertools.count(1)

    @property
    def prefix(self) -> str:
        return "/rest/api/3" if self.cloud else "/rest/api/2"

    def failure_body(self, status: int) -> Any:
        return {"errorMessages": [f"fake Jira says {status}"], "errors": {}}

    def routes(self) -> Iterable[web.RouteDef]:
        p = self.prefix
        return [
            web.post(f"{p}/issue", self._create),
            web.get(f"{p}/issue/{{key}}", self._get),
            web.put(f"{p}/issue/{{key}}", self._edit),
            web.post(f"{p}/issue/{{key}}/comment", self._comment),
            web.put(f"{p}/issue/{{key}}/assignee", self._assign),
            web.get(f"{p}/issue/{{key}}/transitions", self._transitions),
            web.post(f"{p}/issue/{{key}}/transitions", self._transition),
            web.get(f"{p}/mypermissions", self._my_permissions),
            web.get(f"{p}/issue/createmeta/{{project}}/issuetypes", self._issue_types),
        ]

    # --- helpers --------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.cloud:
            raw = base64.b64encode(f"{self._email}:{self._token}".encode()).decode()
            return header == f"Basic {raw}"
        return header == f"Bearer {self._token}"

    def _text_error(self, value: Any, name: str) -> web.Response | None:
        """Cloud (v3) wants an ADF document; Data Center (v2) a string."""
        if self.cloud:
            ok = (
                isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1
            )
            ok = ok and all(_valid_node(node) for node in value.get("content", []))
            return (
                None
                if ok
                else _error(
                    400,
                    **{
                        name: "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    },
                )
            )
        return (
            None
            if isinstance(value, str)
            else _error(400, **{name: "Operation value must be a string"})
        )

    async def _guard(
        self, request: web.Request, permission: str
    ) -> tuple[web.Response | None, Any]:
        if not self._authorized(request):
            return _error(
                401,
                ["You are not authenticated. Authentication required to perform this operation."],
            ), None
        if permission not in self.permissions:
            return _error(403, [f"You do not have the permission {permission}."]), None
        try:
            body = await request.json() if request.body_exists else None
        except ValueError:
            return _error(400, ["Unexpected character: the body is not JSON"]), None
        return None, body

    def _issue(self, request: web.Request) -> FakeIssue | None:
        return self.issues.get(request.match_info["key"])

    # --- endpoints -------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request, "CREATE_ISSUES")
        if refused:
            return refused
        fields = (body or {}).get("fields", {})
        if fields.get("project", {}).get("key") != self.project:
            return _error(400, project="valid project is required")
        if fields.get("issuetype", {}).get("name") not in self.issue_types:
            return _error(400, issuetype="Specify a valid issue type")
        if not str(fields.get("summary", "")).strip() or len(fields["summary"]) > 255:
            return _error(
                400, summary="You must specify a summary of the issue (at most 255 characters)."
            )
        if (refused := self._text_error(fields.get("description"), "description")) is not None:
            return refused
        labels = fields.get("labels", [])
        if any(" " in label for label in labels):
            return _error(400, labels="The label must not contain spaces.")
        key = f"{self.project}-{next(self._numbers)}"
        self.issues[key] = FakeIssue(
            key, fields["summary"], fields["description"], fields["issuetype"]["name"], list(labels)
        )
        issue_id = str(next(self._ids))
        return web.json_response(
            {"id": issue_id, "key": key, "self": f"{self.url}{self.prefix}/issue/{issue_id}"},
            status=201,
        )

    async def _get(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request, "BROWSE_PROJECTS")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        return web.json_response(
            {"key": issue.key, "fields": {"status": {"name": issue.status}, "labels": issue.labels}}
        )

    async def _edit(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request, "EDIT_ISSUES")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        for change in (body or {}).get("update", {}).get("labels", []):
            if "add" in change and change["add"] not in issue.labels:
                issue.labels.append(change["add"])
            if "remove" in change and change["remove"] in issue.labels:
                issue.labels.remove(change["remove"])
        return web.Response(status=204)

    async def _comment(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request, "ADD_COMMENTS")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        if (refused := self._text_error((body or {}).get("body"), "comment")) is not None:
            return refused
        issue.comments.append(body["body"])
        return web.json_response({"id": str(next(self._ids)), "body": body["body"]}, status=201)

    async def _assign(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request, "ASSIGN_ISSUES")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        field_name = "accountId" if self.cloud else "name"
        user = (body or {}).get(field_name)
        if user not in self.users:
            return _error(400, assignee=f"User '{user}' cannot be assigned issues.")
        issue.assignee = user
        return web.Response(status=204)

    async def _transitions(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request, "BROWSE_PROJECTS")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        offered = [
            {
                "id": tid,
                "name": name,
                "to": {"name": to, "statusCategory": {"key": "done" if to == "Done" else "new"}},
            }
            for tid, name, to in WORKFLOW[issue.status]
        ]
        return web.json_response({"expand": "transitions", "transitions": offered})

    async def _transition(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request, "TRANSITION_ISSUES")
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        wanted = str((body or {}).get("transition", {}).get("id"))
        for tid, _, to in WORKFLOW[issue.status]:
            if tid == wanted:
                issue.status = to
                return web.Response(status=204)
        return _error(400, [f"Transition id '{wanted}' is not valid for this issue."])

    async def _my_permissions(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, ["You are not authenticated."])
        if request.query.get("projectKey") != self.project:
            return _error(
                404, [f"No project could be found with key '{request.query.get('projectKey')}'."]
            )
        asked = [p for p in request.query.get("permissions", "").split(",") if p]
        if not asked:
            return _error(400, ["The permissions query parameter is required."])
        granted = {
            key: {
                "id": str(i),
                "key": key,
                "name": key.replace("_", " ").title(),
                "type": "PROJECT",
                "havePermission": key in self.permissions,
            }
            for i, key in enumerate(asked)
        }
        return web.json_response({"permissions": granted})

    async def _issue_types(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, ["You are not authenticated."])
        if request.match_info["project"] != self.project:
            return _error(404, ["No project could be found."])
        start = int(request.query.get("startAt", "0"))
        size = min(int(request.query.get("maxResults", "50")), self.page_size)
        page = [
            {"id": str(i), "name": name, "subtask": False}
            for i, name in enumerate(self.issue_types)
        ][start : start + size]
        total = len(self.issue_types)
        if self.cloud:
            return web.json_response(
                {"issueTypes": page, "startAt": start, "maxResults": size, "total": total}
            )
        return web.json_response(
            {
                "values": page,
                "startAt": start,
                "maxResults": size,
                "total": total,
                "isLast": start + size >= total,
            }
        )


def _valid_node(node: Any) -> bool:
    """ADF: text nodes must be non-empty; every node has a type."""
    if not isinstance(node, dict) or "type" not in node:
        return False
    if node["type"] == "text" and not node.get("text"):
        return False
    return all(_valid_node(child) for child in node.get("content", []))


def adf_text(document: Any) -> str:
    """All the text of an ADF document, for assertions."""
    if isinstance(document, str):
        return document
    if isinstance(document, dict):
        own = str(document.get("text", ""))
        return own + " ".join(adf_text(child) for child in document.get("content", []))
    return ""


def adf_links(document: Any) -> list[str]:
    found: list[str] = []
    if isinstance(document, dict):
        for mark in document.get("marks", []):
            if mark.get("type") == "link":
                found.append(mark["attrs"]["href"])
        for child in document.get("content", []):
            found += adf_links(child)
    return found
