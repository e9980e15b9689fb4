"""The incident state machine: acknowledge, roles and ownership, state, severity, impact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from firstresponder.domain.incident import Incident, TimelineEntry, TransitionError
from firstresponder.domain.vocabulary import (
    DEFAULT_SEVERITY_MAP,
    Impact,
    IncidentState,
    Role,
    Severity,
)
from tests.factories import T0

LATER = T0 + timedelta(minutes=7)


def _incident(
    impact: Impact = Impact.DEGRADED,
    severity: Severity = Severity.S3,
    state: IncidentState = IncidentState.INVESTIGATING,
) -> Incident:
    return Incident(
        id=42,
        group_key="service=checkout",
        service="checkout",
        title="checkout: degraded — HighErrorRate",
        impact=impact,
        severity=severity,
        state=state,
        declared_at=T0,
        updated_at=T0,
    )


def _kinds(entries: list[TimelineEntry]) -> list[str]:
    return [e.kind for e in entries]


# --- acknowledge ------------------------------------------------------------------------


def test_acknowledge_records_who_and_when_and_makes_them_eoc() -> None:
    incident = _incident()
    entries = incident.acknowledge("alice", LATER)
    assert (incident.acknowledged_by, incident.acknowledged_at) == ("alice", LATER)
    assert incident.roles == {Role.EOC: "alice"}
    assert incident.owner_role is Role.EOC
    assert _kinds(entries) == ["acknowledged", "role_assigned"]
    assert entries[0].message == "Acknowledged by alice"
    assert entries[1].message == "alice is Engineer On Call (EOC)"
    assert all(e.actor == "alice" and e.at == LATER for e in entries)
    assert incident.updated_at == LATER


def test_acknowledge_keeps_an_assigned_eoc() -> None:
    incident = _incident()
    incident.assign_role(Role.EOC, "bob", "pagerduty", T0)
    entries = incident.acknowledge("alice", LATER)
    assert incident.roles[Role.EOC] == "bob"
    assert _kinds(entries) == ["acknowledged"]


def test_a_second_acknowledge_changes_nothing() -> None:
    incident = _incident()
    incident.acknowledge("alice", T0)
    assert incident.acknowledge("bob", LATER) == []
    assert (incident.acknowledged_by, incident.acknowledged_at) == ("alice", T0)


# --- roles and ownership ----------------------------------------------------------------


def test_ownership_passes_from_eoc_to_imoc_on_the_timeline() -> None:
    incident = _incident()
    incident.acknowledge("alice", T0)
    entries = incident.assign_role(Role.IMOC, "carol", "alice", LATER)
    assert incident.owner_role is Role.IMOC
    assert _kinds(entries) == ["role_assigned", "ownership_passed"]
    assert entries[0].message == "carol is Incident Manager On Call (IMOC)"
    assert entries[1].message == "Ownership passed from EOC (alice) to IMOC (carol)"
    assert entries[1].data == {"from": "eoc", "to": "imoc"}
    assert entries[1].actor == "alice"


def test_imoc_engaging_before_any_eoc_still_takes_ownership() -> None:
    incident = _incident()
    entries = incident.assign_role(Role.IMOC, "carol", "api", T0)
    assert incident.owner_role is Role.IMOC
    assert entries[-1].message == "Ownership passed from EOC to IMOC (carol)"


@pytest.mark.parametrize("role", [Role.CMOC, Role.LEAD, Role.SCRIBE])
def test_supporting_roles_do_not_take_ownership(role: Role) -> None:
    incident = _incident()
    incident.acknowledge("alice", T0)
    entries = incident.assign_role(role, "dave", "alice", LATER)
    assert incident.owner_role is Role.EOC
    assert _kinds(entries) == ["role_assigned"]
    assert entries[0].message == f"dave is {role.title} ({role.value.upper()})"


def test_replacing_a_role_names_the_previous_person() -> None:
    incident = _incident()
    incident.assign_role(Role.IMOC, "carol", "api", T0)
    entries = incident.assign_role(Role.IMOC, "erin", "carol", LATER)
    assert incident.roles[Role.IMOC] == "erin"
    assert _kinds(entries) == ["role_assigned"]  # the IMOC role already owned it
    assert entries[0].message == "erin replaces carol as Incident Manager On Call (IMOC)"
    assert entries[0].data["previous"] == "carol"


def test_assigning_the_same_person_again_is_silent() -> None:
    incident = _incident()
    incident.assign_role(Role.CMOC, "dave", "api", T0)
    assert incident.assign_role(Role.CMOC, "dave", "api", LATER) == []
    assert incident.updated_at == T0


# --- state ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (IncidentState.INVESTIGATING, IncidentState.IDENTIFIED),
        (IncidentState.IDENTIFIED, IncidentState.MONITORING),
        (IncidentState.INVESTIGATING, IncidentState.MONITORING),
        (IncidentState.MONITORING, IncidentState.INVESTIGATING),
        (IncidentState.IDENTIFIED, IncidentState.INVESTIGATING),
    ],
)
def test_set_state_moves_and_records_the_transition(
    start: IncidentState, target: IncidentState
) -> None:
    incident = _incident(state=start)
    entries = incident.set_state(target, "alice", LATER, "fix deployed")
    assert incident.state is target
    assert incident.is_open
    assert _kinds(entries) == ["state_changed"]
    assert entries[0].message == f"State {start.value} → {target.value}: fix deployed"
    assert entries[0].data == {"from": start.value, "to": target.value}
    assert incident.updated_at == LATER


def test_set_state_to_the_current_state_is_silent() -> None:
    incident = _incident(state=IncidentState.IDENTIFIED)
    assert incident.set_state(IncidentState.IDENTIFIED, "alice", LATER) == []


@pytest.mark.parametrize(
    "start", [IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING]
)
def test_resolve_closes_the_incident_once(start: IncidentState) -> None:
    incident = _incident(state=start)
    entries = incident.set_state(IncidentState.RESOLVED, "alice", LATER, "rolled back")
    assert incident.state is IncidentState.RESOLVED
    assert not incident.is_open
    assert incident.resolved_at == LATER
    assert _kinds(entries) == ["resolved"]
    assert entries[0].message == "Resolved by alice: rolled back"
    assert entries[0].data == {"from": start.value}
    with pytest.raises(TransitionError, match="incident 42 is resolved; cannot resolve"):
        incident.resolve("bob", LATER + timedelta(minutes=1))
    assert incident.resolved_at == LATER


def _resolved() -> Incident:
    incident = _incident()
    incident.resolve("alice", T0)
    return incident


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("acknowledge", lambda i: i.acknowledge("bob", LATER)),
        ("assign roles", lambda i: i.assign_role(Role.IMOC, "bob", "bob", LATER)),
        ("change state", lambda i: i.set_state(IncidentState.INVESTIGATING, "bob", LATER)),
        ("change severity", lambda i: i.set_severity(Severity.S1, "bob", LATER)),
        ("resolve", lambda i: i.set_state(IncidentState.RESOLVED, "bob", LATER)),
    ],
)
def test_a_resolved_incident_refuses_changes(
    action: str, change: Callable[[Incident], list[TimelineEntry]]
) -> None:
    incident = _resolved()
    with pytest.raises(TransitionError) as caught:
        change(incident)
    assert str(caught.value) == f"incident 42 is resolved; cannot {action}"
    assert incident.state is IncidentState.RESOLVED
    assert incident.roles == {}
    assert incident.severity is Severity.S3


def test_notes_are_still_allowed_after_resolution() -> None:
    incident = _resolved()
    (entry,) = incident.add_note("root cause: expired cert", "alice", LATER)
    assert (entry.kind, entry.message, entry.actor) == ("note", "root cause: expired cert", "alice")


# --- severity and impact ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"),
    [(Severity.S1, Severity.S3), (Severity.S3, Severity.S1), (Severity.S2, Severity.S4)],
)
def test_a_human_may_set_any_severity_lower_included(start: Severity, target: Severity) -> None:
    incident = _incident(severity=start)
    (entry,) = incident.set_severity(target, "alice", LATER)
    assert incident.severity is target
    assert entry.message == f"Severity set {start.value} → {target.value} by alice"
    assert entry.actor == "alice"


def test_setting_the_same_severity_is_silent() -> None:
    assert _incident(severity=Severity.S2).set_severity(Severity.S2, "alice", LATER) == []


@pytest.mark.parametrize(
    ("start", "raised", "severity"),
    [
        (Impact.DEGRADED, Impact.PARTIAL_DISRUPTION, Severity.S2),
        (Impact.DEGRADED, Impact.OUTAGE, Severity.S1),
        (Impact.PARTIAL_DISRUPTION, Impact.OUTAGE, Severity.S1),
        (Impact.OPERATIONAL, Impact.DEGRADED, Severity.S3),
    ],
)
def test_raise_impact_raises_severity_per_map(
    start: Impact, raised: Impact, severity: Severity
) -> None:
    incident = _incident(impact=start, severity=DEFAULT_SEVERITY_MAP[start])
    before = incident.severity
    entries = incident.raise_impact(raised, DEFAULT_SEVERITY_MAP, LATER, "CheckoutDown fired")
    assert (incident.impact, incident.severity) == (raised, severity)
    assert _kinds(entries) == ["impact_raised", "severity_raised"]
    assert entries[0].message == f"Impact raised {start.value} → {raised.value}: CheckoutDown fired"
    assert entries[1].message == f"Severity raised {before.value} → {severity.value}"


@pytest.mark.parametrize("lower", [Impact.OPERATIONAL, Impact.DEGRADED, Impact.PARTIAL_DISRUPTION])
def test_raise_impact_never_lowers(lower: Impact) -> None:
    incident = _incident(impact=Impact.PARTIAL_DISRUPTION, severity=Severity.S2)
    assert incident.raise_impact(lower, DEFAULT_SEVERITY_MAP, LATER, "quieter alert") == []
    assert (incident.impact, incident.severity) == (Impact.PARTIAL_DISRUPTION, Severity.S2)
    assert incident.updated_at == T0


def test_raise_impact_keeps_a_worse_severity_a_human_set() -> None:
    incident = _incident(impact=Impact.DEGRADED, severity=Severity.S3)
    incident.set_severity(Severity.S1, "alice", T0)
    entries = incident.raise_impact(Impact.PARTIAL_DISRUPTION, DEFAULT_SEVERITY_MAP, LATER, "x")
    assert incident.impact is Impact.PARTIAL_DISRUPTION
    assert incident.severity is Severity.S1
    assert _kinds(entries) == ["impact_raised"]


def test_raise_impact_uses_the_configured_map() -> None:
    custom = {**DEFAULT_SEVERITY_MAP, Impact.PARTIAL_DISRUPTION: Severity.S1}
    incident = _incident()
    incident.raise_impact(Impact.PARTIAL_DISRUPTION, custom, LATER, "x")
    assert incident.severity is Severity.S1


def test_updated_at_never_moves_backwards() -> None:
    incident = _incident()
    incident.acknowledge("alice", LATER)
    incident.add_note("late-arriving note", "bob", T0)
    assert incident.updated_at == LATER


@pytest.mark.parametrize(
    ("text", "severity"),
    [("S1", Severity.S1), ("s2", Severity.S2), ("P3", Severity.S3), (" p4 ", Severity.S4)],
)
def test_severity_parse_accepts_p_levels(text: str, severity: Severity) -> None:
    assert Severity.parse(text) is severity


@pytest.mark.parametrize("text", ["S0", "S5", "sev1", "1", ""])
def test_severity_parse_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse(text)


def test_impact_order_matches_the_status_page() -> None:
    ordered = sorted(
        [Impact.OUTAGE, Impact.OPERATIONAL, Impact.PARTIAL_DISRUPTION, Impact.DEGRADED]
    )
    assert ordered == [
        Impact.OPERATIONAL,
        Impact.DEGRADED,
        Impact.PARTIAL_DISRUPTION,
        Impact.OUTAGE,
    ]
