"""A fake GitHub REST API for the issue endpoints firstresponder calls.

    async with FakeGitHub() as gh:
        gh.rate_limit_next(reset_in=2)   # 403 with x-ratelimit-remaining: 0, as GitHub does
        gh.fail_next(429, retry_after=1) # a secondary rate limit
        ... gh.issues[1].comments ... gh.issues[1].state ...

Answers are GitHub's: 201 with the issue (`number`, `html_url`) on creation, 200 for
updates, 401 `Bad credentials`, 404 `Not Found` (a repository the token cannot see, a
label not on the issue), 422 `Validation Failed` with `errors[]` for bad fields. Only
collaborators can be assigned.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import FakeServer

TOKEN = "github_pat_fake_0000_secret"
REPO = "acme/incidents"
DOCS = "https://docs.github.com/rest"


@dataclass
class FakeGitHubIssue:
    number: int
    title: str
    body: str
    labels: list[str]
    state: str = "open"
    state_reason: str | None = None
    assignees: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _message(status: int, message: str, code: str = "") -> web.Response:
    """GitHub's error body: `message`, `documentation_url` and (newer) `status` as text."""
    body = {"message": message, "documentation_url": DOCS}
    if code:
        body["status"] = code
    return web.json_response(body, status=status)


def _invalid(field_name: str, code: str = "invalid", value: Any = None) -> web.Response:
    error = {"resource": "Issue", "field": field_name, "code": code, "value": value}
    body = {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}
    return web.json_response(body, status=422)


class FakeGitHub(FakeServer):
    def __init__(
        self,
        *,
        token: str = TOKEN,
        repo: str = REPO,
        push: bool = True,
        has_issues: bool = True,
        collaborators: Iterable[str] = ("alice", "bob", "carol"),
    ) -> None:
        super().__init__()
        self._token = token
        self.repo = repo
        self.push = push
        self.has_issues = has_issues
        self.collaborators = set(collaborators)
        self.issues: dict[int, FakeGitHubIssue] = {}
        self._numbers = itertools.count(1)
        self._limited = 0
        self._reset_in = 0

    def failure_body(self, status: int) -> Any:
        return {"message": f"fake GitHub says {status}", "documentation_url": DOCS}

    def rate_limit_next(self, times: int = 1, reset_in: int = 1) -> None:
        """The next `times` requests meet the primary rate limit (403, remaining 0)."""
        self._limited += times
        self._reset_in = reset_in

    def routes(self) -> Iterable[web.RouteDef]:
        base = "/repos/{owner}/{name}"
        return [
            web.get(base, self._repository),
            web.post(f"{base}/issues", self._create),
            web.patch(f"{base}/issues/{{number}}", self._update),
            web.post(f"{base}/issues/{{number}}/comments", self._comment),
            web.get(f"{base}/issues/{{number}}/comments", self._comments),
            web.post(f"{base}/issues/{{number}}/labels", self._add_labels),
            web.delete(f"{base}/issues/{{number}}/labels/{{label}}", self._remove_label),
        ]

    async def _guard(
        self, request: web.Request, write: bool = True
    ) -> tuple[web.Response | None, Any]:
        if self._limited:
            self._limited -= 1
            reset = str(int(time.time()) + self._reset_in)
            headers = {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-limit": "5000",
                "x-ratelimit-reset": reset,
            }
            return web.json_response(
                {"message": "API rate limit exceeded", "documentation_url": DOCS},
                status=403,
                headers=headers,
            ), None
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            return _message(401, "Bad credentials", code="401"), None
        if f"{request.match_info['owner']}/{request.match_info['name']}" != self.repo:
            return _message(404, "Not Found", code="404"), None
        if write and not self.push:
            return _message(
                403, "Resource not accessible by personal access token", code="403"
            ), None
        try:
            body = await request.json() if request.body_exists else None
        except ValueError:
            return _message(400, "Problems parsing JSON"), None
        return None, body

    def _issue(self, request: web.Request) -> FakeGitHubIssue | None:
        number = request.match_info["number"]
        return self.issues.get(int(number)) if number.isdigit() else None

    def _issue_json(self, issue: FakeGitHubIssue) -> dict[str, Any]:
        return {
            "number": issue.number,
            "html_url": f"https://github.example/{self.repo}/issues/{issue.number}",
            "title": issue.title,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "labels": [{"name": label} for label in issue.labels],
            "assignees": [{"login": login} for login in issue.assignees],
        }

    async def _repository(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request, write=False)
        if refused:
            return refused
        rights = {
            "admin": False,
            "maintain": False,
            "push": self.push,
            "triage": self.push,
            "pull": True,
        }
        return web.json_response(
            {"full_name": self.repo, "has_issues": self.has_issues, "permissions": rights}
        )

    async def _create(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        body = body or {}
        if not str(body.get("title", "")).strip():
            return _invalid("title", "missing_field")
        if len(str(body.get("body", ""))) > 65536:
            return _invalid("body", "custom")
        number = next(self._numbers)
        issue = FakeGitHubIssue(
            number, body["title"], str(body.get("body", "")), list(body.get("labels", []))
        )
        self.issues[number] = issue
        return web.json_response(self._issue_json(issue), status=201)

    async def _update(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _message(404, "Not Found")
        body = body or {}
        if "assignees" in body:
            strangers = [login for login in body["assignees"] if login not in self.collaborators]
            if strangers:
                return _invalid("assignees", value=strangers)
            issue.assignees = list(body["assignees"])
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                return _invalid("state", value=body["state"])
            issue.state, issue.state_reason = body["state"], body.get("state_reason")
        return web.json_response(self._issue_json(issue))

    async def _comment(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _message(404, "Not Found")
        text = str((body or {}).get("body", ""))
        if not text or len(text) > 65536:
            return _invalid("body", "custom")
        issue.comments.append(text)
        return web.json_response({"id": len(issue.comments), "body": text}, status=201)

    async def _comments(self, request: web.Request) -> web.Response:
        """Paged as GitHub pages: `per_page`, `page` and a `Link` header."""
        refused, _ = await self._guard(request, write=False)
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _message(404, "Not Found")
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = int(request.query.get("page", "1"))
        chunk = issue.comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(issue.comments):
            headers["Link"] = (
                f'<{self.url}{request.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            )
        return web.json_response([{"body": text} for text in chunk], headers=headers)

    async def _add_labels(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _message(404, "Not Found")
        for label in (body or {}).get("labels", []):
            if label not in issue.labels:
                issue.labels.append(label)
        return web.json_response([{"name": label} for label in issue.labels])

    async def _remove_label(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request)
        if refused:
            return refused
        issue = self._issue(request)
        label = request.match_info["label"]
        if issue is None or label not in issue.labels:
            return _message(404, "Label does not exist")
        issue.labels.remove(label)
        return web.json_response([{"name": name} for name in issue.labels])
