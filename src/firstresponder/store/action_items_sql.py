"""Action items from the post mortem review, as SQL on one connection.

A mixin of the SQL unit of work: every method runs inside the caller's transaction, so an
item and the timeline entry that records it commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from ..domain.action_items import (
    ActionItem,
    ActionItemDraft,
    ActionItemStatus,
    Criticality,
    added_entry,
)
from ..errors import NotFoundError
from . import rows
from .tables import action_items, incidents, timeline


class SqlActionItemStatements:
    """Needs `_conn` (a sync Connection)."""

    _conn: Connection

    def add_action_item(
        self, incident_id: int, draft: ActionItemDraft, actor: str, now: datetime
    ) -> ActionItem:
        values = {
            "incident_id": incident_id,
            "title": draft.title,
            "owner": draft.owner,
            "criticality": draft.criticality.value,
            "due": draft.due,
            "created_at": now,
            "created_by": actor,
            "status": ActionItemStatus.OPEN.value,
        }
        stmt = insert(action_items).returning(action_items.c.id)
        try:
            new_id = int(self._conn.execute(stmt, values).scalar_one())
        except IntegrityError as exc:  # the foreign key: the incident is not there
            raise NotFoundError(f"incident {incident_id} not found") from exc
        item = _item({**values, "id": new_id})
        self._conn.execute(insert(timeline), rows.entry_values(incident_id, added_entry(item)))
        return item

    def action_items(self, incident_id: int) -> list[ActionItem]:
        found = select(incidents.c.id).where(incidents.c.id == incident_id)
        if self._conn.execute(found).first() is None:
            raise NotFoundError(f"incident {incident_id} not found")
        stmt = (
            select(action_items)
            .where(action_items.c.incident_id == incident_id)
            .order_by(action_items.c.id)
        )
        return [_item(row) for row in self._conn.execute(stmt).mappings()]


def _item(row: Mapping[Any, Any]) -> ActionItem:
    return ActionItem(
        id=int(row["id"]),
        incident_id=int(row["incident_id"]),
        title=row["title"],
        owner=row["owner"],
        criticality=Criticality(row["criticality"]),
        due=row["due"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        status=ActionItemStatus(row["status"]),
    )
