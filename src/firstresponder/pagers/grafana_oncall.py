"""Grafana OnCall (and Grafana Cloud IRM) through its public API, "direct paging".

Checked against grafana/oncall (engine/apps/public_api/views/escalation.py,
engine/apps/api/serializers/direct_paging.py, docs/sources/oncall-api-reference/
escalation.md and alertgroups.md):

- `POST {api_url}/api/v1/escalation/` with `title`, `message`, `source_url` and either
  `team` (a team id) or `users` (`[{"id", "important"}]`; the two are mutually
  exclusive), header `Authorization: <api token>`. It creates an alert group and answers
  200 with the alert group as `AlertGroupSerializer` renders it, whose `id` is the alert
  group's public id: that is the reference kept for acknowledge and resolve.
  `important` exists per user only; a team is paged through its own routes.
- `POST {api_url}/api/v1/alert_groups/<id>/acknowledge` and `.../resolve` answer 200 and
  an empty body, or 400 `{"detail": "Can't acknowledge an acknowledged alert group"}`
  (and the like) when the group is already there; that counts as delivered.

The escalation endpoint has no idempotency key: a trigger retried after an answer was
lost can open a second alert group. Paging twice beats not paging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from ..domain.escalation import PageAction
from ..domain.vocabulary import Role
from .base import PageMessage, PermanentDeliveryError, TransientDeliveryError
from .http import Answer, failure, post, reason

# What OnCall answers when an alert group already is where we want it.
_ALREADY_DONE = frozenset(
    {
        "Can't acknowledge an acknowledged alert group",
        "Can't acknowledge a resolved alert group",
        "Can't resolve a resolved alert group",
    }
)


@dataclass(frozen=True)
class OnCallTarget:
    """Whom a role pages: a Grafana OnCall team, or a list of users (never both)."""

    team: str | None = None
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.team) == bool(self.users):
            raise ValueError("a Grafana OnCall target needs a team or users, not both")


class GrafanaOnCall:
    """A pager target that escalates to OnCall teams or users, one target per role."""

    def __init__(
        self,
        name: str,
        api_url: str,
        api_token: str,
        targets: Mapping[Role, OnCallTarget],
        session: aiohttp.ClientSession,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._api = URL(api_url.rstrip("/")) / "api" / "v1"
        self._token = api_token
        self._targets = dict(targets)
        self._session = session
        self._timeout_s = timeout_s

    async def send(self, message: PageMessage) -> str | None:
        if message.action is PageAction.TRIGGER:
            return await self._escalate(message)
        if message.reference is None:
            return None  # the trigger never got through: there is no alert group to update
        verb = "acknowledge" if message.action is PageAction.ACKNOWLEDGE else "resolve"
        group = quote(message.reference, safe="")  # an id, never a path
        url = self._api.joinpath("alert_groups", group, verb, encoded=True)
        answer = await self._post(url, None)
        if not answer.ok and not (answer.status == 400 and reason(answer.text) in _ALREADY_DONE):
            raise failure(self.name, answer, secrets=(self._token,))
        return message.reference

    async def _escalate(self, message: PageMessage) -> str:
        target = self._targets.get(message.role)
        if target is None:
            raise PermanentDeliveryError(
                f"{self.name}: no OnCall target for role {message.role.value}"
            )
        answer = await self._post(self._api / "escalation" / "", escalation(message, target))
        if not answer.ok:
            raise failure(self.name, answer, secrets=(self._token,))
        body = answer.json()
        # `id` is AlertGroupSerializer's `public_primary_key`, the id the alert_groups
        # endpoints take (engine/apps/public_api/serializers/alert_groups.py).
        group_id = body.get("id") if isinstance(body, Mapping) else None
        if not isinstance(group_id, str) or not group_id:
            # Accepted yet unaddressable: asking again beats a page nobody can resolve.
            raise TransientDeliveryError(f"{self.name}: escalation answer has no alert group id")
        return group_id

    async def _post(self, url: URL, body: Mapping[str, Any] | None) -> Answer:
        headers = {"Authorization": self._token, "Accept": "application/json"}
        return await post(
            self._session, url, body, headers, target=self.name, timeout_s=self._timeout_s
        )

    async def close(self) -> None:
        """The session belongs to the app."""


def escalation(message: PageMessage, target: OnCallTarget) -> dict[str, Any]:
    """The body of `POST /api/v1/escalation/` for a trigger."""
    page = message.payload
    title = str(page.get("title") or page.get("summary") or f"incident {message.incident_id}")
    lines = [
        str(page[key]) for key in ("summary", "reason") if page.get(key) and page[key] != title
    ]
    facts = [f"{key} {page[key]}" for key in ("severity", "impact", "service") if page.get(key)]
    if facts:
        lines.append(", ".join(facts))
    body: dict[str, Any] = {
        "title": title,
        "message": "\n".join(lines) or title,
        "source_url": page.get("incident_url") or None,
    }
    if target.team:
        body["team"] = target.team
    else:
        important = str(page.get("severity", "")).upper() == "S1"
        body["users"] = [{"id": user, "important": important} for user in target.users]
    return body
