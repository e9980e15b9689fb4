"""A fake Alertmanager silences API (v2): `POST /api/v2/silences`, `GET /api/v2/silences`,
`GET` and `DELETE /api/v2/silence/{id}`, answering as Alertmanager does.

A posted silence is validated (matchers, times, `createdBy`, `comment`: 400 with a plain
text reason otherwise). Posting with a known `id` updates it in place when only its end
moves (same matchers, same start, still active); otherwise the old one is expired and a
new id answered, as `silence.Silences.Set` does. Deleting an expired silence answers 500
("already expired"), an unknown one 404. `now` tells the time (a test's fake clock).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .server import FakeServer


@dataclass
class FakeSilence:
    id: str
    matchers: list[dict[str, Any]]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updates: list[datetime] = field(default_factory=list)

    def state(self, now: datetime) -> str:
        if self.ends_at <= now:
            return "expired"
        return "pending" if self.starts_at > now else "active"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": self.matchers,
            "startsAt": _iso(self.starts_at),
            "endsAt": _iso(self.ends_at),
            "updatedAt": _iso(self.updates[-1] if self.updates else self.starts_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.state(now)},
        }


class FakeAlertmanager(FakeServer):
    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.now = now or (lambda: datetime.now(UTC))
        self.silences: dict[str, FakeSilence] = {}

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/api/v2/silences", self._post),
            web.get("/api/v2/silences", self._list),
            web.get("/api/v2/silence/{id}", self._get),
            web.delete("/api/v2/silence/{id}", self._delete),
        ]

    def failure_body(self, status: int) -> Any:
        return f"fake alertmanager: scripted {status}"

    def states(self) -> dict[str, str]:
        return {s.id: s.state(self.now()) for s in self.silences.values()}

    async def _post(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        problem = _problem(body)
        if problem:
            return web.Response(status=400, text=problem)
        now = self.now()
        starts, ends = _time(body["startsAt"]), _time(body["endsAt"])
        old = self.silences.get(str(body.get("id") or ""))
        if body.get("id") and old is None:
            return web.Response(status=404, text=f"silence {body['id']} not found")
        if old is not None and _can_update(old, body, now):
            old.ends_at = ends
            old.comment = body["comment"]
            old.updates.append(now)
            return web.json_response({"silenceID": old.id})
        if old is not None and old.state(now) != "expired":
            old.ends_at = now
        new = FakeSilence(
            str(uuid.uuid4()),
            list(body["matchers"]),
            max(starts, now),
            ends,
            body["createdBy"],
            body["comment"],
        )
        self.silences[new.id] = new
        return web.json_response({"silenceID": new.id})

    async def _list(self, request: web.Request) -> web.Response:
        now = self.now()
        return web.json_response([s.as_json(now) for s in self.silences.values()])

    async def _get(self, request: web.Request) -> web.Response:
        found = self.silences.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        return web.json_response(found.as_json(self.now()))

    async def _delete(self, request: web.Request) -> web.Response:
        found = self.silences.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        now = self.now()
        if found.state(now) == "expired":
            return web.Response(status=500, text="silence already expired")
        found.ends_at = now
        return web.Response(status=200)


def _problem(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return "body must be an object"
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        return "silence invalid: at least one matcher required"
    for m in matchers:
        if not (isinstance(m, Mapping) and m.get("name") and "value" in m and "isRegex" in m):
            return f"silence invalid: bad matcher {m!r}"
    for key in ("startsAt", "endsAt", "createdBy", "comment"):
        if not body.get(key):
            return f"silence invalid: {key} missing"
    try:
        if _time(body["endsAt"]) <= _time(body["startsAt"]):
            return "silence invalid: end time must be after start time"
    except ValueError:
        return "silence invalid: bad time"
    return None


def _can_update(old: FakeSilence, body: Mapping[str, Any], now: datetime) -> bool:
    return (
        old.state(now) == "active"
        and old.matchers == body["matchers"]
        and _time(body["startsAt"]) == old.starts_at
        and _time(body["endsAt"]) > now
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
