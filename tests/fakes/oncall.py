"""A fake Grafana OnCall public API: direct paging and alert group actions.

Shaped after grafana/oncall's EscalationView, BasePagingSerializer and AlertGroupView:
`Authorization: <token>`; `POST /api/v1/escalation/` takes `title`, `message`,
`source_url` and `team` or `users` (`[{"id", "important"}]`, never both) and answers 200
with the new alert group; `POST /api/v1/alert_groups/<id>/acknowledge|resolve` answers
200, 404, or 400 `{"detail": "Can't ..."}` when the group is already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .server import FakeServer


@dataclass
class FakeAlertGroup:
    id: str
    title: str | None
    message: str | None
    source_url: str | None
    team: str | None
    users: list[dict[str, Any]] = field(default_factory=list)
    state: str = "firing"  # firing | acknowledged | resolved

    def rendered(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "integration_id": "CFAKEDIRECTPAGING",
            "route_id": None,
            "alerts_count": 1,
            "state": self.state,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "resolved_at": None,
            "resolved_by": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "title": self.title,
            "permalinks": {"slack": None, "telegram": None, "web": f"/alert-groups/{self.id}"},
            "silenced_at": None,
        }


class FakeGrafanaOnCall(FakeServer):
    def __init__(self, api_token: str = "fake-oncall-api-token") -> None:
        super().__init__()
        self.api_token = api_token
        self.alert_groups: dict[str, FakeAlertGroup] = {}

    def routes(self) -> Iterable[web.RouteDef]:
        group = "/api/v1/alert_groups/{id}"
        return [
            web.post("/api/v1/escalation/", self._escalate),
            web.post("/api/v1/escalation", self._escalate),  # OnCall's slash is optional
            web.post(group + "/acknowledge", self._acknowledge),
            web.post(group + "/acknowledge/", self._acknowledge),
            web.post(group + "/resolve", self._resolve),
            web.post(group + "/resolve/", self._resolve),
        ]

    def failure_body(self, status: int) -> Any:
        return {"detail": HTTPStatus(status).phrase}

    async def _escalate(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _detail(401, "Invalid token.")
        try:
            body = await request.json()
        except ValueError:
            return _detail(400, "JSON parse error")
        problems = paging_errors(body)
        if problems:
            return web.json_response(problems, status=400)
        group = FakeAlertGroup(
            id=f"IFAKE{len(self.alert_groups) + 1:08d}",
            title=body.get("title"),
            message=body.get("message"),
            source_url=body.get("source_url"),
            team=body.get("team"),
            users=list(body.get("users") or []),
        )
        self.alert_groups[group.id] = group
        return web.json_response(group.rendered())

    async def _acknowledge(self, request: web.Request) -> web.Response:
        return self._move(request, "acknowledged")

    async def _resolve(self, request: web.Request) -> web.Response:
        return self._move(request, "resolved")

    def _move(self, request: web.Request, state: str) -> web.Response:
        if not self._authorized(request):
            return _detail(401, "Invalid token.")
        group = self.alert_groups.get(request.match_info["id"])
        if group is None:
            return _detail(404, "Not found.")
        verb = "acknowledge" if state == "acknowledged" else "resolve"
        if group.state == "resolved" or group.state == state:
            article = "a" if group.state == "resolved" else "an"
            return _detail(400, f"Can't {verb} {article} {group.state} alert group")
        group.state = state
        return web.Response(status=200)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == self.api_token


def paging_errors(body: Any) -> dict[str, Any]:
    """What BasePagingSerializer would refuse, in DRF's error shape."""
    if not isinstance(body, Mapping):
        return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
    users = body.get("users") or []
    if not isinstance(users, list) or not all(_is_user_reference(user) for user in users):
        return {"users": ["Each user needs a string 'id' and a boolean 'important'."]}
    if users and body.get("team"):
        return {"non_field_errors": ["users and team are mutually exclusive"]}
    if not users and not body.get("team"):
        return {"detail": "No team or users were given to page"}
    source_url = body.get("source_url")
    if source_url is not None and not str(source_url).startswith(("http://", "https://")):
        return {"source_url": ["Enter a valid URL."]}
    return {}


def _is_user_reference(user: Any) -> bool:
    return (
        isinstance(user, Mapping)
        and isinstance(user.get("id"), str)
        and isinstance(user.get("important"), bool)
    )


def _detail(status: int, detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=status)
