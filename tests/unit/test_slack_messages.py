"""What firstresponder posts in Slack: topic, purpose, announcement, changes, reminders."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from firstresponder.domain.incident import Incident, TimelineEntry
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.slack.blocks import Block, SlackMessage
from firstresponder.slack.messages import (
    Links,
    ack_button,
    announcement,
    change_message,
    channel_purpose,
    channel_topic,
)
from firstresponder.slack.reminders import (
    DEFAULT_STATUS_UPDATE_INTERVALS,
    after_incident_checklist,
    handoff_reminder,
    status_update_interval,
    status_update_reminder,
)

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
BRIDGE = "https://meet.example.com/inc-42"
EVIDENCE = {
    "kind": "outage_line",
    "value": 0.124,
    "threshold": 0.05,
    "window": "5m",
    "parts": ["eu", "us"],
    "crossed": True,
    "note": "",
    "query": 'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) > 0',
}
LINKS = Links(
    incident_url="https://fr.example.com/api/v1/incidents/42",
    channel_id="C0INC42",
    bridge_url=BRIDGE,
    graph_url="https://prometheus.example.com/graph?g0.expr=up|x",
)


def make_incident(**overrides: Any) -> Incident:
    values: dict[str, Any] = {
        "id": 42,
        "group_key": "checkout",
        "service": "checkout",
        "title": "Checkout requests fail",
        "impact": Impact.OUTAGE,
        "severity": Severity.S1,
        "state": IncidentState.INVESTIGATING,
        "declared_at": T0,
        "updated_at": T0,
        "roles": {Role.EOC: "U0EOC0001"},
        "classification": {
            "impact": "outage",
            "reason": "SLO: 12.4% errors in all 2 regions (eu, us) over 5m, outage line 5%",
            "evidence": [EVIDENCE],
        },
    }
    values.update(overrides)
    return Incident(**values)


def all_text(message: SlackMessage) -> str:
    return message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)


def assert_block_kit(blocks: list[Block]) -> None:
    """Within Block Kit's documented limits."""
    assert len(blocks) <= 50
    for block in blocks:
        assert block["type"] in {"header", "section", "context", "actions", "divider"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(item["text"]) <= 2000 for item in block.get("fields", []))
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10


# Topic and purpose


def test_the_topic_says_how_bad_who_leads_and_where_to_talk() -> None:
    incident = make_incident(roles={Role.EOC: "U0EOC0001", Role.IMOC: "U0IMOC001"})
    assert channel_topic(incident, BRIDGE) == (
        "S1 service disruption (outage) · investigating · IC <@U0IMOC001> · "
        f"Lead <@U0EOC0001> · Bridge {BRIDGE} · Checkout requests fail"
    )


def test_before_an_ic_engages_the_topic_says_so_and_the_eoc_leads() -> None:
    topic = channel_topic(make_incident(), "")
    assert "IC not engaged yet" in topic and "Lead <@U0EOC0001>" in topic
    assert "Bridge" not in topic


def test_a_named_tech_lead_replaces_the_eoc() -> None:
    incident = make_incident(roles={Role.EOC: "U0EOC0001", Role.LEAD: "Ada Lovelace"})
    assert "Lead Ada Lovelace" in channel_topic(incident)


@pytest.mark.parametrize("render", [channel_topic, channel_purpose])
def test_a_long_description_is_cut_never_the_bridge(render: Any) -> None:
    incident = make_incident(description="Everything is on fire. " * 40)
    text = render(incident, BRIDGE)
    assert len(text) <= 250
    assert BRIDGE in text and "…" in text


def test_a_bridge_link_too_long_for_the_topic_is_still_cut_to_250() -> None:
    assert len(channel_topic(make_incident(), "https://x.example/" + "a" * 400)) == 250


def test_the_purpose_records_what_the_handbook_asks() -> None:
    incident = make_incident(
        roles={Role.EOC: "U0EOC0001", Role.IMOC: "U0IMOC001"},
        description="Card payments fail in every region",
    )
    assert channel_purpose(incident, BRIDGE) == (
        "Incident #42 (checkout): Card payments fail in every region. "
        f"IC: <@U0IMOC001>. Tech lead: <@U0EOC0001>. Bridge: {BRIDGE}"
    )


def test_the_description_is_one_line() -> None:
    incident = make_incident(title="Checkout\nfails\n\nbadly")
    assert "Checkout fails badly" in channel_topic(incident)


# Announcement


def test_the_announcement_links_everything_and_shows_the_evidence() -> None:
    message = announcement(make_incident(), LINKS)
    assert message.text == (
        "[S1] Incident #42 on checkout: Checkout requests fail "
        "(service disruption (outage)). Join <#C0INC42>."
    )
    text = all_text(message)
    assert "<#C0INC42>" in text
    assert f"<{BRIDGE}|join the call>" in text
    assert "<https://fr.example.com/api/v1/incidents/42|#42 in firstresponder>" in text
    assert "<https://prometheus.example.com/graph?g0.expr=up%7Cx|Prometheus>" in text
    why = next(
        b["text"]["text"] for b in message.blocks if "Why:" in b.get("text", {}).get("text", "")
    )
    assert why == (
        "*Why:* SLO: 12.4% errors in all 2 regions (eu, us) over 5m, outage line 5%\n"
        '• `sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) &gt; 0` = 12.4% '
        "(threshold 5%, over 5m, in eu, us) :warning:"
    )
    assert_block_kit(message.blocks)


def test_the_announcement_offers_acknowledge_until_someone_does() -> None:
    unacked = announcement(make_incident(), LINKS)
    assert unacked.blocks[-1] == ack_button(42)
    acked = announcement(make_incident(acknowledged_at=T0, acknowledged_by="U0EOC0001"), LINKS)
    assert all(block["type"] != "actions" for block in acked.blocks)


def test_without_a_channel_or_links_the_announcement_still_reads() -> None:
    message = announcement(make_incident(classification={}), Links())
    assert message.text.endswith("(service disruption (outage)).")
    assert "<#" not in all_text(message) and "Why:" not in all_text(message)


def test_user_text_cannot_mention_everyone_or_inject_links() -> None:
    message = announcement(make_incident(title="<!channel> <http://evil|click> & co"), LINKS)
    blocks = json.dumps(message.blocks)
    assert "<!channel>" not in blocks and "<http://evil" not in blocks
    assert "&lt;!channel&gt; &lt;http://evil|click&gt; &amp; co" in blocks


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"kind": "burn_rate", "value": 14.4, "threshold": 14.4, "window": "1h", "query": "q"},
            "`q` = 14.4× (threshold 14.4×, over 1h)",
        ),
        ({"kind": "apdex", "value": 0.81, "threshold": 0.9, "window": "5m"}, "`apdex` = 0.81"),
        ({"kind": "error_ratio", "value": "NaN", "threshold": 0.01}, "`error ratio` = no data"),
        ({"value": 3}, "`reading` = 300%"),
        ({"query": "a`b", "value": "high"}, "`a'b` = high"),
    ],
)
def test_evidence_rows(row: dict[str, Any], expected: str) -> None:
    message = announcement(make_incident(classification={"evidence": [row]}), Links())
    assert expected in all_text(message)


def test_many_evidence_rows_are_summarised() -> None:
    rows = [dict(EVIDENCE, query=f"q{n}") for n in range(8)]
    text = all_text(announcement(make_incident(classification={"evidence": rows}), Links()))
    assert "`q4`" in text and "`q5`" not in text and "… and 3 more readings" in text


def test_the_ack_button() -> None:
    assert ack_button(42) == {
        "type": "actions",
        "block_id": "firstresponder_ack_42",
        "elements": [
            {
                "type": "button",
                "action_id": "firstresponder_ack",
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                "style": "primary",
                "value": "42",
            }
        ],
    }


# One message per change


def entry(kind: str, message: str, actor: str = "firstresponder", **data: Any) -> TimelineEntry:
    return TimelineEntry(T0, kind, message, actor=actor, data=data)


@pytest.mark.parametrize(
    ("timeline_entry", "line"),
    [
        (
            entry("severity_raised", "Severity raised S3 → S2", **{"from": "S3", "to": "S2"}),
            ":arrow_up: Severity raised S3 → S2",
        ),
        (
            entry("severity_set", "Severity set S2 → S3 by U0ALICE01", "U0ALICE01"),
            ":pencil2: Severity set S2 → S3 by <@U0ALICE01>",
        ),
        (
            entry("escalated", "Escalated to IMOC: not acknowledged within 15 minutes"),
            ":rotating_light: Escalated to IMOC: not acknowledged within 15 minutes",
        ),
        (
            entry("acknowledged", "Acknowledged by U0ALICE01", "U0ALICE01"),
            ":white_check_mark: Acknowledged by <@U0ALICE01>",
        ),
        (
            entry(
                "role_assigned",
                "U0BOB0001 is Incident Manager On Call (IMOC)",
                role="imoc",
                person="U0BOB0001",
                previous=None,
            ),
            ":bust_in_silhouette: <@U0BOB0001> is Incident Manager On Call (IMOC)",
        ),
        (
            entry(
                "role_assigned",
                "Ada replaces Bob as Tech Lead (LEAD)",
                role="lead",
                person="Ada",
                previous="U0BOB0001",
            ),
            ":bust_in_silhouette: Ada replaces <@U0BOB0001> as Tech Lead (LEAD)",
        ),
        (
            entry("ownership_passed", "Ownership passed from EOC (U0ALICE01) to IMOC (U0BOB0001)"),
            ":handshake: Ownership passed from EOC (<@U0ALICE01>) to IMOC (<@U0BOB0001>)",
        ),
        (
            entry("state_changed", "State investigating → identified", to="identified"),
            ":bulb: State investigating → identified",
        ),
        (
            entry(
                "state_changed",
                "State investigating → monitoring: all alerts recovered",
                to="monitoring",
            ),
            ":eyes: State investigating → monitoring: all alerts recovered",
        ),
        (
            entry("resolved", "Resolved by U0ALICE01", "U0ALICE01"),
            ":large_green_circle: Resolved by <@U0ALICE01>",
        ),
        (
            entry("paged", "EOC paged through pagerduty: S1 declared"),
            ":pager: EOC paged through pagerduty: S1 declared",
        ),
        (
            entry("page_failed", "Trigger of IMOC through pagerduty failed for good: HTTP 400"),
            ":warning: Trigger of IMOC through pagerduty failed for good: HTTP 400",
        ),
        (
            entry("alert_resolved", "Alert HighErrorRate recovered"),
            ":heavy_check_mark: Alert HighErrorRate recovered",
        ),
    ],
)
def test_changes_that_matter_get_one_message(timeline_entry: TimelineEntry, line: str) -> None:
    message = change_message(timeline_entry)
    assert message is not None
    assert message.blocks[0]["text"]["text"] == line
    assert_block_kit(message.blocks)


def test_impact_raised_carries_its_evidence() -> None:
    raised = entry(
        "impact_raised",
        "Impact raised partial_disruption → outage: SLO breach",
        evidence=[EVIDENCE],
    )
    message = change_message(raised, incident_id=42)
    assert message is not None
    assert message.text == "Incident #42: Impact raised partial_disruption → outage: SLO breach"
    assert "= 12.4% (threshold 5%, over 5m" in message.blocks[0]["text"]["text"]


def test_the_context_line_says_when_and_who() -> None:
    message = change_message(entry("acknowledged", "Acknowledged by U0ALICE01", "U0ALICE01"))
    assert message is not None
    assert message.blocks[1]["elements"][0]["text"] == (
        f"<!date^{int(T0.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-23 03:00 UTC>"
        " · by <@U0ALICE01>"
    )
    system = change_message(entry("escalated", "Escalated to IMOC"))
    assert system is not None and " by " not in system.blocks[1]["elements"][0]["text"]


@pytest.mark.parametrize(
    "kind", ["declared", "alert_firing", "note", "slo_unavailable", "something_new"]
)
def test_noise_gets_no_message(kind: str) -> None:
    assert change_message(entry(kind, "whatever")) is None


# Reminders


@pytest.mark.parametrize(
    ("severity", "interval"),
    [
        (Severity.S1, timedelta(minutes=15)),
        (Severity.S2, timedelta(minutes=30)),
        (Severity.S3, timedelta(minutes=60)),
        (Severity.S4, None),
    ],
)
def test_status_update_intervals(severity: Severity, interval: timedelta | None) -> None:
    assert status_update_interval(severity) == interval


def test_status_update_intervals_are_configurable() -> None:
    custom = {**DEFAULT_STATUS_UPDATE_INTERVALS, Severity.S4: timedelta(hours=4)}
    assert status_update_interval(Severity.S4, custom) == timedelta(hours=4)


@pytest.mark.parametrize(
    ("roles", "addressed"),
    [
        ({Role.EOC: "U0EOC0001", Role.IMOC: "U0IMOC001", Role.CMOC: "U0CMOC001"}, "<@U0CMOC001>"),
        ({Role.EOC: "U0EOC0001", Role.IMOC: "U0IMOC001"}, "<@U0IMOC001>"),
        ({Role.EOC: "U0EOC0001"}, "<@U0EOC0001>"),
        ({}, "<!here>"),
    ],
)
def test_status_updates_are_asked_of_the_communications_owner(
    roles: dict[Role, str], addressed: str
) -> None:
    incident = make_incident(severity=Severity.S2, roles=roles)
    now = T0 + timedelta(minutes=50)
    message = status_update_reminder(
        incident, timedelta(minutes=30), T0 + timedelta(minutes=5), now
    )
    assert message.text == f"{addressed} a status update for incident #42 (S2) is due."
    body = message.blocks[0]["text"]["text"]
    assert "every 30 minutes at S2" in body and "(45 minutes ago)" in body


def test_the_first_status_update_counts_from_declaration() -> None:
    message = status_update_reminder(
        make_incident(), timedelta(minutes=15), None, T0 + timedelta(minutes=75)
    )
    assert "none yet; declared 1 h 15 min ago" in message.blocks[0]["text"]["text"]


def test_the_handoff_reminder_quotes_the_handbook_checklist() -> None:
    incident = make_incident(roles={Role.EOC: "U0EOC0001", Role.IMOC: "U0IMOC001"})
    message = handoff_reminder(incident, T0 + timedelta(hours=8))
    text = all_text(message)
    for item in (
        "1. Outgoing Incident Commander identifies an incoming Incident Commander",
        "2. Incoming Incident Commander identifies an incoming Incident Tech Lead, "
        "and any Supporting SRE engineers",
        "1. Technical status of the issue",
        "2. List of open and eliminated hypothesis regarding root cause",
        "3. Time and content of the most recent customer update",
        "4. Communication channels in play, including: IM channel, tracking doc, "
        "conference bridge, and email thread",
        "5. Key support personnel / stakeholders outside SRE engaged in the incident",
        "no later than 30 minutes after their region handoff time (handoff+30)",
        "while Incident Owner is not",
        "IC <@U0IMOC001>",
        "Lead <@U0EOC0001>",
    ):
        assert item in text
    assert message.text.startswith("Shift handoff for incident #42 at 11:00 UTC")
    assert_block_kit(message.blocks)


def test_the_after_incident_checklist() -> None:
    incident = make_incident(state=IncidentState.RESOLVED, resolved_at=T0 + timedelta(hours=2))
    message = after_incident_checklist(
        incident, date(2026, 11, 30), "https://fr.example.com/api/v1/incidents/42/postmortem"
    )
    text = all_text(message)
    assert "returned to baseline" in text
    assert "ensuring any alert silences have been removed" in text
    assert "Root Cause Analysis (RCA)" in text
    assert "Post Mortem Review (PMR) is scheduled" in text
    assert "due Monday 2026-11-30" in text
    assert "<https://fr.example.com/api/v1/incidents/42/postmortem|draft>" in text
    assert "verified by the Incident Commander" in text
    assert "for <@U0EOC0001>" in message.text and "PMR by 2026-11-30" in message.text
    assert_block_kit(message.blocks)
