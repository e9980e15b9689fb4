"""Slack notices: incident changes into ordered Slack calls and communication timers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, time, timedelta

from firstresponder.config_slack import SlackConfig
from firstresponder.domain.escalation import Deadline, DeadlineKind
from firstresponder.domain.incident import Incident, TimelineEntry
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.pagers.base import PageMessage
from firstresponder.slack.notices import CHANNEL_PLACEHOLDER, SlackNotices

T0 = datetime.fromisoformat("2026-11-23T19:50:00+00:00")  # a Monday, 10 min before 20:00


class Writes:
    def __init__(self) -> None:
        self.messages: list[PageMessage] = []
        self.deadlines: dict[DeadlineKind, Deadline] = {}
        self.notes_at: datetime | None = None

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None:
        assert channel == "slack"
        self.messages += messages

    def schedule(self, deadlines: Sequence[Deadline]) -> None:
        self.deadlines.update({d.kind: d for d in deadlines})

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None:
        for kind in kinds:
            self.deadlines.pop(kind, None)

    def deadlines_of(self, incident_id: int) -> list[Deadline]:
        return list(self.deadlines.values())

    def last_entry_at(self, incident_id: int, kinds: Collection[str]) -> datetime | None:
        return self.notes_at

    def ops(self) -> list[str]:
        return [str(m.payload["op"]) for m in self.messages]


def incident(severity: Severity = Severity.S2) -> Incident:
    return Incident(
        id=42,
        group_key="cart",
        service="Cart Service",
        title="cart: 5xx above 5%",
        impact=Impact.PARTIAL_DISRUPTION,
        severity=severity,
        state=IncidentState.INVESTIGATING,
        declared_at=T0,
        updated_at=T0,
        roles={Role.EOC: "Alice Example"},
    )


def notices(**config: object) -> SlackNotices:
    base: dict[str, object] = {
        "enabled": True,
        "bot_token": "xoxb-x",
        "announce_channels": ("CANNOUNCE1", "CANNOUNCE2"),
        "responders": ("URESP0001",),
        "users": {"Alice Example": "UALICE001"},
        "handoff_times": (time(8, 0), time(20, 0)),
    }
    base.update(config)
    return SlackNotices(SlackConfig(**base), "http://fr.example")  # type: ignore[arg-type]


def declared(at: datetime = T0) -> TimelineEntry:
    return TimelineEntry(at, "declared", "Incident declared")


def test_declaration_opens_the_channel_then_speaks_in_order() -> None:
    uow = Writes()
    notices().after_change(uow, incident(), [declared()], T0)
    assert uow.ops() == [
        "create_channel",
        "set_topic",
        "set_purpose",
        "invite",
        "post",
        "announce",
        "announce",
    ]
    assert {m.dedup_key for m in uow.messages} == {"slack-42"}, "one queue per incident"
    assert uow.messages[0].payload["name"] == "inc-42-cart-service"
    assert uow.messages[3].payload["users"] == ["URESP0001", "UALICE001"]
    announce = uow.messages[5].payload
    assert announce["channel"] == "CANNOUNCE1"
    assert CHANNEL_PLACEHOLDER in announce["text"], "filled in with the channel id when sent"


def test_timers_start_at_declaration_on_the_severity_cadence_and_the_next_handoff() -> None:
    uow = Writes()
    notices().after_change(uow, incident(), [declared()], T0)
    assert uow.deadlines[DeadlineKind.STATUS_UPDATE].due_at == T0 + timedelta(minutes=30)
    assert uow.deadlines[DeadlineKind.HANDOFF].due_at == T0.replace(hour=20, minute=0)


def test_the_next_handoff_after_the_last_of_the_day_is_tomorrow_morning() -> None:
    uow, at = Writes(), T0.replace(hour=20, minute=0)
    notices().after_change(uow, incident(), [declared(at)], at)
    assert uow.deadlines[DeadlineKind.HANDOFF].due_at == datetime.fromisoformat(
        "2026-11-24T08:00:00+00:00"
    )


def test_a_raised_severity_never_postpones_a_reminder_already_due_sooner() -> None:
    uow, inc = Writes(), incident(Severity.S3)
    n = notices()
    n.after_change(uow, inc, [declared()], T0)  # S3: due at +60 min
    inc.severity = Severity.S2
    raised = TimelineEntry(T0 + timedelta(minutes=50), "severity_raised", "S3 → S2")
    n.after_change(uow, inc, [raised], T0 + timedelta(minutes=50))
    assert uow.deadlines[DeadlineKind.STATUS_UPDATE].due_at == T0 + timedelta(minutes=60)
    inc.severity = Severity.S1
    raised = TimelineEntry(T0 + timedelta(minutes=51), "severity_raised", "S2 → S1")
    n.after_change(uow, inc, [raised], T0 + timedelta(minutes=51))
    assert uow.deadlines[DeadlineKind.STATUS_UPDATE].due_at == T0 + timedelta(minutes=60)
    assert uow.ops()[-2:] == ["post", "set_topic"]


def test_a_note_restarts_the_status_update_clock() -> None:
    uow = Writes()
    n = notices()
    n.after_change(uow, incident(), [declared()], T0)
    later = T0 + timedelta(minutes=20)
    n.after_change(uow, incident(), [TimelineEntry(later, "note", "customers told")], later)
    assert uow.deadlines[DeadlineKind.STATUS_UPDATE].due_at == later + timedelta(minutes=30)


def test_a_due_reminder_is_posted_and_the_next_one_set() -> None:
    uow, inc = Writes(), incident()
    due = T0 + timedelta(minutes=30)
    uow.notes_at = T0 + timedelta(minutes=1)
    notices().fire(uow, inc, Deadline(42, DeadlineKind.STATUS_UPDATE, due), due)
    [reminder] = uow.messages
    assert reminder.payload["text"] == "<@UALICE001> a status update for incident #42 (S2) is due."
    assert uow.deadlines[DeadlineKind.STATUS_UPDATE].due_at == due + timedelta(minutes=30)


def test_no_status_reminders_where_the_severity_has_none() -> None:
    uow = Writes()
    notices().after_change(uow, incident(Severity.S4), [declared()], T0)
    assert DeadlineKind.STATUS_UPDATE not in uow.deadlines


def test_resolution_posts_the_checklist_and_stops_the_timers() -> None:
    uow, inc = Writes(), incident()
    n = notices()
    n.after_change(uow, inc, [declared()], T0)
    uow.messages.clear()
    inc.state, inc.resolved_at = IncidentState.RESOLVED, T0 + timedelta(hours=1)
    n.after_change(uow, inc, [TimelineEntry(inc.resolved_at, "resolved", "Resolved")], T0)
    assert uow.deadlines == {}
    texts = [str(m.payload["text"]) for m in uow.messages]
    assert any("After-incident checklist" in t and "PMR by 2026-11-30" in t for t in texts)


def test_a_person_given_a_role_is_invited_when_slack_knows_them() -> None:
    uow = Writes()
    entry = TimelineEntry(T0, "role_assigned", "x", data={"role": "imoc", "person": "UBOB00001"})
    stranger = TimelineEntry(T0, "role_assigned", "y", data={"role": "cmoc", "person": "Zed"})
    notices().after_change(uow, incident(), [entry, stranger], T0)
    assert [m.payload.get("users") for m in uow.messages if m.payload["op"] == "invite"] == [
        ["UBOB00001"]
    ]
