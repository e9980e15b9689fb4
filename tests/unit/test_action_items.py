"""Action items: what a person may submit, and the messages that say what was wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from firstresponder.domain.action_items import (
    ActionItem,
    ActionItemDraft,
    ActionItemStatus,
    Criticality,
    validate_action_item,
)

DECLARED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def submit(**overrides: object) -> ActionItemDraft:
    fields: dict[str, object] = {
        "title": "Add a canary stage",
        "owner": "carol",
        "criticality": "high",
        "due": "2026-12-04",
    }
    fields.update(overrides)
    return validate_action_item(declared_at=DECLARED, **fields)


def test_a_valid_submission_is_trimmed_and_parsed() -> None:
    draft = submit(title="  Add a canary stage \n", owner=" carol ", criticality=" HIGH ")
    assert draft == ActionItemDraft(
        "Add a canary stage", "carol", Criticality.HIGH, date(2026, 12, 4)
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "title must be 1–500 characters, got 0"),
        ({"title": "   "}, "title must be 1–500 characters, got 0"),
        ({"title": "x" * 501}, "title must be 1–500 characters, got 501"),
        ({"title": None}, "title must be a string, got NoneType"),
        ({"owner": ""}, "owner must be 1–200 characters, got 0"),
        ({"owner": "o" * 201}, "owner must be 1–200 characters, got 201"),
        ({"owner": 7}, "owner must be a string, got int"),
        ({"criticality": "urgent"}, "criticality must be one of critical, high, medium, low"),
        ({"criticality": 1}, "criticality must be a string, got int"),
        ({"due": "next friday"}, "due must be an ISO date like 2026-11-30, got 'next friday'"),
        ({"due": 20261204}, "due must be an ISO date string, got int"),
        ({"due": datetime(2026, 12, 4, 9, 0)}, "due must be a date without a time"),
        (
            {"due": "2026-11-22"},
            "due must not be before the incident was declared (2026-11-23), got 2026-11-22",
        ),
    ],
)
def test_bad_submissions_name_the_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        submit(**overrides)


@pytest.mark.parametrize(
    ("title", "owner"), [("x", "o"), ("x" * 500, "o" * 200)], ids=["shortest", "longest"]
)
def test_the_length_limits_are_inclusive(title: str, owner: str) -> None:
    draft = submit(title=title, owner=owner)
    assert (len(draft.title), len(draft.owner)) == (len(title), len(owner))


def test_due_may_be_the_declaration_day_itself_and_a_date_object() -> None:
    assert submit(due=date(2026, 11, 23)).due == date(2026, 11, 23)


def test_the_declaration_day_is_the_utc_day() -> None:
    # 23:30 on the 22nd in New York is 04:30 on the 23rd in UTC.
    new_york = timezone(timedelta(hours=-5))
    declared = datetime(2026, 11, 22, 23, 30, tzinfo=new_york)
    with pytest.raises(ValueError, match=r"declared \(2026-11-23\)"):
        validate_action_item(
            title="t", owner="o", criticality="low", due="2026-11-22", declared_at=declared
        )


def test_criticality_is_ordered_most_critical_first() -> None:
    assert [c.value for c in sorted(Criticality, key=lambda c: c.rank)] == [
        "critical",
        "high",
        "medium",
        "low",
    ]
    assert submit(criticality=Criticality.LOW).criticality is Criticality.LOW


def test_an_item_is_overdue_only_while_open_and_past_its_date() -> None:
    item = ActionItem(1, 42, "t", "o", Criticality.HIGH, date(2026, 12, 4), DECLARED, "bob")
    assert item.status is ActionItemStatus.OPEN
    assert not item.is_overdue(date(2026, 12, 4))
    assert item.is_overdue(date(2026, 12, 5))
    done = ActionItem(
        1, 42, "t", "o", Criticality.HIGH, date(2026, 12, 4), DECLARED, "bob", ActionItemStatus.DONE
    )
    assert not done.is_overdue(date(2026, 12, 5))


def test_as_dict_is_json_ready() -> None:
    item = ActionItem(3, 42, "t", "o", Criticality.MEDIUM, date(2026, 12, 4), DECLARED, "bob")
    assert item.as_dict() == {
        "id": 3,
        "incident_id": 42,
        "title": "t",
        "owner": "o",
        "criticality": "medium",
        "due": "2026-12-04",
        "created_at": "2026-11-23T03:00:00+00:00",
        "created_by": "bob",
        "status": "open",
    }
