"""`/incident …` as Slack sends it, and the Acknowledge button's interaction payload."""

from __future__ import annotations

import json
from typing import Any

import pytest

from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.slack.commands import (
    HELP,
    Acknowledge,
    AddNote,
    AssignRole,
    ButtonPress,
    Command,
    CommandError,
    Declare,
    InteractionError,
    SetSeverity,
    SetState,
    ShowHelp,
    ShowStatus,
    parse_command,
    parse_interaction,
)

IN_CHANNEL = 42  # the incident whose channel the command was typed in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare checkout Checkout is down", Declare("checkout", "Checkout is down")),
        (
            "declare checkout Payments fail --impact outage",
            Declare("checkout", "Payments fail", Impact.OUTAGE),
        ),
        (
            "declare checkout --impact=partial_disruption EU card payments fail",
            Declare("checkout", "EU card payments fail", Impact.PARTIAL_DISRUPTION),
        ),
        (
            "declare search Slow results --impact degraded",
            Declare("search", "Slow results", Impact.DEGRADED),
        ),
        (
            "DECLARE checkout 5xx &amp; timeouts &gt; 10%",
            Declare("checkout", "5xx & timeouts > 10%"),
        ),
        ("ack", Acknowledge(IN_CHANNEL)),
        ("acknowledge", Acknowledge(IN_CHANNEL)),
        ("state identified", SetState(IN_CHANNEL, IncidentState.IDENTIFIED)),
        ("state Monitoring", SetState(IN_CHANNEL, IncidentState.MONITORING)),
        ("state resolved", SetState(IN_CHANNEL, IncidentState.RESOLVED)),
        ("severity S1", SetSeverity(IN_CHANNEL, Severity.S1)),
        ("severity s3", SetSeverity(IN_CHANNEL, Severity.S3)),
        ("sev P2", SetSeverity(IN_CHANNEL, Severity.S2)),
        ("role imoc <@U024BE7LH|alice>", AssignRole(IN_CHANNEL, Role.IMOC, "U024BE7LH")),
        ("role lead <@W012A3CDE>", AssignRole(IN_CHANNEL, Role.LEAD, "W012A3CDE")),
        ("role ic <@U024BE7LH|alice>", AssignRole(IN_CHANNEL, Role.IMOC, "U024BE7LH")),
        ("role CMOC @bob", AssignRole(IN_CHANNEL, Role.CMOC, "bob")),
        ('role scribe "Ada Lovelace"', AssignRole(IN_CHANNEL, Role.SCRIBE, "Ada Lovelace")),
        ("role eoc carol", AssignRole(IN_CHANNEL, Role.EOC, "carol")),
        (
            "note rolled back 1.4.2 &lt;- suspect",
            AddNote(IN_CHANNEL, "rolled back 1.4.2 <- suspect"),
        ),
        ("note  first line\nsecond  line ", AddNote(IN_CHANNEL, "first line\nsecond  line")),
        ("status", ShowStatus(IN_CHANNEL)),
        ("help", ShowHelp()),
        ("", ShowHelp()),
        ("   ", ShowHelp()),
    ],
)
def test_commands_typed_in_an_incident_channel(text: str, expected: Command) -> None:
    assert parse_command(text, channel_incident=IN_CHANNEL) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#7 ack", Acknowledge(7)),
        ("ack #7", Acknowledge(7)),
        ("#7 state monitoring", SetState(7, IncidentState.MONITORING)),
        ("severity #7 S2", SetSeverity(7, Severity.S2)),
        ("#7 role lead <@U1ABCDEF|dan>", AssignRole(7, Role.LEAD, "U1ABCDEF")),
        ("#7 note checked the LB", AddNote(7, "checked the LB")),
        ("note #7 checked the LB", AddNote(7, "checked the LB")),
        ("#7 status", ShowStatus(7)),
    ],
)
def test_an_explicit_incident_wins_over_the_channel(text: str, expected: Command) -> None:
    assert parse_command(text, channel_incident=IN_CHANNEL) == expected
    assert parse_command(text, channel_incident=None) == expected


def test_a_hash_later_in_a_note_is_text() -> None:
    assert parse_command("note fixed by #1234 PR", IN_CHANNEL) == AddNote(
        IN_CHANNEL, "fixed by #1234 PR"
    )


def test_outside_an_incident_channel_status_means_every_open_incident() -> None:
    assert parse_command("status") == ShowStatus(None)
    assert parse_command("declare checkout Down") == Declare("checkout", "Down")


@pytest.mark.parametrize(
    ("text", "channel", "problem"),
    [
        ("frobnicate", IN_CHANNEL, "unknown command 'frobnicate'"),
        ("ack", None, "which incident? Type /incident ack in the incident's channel"),
        ("ack now", IN_CHANNEL, "ack takes no arguments"),
        ("state", IN_CHANNEL, "state needs one of investigating|identified|monitoring|resolved"),
        ("state fixed", IN_CHANNEL, "unknown state 'fixed'"),
        ("severity", IN_CHANNEL, "severity needs one of S1|S2|S3|S4"),
        ("severity S5", IN_CHANNEL, "unknown severity 'S5'"),
        ("severity S1 S2", IN_CHANNEL, "severity needs one of"),
        ("role", IN_CHANNEL, "role needs a role (eoc|imoc|cmoc|lead|scribe) and a person"),
        ("role imoc", IN_CHANNEL, "role needs a role"),
        ("role boss <@U1ABCDEF|x>", IN_CHANNEL, "unknown role 'boss'"),
        ("role lead <@U1ABCDEF|x> <@U2ABCDEF|y>", IN_CHANNEL, "role takes one person"),
        ("note", IN_CHANNEL, "note needs some text"),
        ("declare", None, "declare needs a service and a title"),
        ("declare checkout", None, "declare needs a title after the service (checkout)"),
        ("declare checkout Down --impact", None, "--impact needs a value"),
        ("declare checkout Down --impact meh", None, "unknown impact 'meh'"),
        ("declare checkout Down --impact operational", None, "is not an incident"),
        ("declare checkout Down --sev S1", None, "unknown option '--sev'"),
        ("#7 declare checkout Down", None, "declare starts a new incident; it takes no #ID"),
    ],
)
def test_mistakes_say_what_was_wrong_then_show_help(
    text: str, channel: int | None, problem: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text, channel_incident=channel)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(caught.value.problem)
    assert str(caught.value).endswith(HELP)


def test_help_lists_every_command() -> None:
    for verb in ("declare", "ack", "state", "severity", "role", "note", "status", "help"):
        assert f"  {verb}" in HELP


def interaction(**overrides: Any) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice", "name": "alice", "team_id": "T1"},
        "channel": {"id": "C0ANNOUNCE", "name": "incidents"},
        "response_url": "https://hooks.slack.com/actions/T1/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": "firstresponder_ack",
                "block_id": "firstresponder_ack_42",
                "value": "42",
                "action_ts": "1700000000.000100",
            }
        ],
    }
    payload.update(overrides)
    return json.dumps(payload)


def test_the_acknowledge_button() -> None:
    assert parse_interaction(interaction()) == ButtonPress(
        incident_id=42,
        user_id="U024BE7LH",
        user_name="alice",
        response_url="https://hooks.slack.com/actions/T1/1/abc",
        channel_id="C0ANNOUNCE",
    )


def test_a_press_without_a_username_is_named_by_id() -> None:
    pressed = parse_interaction(interaction(user={"id": "U024BE7LH"}, response_url=None))
    assert (pressed.user_name, pressed.response_url) == ("U024BE7LH", "")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ("not json", "payload is not JSON"),
        ("[1, 2]", "payload is not a JSON object"),
        (interaction(type="view_submission"), "interaction type 'view_submission' is not handled"),
        (interaction(type=None), "interaction type None is not handled"),
        (interaction(actions=[]), "block_actions payload has no actions"),
        (interaction(actions="x"), "block_actions payload has no actions"),
        (
            interaction(actions=[{"action_id": "something_else", "value": "42"}]),
            "action 'something_else' is not handled",
        ),
        (
            interaction(actions=[{"action_id": "firstresponder_ack", "value": "abc"}]),
            "action value 'abc' is not an incident id",
        ),
        (
            interaction(actions=[{"action_id": "firstresponder_ack"}]),
            "action value '' is not an incident id",
        ),
        (interaction(user=None), "payload has no user.id"),
        (interaction(user={"name": "x"}), "payload has no user.id"),
    ],
)
def test_anything_else_is_refused_clearly(payload: str, problem: str) -> None:
    with pytest.raises(InteractionError, match="^" + problem.replace("(", r"\(")):
        parse_interaction(payload)
