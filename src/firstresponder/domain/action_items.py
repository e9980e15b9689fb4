"""Action items from the post mortem review: owner, criticality and target date.

The handbook asks that the PMR produce "action items and countermeasures with Owner,
Criticality, Target date for delivery", each tracked until done. This module is the pure
part: the item, its vocabulary, and the validation of what a person submits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .incident import TimelineEntry

TITLE_MAX = 500
OWNER_MAX = 200


class Criticality(enum.Enum):
    """How much an action item matters, most critical first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(Criticality).index(self)

    @classmethod
    def parse(cls, text: str) -> Criticality:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(c.value for c in cls)
            raise ValueError(f"criticality must be one of {allowed}, got {text!r}") from None


class ActionItemStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True)
class ActionItemDraft:
    """A validated request for a new action item; the store gives it an id."""

    title: str
    owner: str
    criticality: Criticality
    due: date


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident_id: int
    title: str
    owner: str
    criticality: Criticality
    due: date
    created_at: datetime
    created_by: str
    status: ActionItemStatus = ActionItemStatus.OPEN

    def is_overdue(self, today: date) -> bool:
        return self.status is ActionItemStatus.OPEN and self.due < today

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "title": self.title,
            "owner": self.owner,
            "criticality": self.criticality.value,
            "due": self.due.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "status": self.status.value,
        }


def added_entry(item: ActionItem) -> TimelineEntry:
    """The timeline entry that records a new action item, by whoever added it, when."""
    return TimelineEntry(
        item.created_at,
        "action_item_added",
        f"Action item added: {item.title} (owner {item.owner}, {item.criticality.value}, "
        f"due {item.due.isoformat()})",
        actor=item.created_by,
        data={
            "action_item_id": item.id,
            "title": item.title,
            "owner": item.owner,
            "criticality": item.criticality.value,
            "due": item.due.isoformat(),
        },
    )


def validate_action_item(
    *, title: object, owner: object, criticality: object, due: object, declared_at: datetime
) -> ActionItemDraft:
    """Check what a person submitted; ValueError names the field and what was wrong.

    Title and owner are trimmed; `due` is a date or an ISO date (`2026-11-30`) no earlier
    than the day the incident was declared (UTC).
    """
    checked_title = _text("title", title, TITLE_MAX)
    checked_owner = _text("owner", owner, OWNER_MAX)
    if isinstance(criticality, Criticality):
        level = criticality
    elif isinstance(criticality, str):
        level = Criticality.parse(criticality)
    else:
        raise ValueError(f"criticality must be a string, got {type(criticality).__name__}")
    day = _due(due)
    declared_on = _utc_date(declared_at)
    if day < declared_on:
        raise ValueError(
            f"due must not be before the incident was declared ({declared_on.isoformat()}), "
            f"got {day.isoformat()}"
        )
    return ActionItemDraft(checked_title, checked_owner, level, day)


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not 1 <= len(text) <= limit:
        raise ValueError(f"{field} must be 1–{limit} characters, got {len(text)}")
    return text


def _due(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"due must be a date without a time, got {value.isoformat()!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"due must be an ISO date like 2026-11-30, got {value!r}") from None
    raise ValueError(f"due must be an ISO date string, got {type(value).__name__}")


def _utc_date(moment: datetime) -> date:
    return moment.date() if moment.tzinfo is None else moment.astimezone(UTC).date()
