"""The post-incident review over HTTP: the Markdown draft and its action items.

Reading follows the rules of the other reads; adding an action item needs an API token,
like every other change, and records who added it in the incident's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ..domain.action_items import ActionItem, ActionItemDraft, validate_action_item
from ..errors import PayloadError
from ..postmortem import render_postmortem
from ..store.ports import UnitOfWork
from .incidents import _authorized_body, _base, _incident_id
from .keys import CLOCK, STORE


async def get_postmortem(request: web.Request) -> web.Response:
    """The post-incident review draft, in Markdown, from the incident as it is now"""
    incident_id = _incident_id(request)
    store = request.app[STORE]
    incident = await store.get_incident(incident_id)
    timeline = await store.timeline(incident_id)
    items = await store.transact(lambda uow: uow.action_items(incident_id))
    text = render_postmortem(
        incident,
        [stored.entry for stored in timeline],
        items,
        now=request.app[CLOCK].now(),
        public_url=_base(request),
    )
    return web.Response(text=text, content_type="text/markdown", charset="utf-8")


async def list_action_items(request: web.Request) -> web.Response:
    """The incident's action items, oldest first"""
    incident_id = _incident_id(request)
    found = await request.app[STORE].transact(lambda uow: uow.action_items(incident_id))
    return web.json_response(
        {"incident_id": incident_id, "action_items": [item.as_dict() for item in found]}
    )


async def add_action_item(request: web.Request) -> web.Response:
    """Add an action item (title, owner, criticality, target date) to the review"""
    body, actor = await _authorized_body(request, "ActionItemRequest")
    incident_id = _incident_id(request)
    now = request.app[CLOCK].now()

    def add(uow: UnitOfWork) -> ActionItem:
        incident = uow.lock_incident(incident_id)
        draft = _draft(body, incident.declared_at)
        return uow.add_action_item(incident.id, draft, actor, now)

    item = await request.app[STORE].transact(add)
    return web.json_response(item.as_dict(), status=201)


def _draft(body: dict[str, Any], declared_at: datetime) -> ActionItemDraft:
    """The checks the schema cannot make (a real date, not before the declaration)."""
    try:
        return validate_action_item(
            title=body["title"],
            owner=body["owner"],
            criticality=body["criticality"],
            due=body["due"],
            declared_at=declared_at,
        )
    except ValueError as exc:  # its message starts with the field's name
        raise PayloadError(str(exc)) from exc


ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/incidents/{id}/postmortem", get_postmortem, "Markdown"),
    ("GET", "/api/v1/incidents/{id}/action-items", list_action_items, "ActionItemList"),
    ("POST", "/api/v1/incidents/{id}/action-items", add_action_item, "ActionItem"),
]
