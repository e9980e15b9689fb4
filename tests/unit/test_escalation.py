"""The escalation policy: who is paged on declaration, and what each deadline does.

Pure decisions, no I/O and no clock: every time is an explicit datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstresponder.domain.escalation import (
    DEFAULT_POLICIES,
    Deadline,
    DeadlineKind,
    EscalationPolicy,
    Page,
    PageAction,
    Plan,
    SeverityPolicy,
    on_acknowledged,
    on_deadline,
    on_declared,
    on_severity_raised,
    on_state_changed,
)
from firstresponder.domain.incident import Incident
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity

DECLARED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ACK_DUE = DECLARED + timedelta(minutes=15)
ACKED = DECLARED + timedelta(minutes=4)
INVESTIGATING_DUE = ACKED + timedelta(minutes=30)
INCIDENT_ID = 42

EOC, IMOC, CMOC = Role.EOC, Role.IMOC, Role.CMOC
S1, S2, S3, S4 = Severity.S1, Severity.S2, Severity.S3, Severity.S4
DEFAULT = EscalationPolicy()


def _incident(
    severity: Severity = S3,
    *,
    service: str = "checkout",
    acked_at: datetime | None = None,
    state: IncidentState = IncidentState.INVESTIGATING,
    incident_id: int = INCIDENT_ID,
) -> Incident:
    incident = Incident(
        id=incident_id,
        group_key=f"service={service}",
        service=service,
        title=f"{service}: HighErrorRate",
        impact=Impact.DEGRADED,
        severity=severity,
        state=IncidentState.INVESTIGATING,
        declared_at=DECLARED,
        updated_at=DECLARED,
    )
    if acked_at is not None:
        incident.acknowledge("alice", acked_at)
    if state is not IncidentState.INVESTIGATING:
        incident.set_state(state, "alice", max(DECLARED, acked_at or DECLARED))
    return incident


def _ack(due: datetime = ACK_DUE, repeat: int = 0) -> Deadline:
    return Deadline(INCIDENT_ID, DeadlineKind.ACK, due, repeat)


def _investigating(due: datetime = INVESTIGATING_DUE) -> Deadline:
    return Deadline(INCIDENT_ID, DeadlineKind.INVESTIGATING, due)


def _roles(pages: list[Page], action: PageAction = PageAction.TRIGGER) -> list[Role]:
    assert all(p.action is action for p in pages), pages
    assert all(p.incident_id == INCIDENT_ID for p in pages), pages
    return [p.role for p in pages]


# --- defaults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "paged"),
    [
        (S1, [EOC, IMOC, CMOC]),
        (S2, [EOC, IMOC]),
        (S3, [EOC]),
        (S4, []),
    ],
)
def test_default_policy_per_severity(severity: Severity, paged: list[Role]) -> None:
    rules = DEFAULT_POLICIES[severity]
    assert list(rules.page_on_declare) == paged
    assert rules.escalate_to == (IMOC,)
    assert rules.ack_timeout == timedelta(minutes=15)
    assert rules.investigating_timeout == timedelta(minutes=30)
    assert rules.repeats == 0
    assert DEFAULT.for_incident(_incident(severity)) == rules


@pytest.mark.parametrize(
    ("severity", "paged"),
    [
        (S1, [EOC, IMOC, CMOC]),
        (S2, [EOC, IMOC]),
        (S3, [EOC]),
    ],
)
def test_declaration_pages_the_default_roles_and_sets_an_ack_deadline(
    severity: Severity, paged: list[Role]
) -> None:
    plan = on_declared(_incident(severity), DEFAULT, DECLARED)
    assert _roles(plan.pages) == paged
    assert {p.reason for p in plan.pages} == {f"{severity.value} declared"}
    assert plan.schedule == [Deadline(INCIDENT_ID, DeadlineKind.ACK, ACK_DUE, 0)]
    assert plan.schedule[0].due_at - DECLARED == timedelta(minutes=15)
    assert plan.cancel == []
    assert plan.timeline == []


def test_s4_declaration_pages_nobody_and_sets_no_deadline() -> None:
    assert on_declared(_incident(S4), DEFAULT, DECLARED) == Plan()


# --- acknowledgement timeout ------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [ACK_DUE, ACK_DUE + timedelta(seconds=1), ACK_DUE + timedelta(minutes=3, seconds=30)],
    ids=["on-time", "1s-late", "210s-late"],
)
def test_ack_timeout_without_ack_pages_the_imoc_once(now: datetime) -> None:
    plan = on_deadline(_incident(S3), _ack(), DEFAULT, {EOC}, now)
    assert _roles(plan.pages) == [IMOC]
    assert plan.pages[0].reason == "escalated: not acknowledged within 15 minutes"
    assert plan.schedule == []
    assert plan.cancel == []
    [entry] = plan.timeline
    assert (entry.at, entry.kind) == (now, "escalated")
    assert entry.message == "Escalated to IMOC: not acknowledged within 15 minutes"
    assert entry.data == {
        "reason": "ack_timeout",
        "to": ["imoc"],
        "due_at": ACK_DUE.isoformat(),
        "lag_seconds": (now - ACK_DUE).total_seconds(),
    }


@pytest.mark.parametrize(
    ("severity", "acked_at"),
    [
        (S1, DECLARED),
        (S2, ACKED),
        (S3, ACK_DUE - timedelta(seconds=1)),
        (S3, ACK_DUE),
    ],
)
def test_ack_timeout_after_an_ack_does_nothing(severity: Severity, acked_at: datetime) -> None:
    incident = _incident(severity, acked_at=acked_at)
    assert on_deadline(incident, _ack(), DEFAULT, {EOC}, ACK_DUE) == Plan()


@pytest.mark.parametrize(
    ("severity", "paged"),
    [
        (S1, {EOC, IMOC, CMOC}),
        (S2, {EOC, IMOC}),
        (S3, {EOC, IMOC}),  # IMOC engaged by hand before the timeout
    ],
)
def test_ack_timeout_with_imoc_already_engaged_is_recorded_but_not_an_escalation(
    severity: Severity, paged: set[Role]
) -> None:
    now = ACK_DUE + timedelta(seconds=5)
    plan = on_deadline(_incident(severity), _ack(), DEFAULT, paged, now)
    assert plan.pages == []
    [entry] = plan.timeline
    assert entry.kind == "escalation_skipped"
    assert entry.message == (
        "Not acknowledged within 15 minutes; IMOC already engaged, nobody new to page"
    )
    assert entry.data["reason"] == "ack_timeout"
    assert entry.data["to"] == ["imoc"]
    assert entry.data["lag_seconds"] == 5.0


# --- acknowledgement and the investigating timeout --------------------------------------


@pytest.mark.parametrize(
    ("severity", "paged", "acknowledged"),
    [
        (S1, {CMOC, EOC, IMOC}, [CMOC, EOC, IMOC]),
        (S2, {IMOC, EOC}, [EOC, IMOC]),
        (S3, {EOC}, [EOC]),
        (S3, {EOC, IMOC}, [EOC, IMOC]),  # acknowledged after the IMOC was escalated to
    ],
)
def test_acknowledged_cancels_ack_schedules_investigating_and_acks_every_page(
    severity: Severity, paged: set[Role], acknowledged: list[Role]
) -> None:
    incident = _incident(severity, acked_at=ACKED)
    plan = on_acknowledged(incident, DEFAULT, paged, ACKED)
    assert plan.cancel == [DeadlineKind.ACK]
    assert plan.schedule == [
        Deadline(INCIDENT_ID, DeadlineKind.INVESTIGATING, ACKED + timedelta(minutes=30))
    ]
    assert _roles(plan.pages, PageAction.ACKNOWLEDGE) == acknowledged
    assert plan.timeline == []


@pytest.mark.parametrize("state", [IncidentState.IDENTIFIED, IncidentState.MONITORING])
def test_acknowledged_past_investigating_sets_no_investigating_deadline(
    state: IncidentState,
) -> None:
    incident = _incident(S3, acked_at=ACKED, state=state)
    plan = on_acknowledged(incident, DEFAULT, {EOC}, ACKED)
    assert plan.cancel == [DeadlineKind.ACK]
    assert plan.schedule == []
    assert _roles(plan.pages, PageAction.ACKNOWLEDGE) == [EOC]


@pytest.mark.parametrize(
    ("severity", "paged", "expected"),
    [
        (S3, {EOC}, [IMOC]),
        (S2, {EOC, IMOC}, []),
        (S1, {EOC, IMOC, CMOC}, []),
    ],
)
def test_still_investigating_at_the_deadline_escalates_to_the_imoc(
    severity: Severity, paged: set[Role], expected: list[Role]
) -> None:
    now = INVESTIGATING_DUE + timedelta(seconds=12)
    incident = _incident(severity, acked_at=ACKED)
    plan = on_deadline(incident, _investigating(), DEFAULT, paged, now)
    assert _roles(plan.pages) == expected
    assert all(
        p.reason == "escalated: still investigating 30 minutes after the EOC engaged"
        for p in plan.pages
    )
    assert plan.schedule == []
    [entry] = plan.timeline
    kind = "escalated" if expected else "escalation_skipped"  # the IMOC was paged at once
    assert (entry.at, entry.kind) == (now, kind)
    assert entry.data == {
        "reason": "investigating_timeout",
        "to": ["imoc"],
        "due_at": INVESTIGATING_DUE.isoformat(),
        "lag_seconds": 12.0,
    }


@pytest.mark.parametrize("state", [IncidentState.IDENTIFIED, IncidentState.MONITORING])
def test_moving_on_from_investigating_cancels_the_investigating_deadline(
    state: IncidentState,
) -> None:
    incident = _incident(S3, acked_at=ACKED)
    incident.set_state(state, "alice", ACKED + timedelta(minutes=10))
    assert on_state_changed(incident, {EOC}) == Plan(cancel=[DeadlineKind.INVESTIGATING])
    assert on_deadline(incident, _investigating(), DEFAULT, {EOC}, INVESTIGATING_DUE) == Plan()


def test_a_state_change_back_to_investigating_changes_nothing() -> None:
    incident = _incident(S3, acked_at=ACKED, state=IncidentState.IDENTIFIED)
    incident.set_state(IncidentState.INVESTIGATING, "alice", ACKED + timedelta(minutes=1))
    assert on_state_changed(incident, {EOC}) == Plan()


# --- resolution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paged", "resolved"),
    [
        ({IMOC, EOC, CMOC}, [CMOC, EOC, IMOC]),
        ({EOC, IMOC}, [EOC, IMOC]),
        ({EOC}, [EOC]),
        (set(), []),
    ],
)
def test_resolved_resolves_every_page_and_cancels_both_deadlines(
    paged: set[Role], resolved: list[Role]
) -> None:
    incident = _incident(S1, acked_at=ACKED)
    incident.resolve("alice", ACKED + timedelta(minutes=20))
    plan = on_state_changed(incident, paged)
    assert _roles(plan.pages, PageAction.RESOLVE) == resolved
    assert {p.reason for p in plan.pages} <= {"resolved"}
    assert sorted(plan.cancel, key=lambda k: k.value) == [
        DeadlineKind.ACK,
        DeadlineKind.INVESTIGATING,
    ]
    assert plan.schedule == []


@pytest.mark.parametrize(
    ("deadline", "acked_at"),
    [
        (_ack(), None),
        (_ack(repeat=1), None),
        (_investigating(), ACKED),
    ],
    ids=["ack", "ack-repeat", "investigating"],
)
def test_a_resolved_incidents_deadline_does_nothing(
    deadline: Deadline, acked_at: datetime | None
) -> None:
    incident = _incident(S3, acked_at=acked_at)
    incident.resolve("alice", ACKED + timedelta(minutes=1))
    repeating = EscalationPolicy(
        by_severity={**DEFAULT_POLICIES, S3: SeverityPolicy((EOC,), repeats=3)}
    )
    for policy in (DEFAULT, repeating):
        assert on_deadline(incident, deadline, policy, {EOC}, deadline.due_at) == Plan()


# --- repeats ----------------------------------------------------------------------------

REPEATING = EscalationPolicy(
    by_severity={**DEFAULT_POLICIES, S3: SeverityPolicy((EOC,), repeats=2)}
)


@pytest.mark.parametrize(
    ("repeat", "paged", "pages", "next_repeat"),
    [
        (0, {EOC}, [IMOC], 1),
        (1, {EOC, IMOC}, [IMOC], 2),
        (2, {EOC, IMOC}, [IMOC], None),
    ],
)
def test_repeats_reschedule_the_ack_deadline_until_exhausted(
    repeat: int, paged: set[Role], pages: list[Role], next_repeat: int | None
) -> None:
    due = ACK_DUE + timedelta(minutes=15) * repeat
    now = due + timedelta(seconds=2)
    plan = on_deadline(_incident(S3), _ack(due, repeat), REPEATING, paged, now)
    assert _roles(plan.pages) == pages
    expected = [] if next_repeat is None else [_ack(now + timedelta(minutes=15), next_repeat)]
    assert plan.schedule == expected
    assert [e.kind for e in plan.timeline] == ["escalated"]


def test_repeats_chain_ends_after_the_configured_count() -> None:
    incident = _incident(S3)
    paged = {EOC}
    pending = on_declared(incident, REPEATING, DECLARED).schedule
    fired: list[Deadline] = []
    while pending:
        [deadline] = pending
        fired.append(deadline)
        plan = on_deadline(incident, deadline, REPEATING, paged, deadline.due_at)
        paged |= {p.role for p in plan.pages}
        pending = plan.schedule
        assert len(fired) <= 10, "repeats never stop"
    assert [(d.repeat, d.due_at) for d in fired] == [
        (0, ACK_DUE),
        (1, ACK_DUE + timedelta(minutes=15)),
        (2, ACK_DUE + timedelta(minutes=30)),
    ]


def test_repeats_stop_once_acknowledged() -> None:
    incident = _incident(S3, acked_at=ACK_DUE + timedelta(minutes=1))
    deadline = _ack(ACK_DUE + timedelta(minutes=15), 1)
    assert on_deadline(incident, deadline, REPEATING, {EOC, IMOC}, deadline.due_at) == Plan()


def test_the_investigating_deadline_does_not_repeat() -> None:
    incident = _incident(S3, acked_at=ACKED)
    plan = on_deadline(incident, _investigating(), REPEATING, {EOC}, INVESTIGATING_DUE)
    assert _roles(plan.pages) == [IMOC]
    assert plan.schedule == []


# --- per-severity and per-service overrides ---------------------------------------------

SEARCH_S3 = SeverityPolicy(
    (EOC, IMOC),
    ack_timeout=timedelta(minutes=5),
    investigating_timeout=timedelta(minutes=10),
)
OVERRIDDEN = EscalationPolicy(by_service={"search": {S3: SEARCH_S3}})


@pytest.mark.parametrize(
    ("service", "severity", "paged", "ack_timeout"),
    [
        ("search", S3, [EOC, IMOC], timedelta(minutes=5)),
        ("search", S1, [EOC, IMOC, CMOC], timedelta(minutes=15)),
        ("search", S4, [], None),
        ("checkout", S3, [EOC], timedelta(minutes=15)),
        ("Search", S3, [EOC], timedelta(minutes=15)),
    ],
)
def test_a_service_override_replaces_the_default_only_for_that_service(
    service: str, severity: Severity, paged: list[Role], ack_timeout: timedelta | None
) -> None:
    incident = _incident(severity, service=service)
    expected_rules = (
        SEARCH_S3 if (service, severity) == ("search", S3) else DEFAULT_POLICIES[severity]
    )
    assert OVERRIDDEN.for_incident(incident) == expected_rules
    plan = on_declared(incident, OVERRIDDEN, DECLARED)
    assert _roles(plan.pages) == paged
    expected = [] if ack_timeout is None else [_ack(DECLARED + ack_timeout)]
    assert plan.schedule == expected


@pytest.mark.parametrize(
    ("service", "investigating_due", "investigating_why"),
    [
        ("search", ACKED + timedelta(minutes=10), "10 minutes"),
        ("checkout", ACKED + timedelta(minutes=30), "30 minutes"),
    ],
)
def test_a_service_override_sets_that_services_timeouts(
    service: str, investigating_due: datetime, investigating_why: str
) -> None:
    incident = _incident(S3, service=service, acked_at=ACKED)
    plan = on_acknowledged(incident, OVERRIDDEN, {EOC}, ACKED)
    assert [d.due_at for d in plan.schedule] == [investigating_due]
    deadline = plan.schedule[0]
    fired = on_deadline(incident, deadline, OVERRIDDEN, {EOC}, investigating_due)
    assert fired.timeline[0].message == (
        f"Escalated to IMOC: still investigating {investigating_why} after the EOC engaged"
    )


def test_a_severity_override_applies_to_every_service() -> None:
    rules = SeverityPolicy((EOC, CMOC), escalate_to=(IMOC, CMOC), ack_timeout=timedelta(minutes=10))
    policy = EscalationPolicy(by_severity={**DEFAULT_POLICIES, S3: rules})
    for service in ("checkout", "search"):
        incident = _incident(S3, service=service)
        plan = on_declared(incident, policy, DECLARED)
        assert _roles(plan.pages) == [EOC, CMOC]
        assert plan.schedule == [_ack(DECLARED + timedelta(minutes=10))]
        fired = on_deadline(
            incident, plan.schedule[0], policy, {EOC, CMOC}, plan.schedule[0].due_at
        )
        assert _roles(fired.pages) == [IMOC]  # CMOC is not paged twice
        assert fired.timeline[0].data["to"] == ["imoc", "cmoc"]
        assert fired.timeline[0].message == (
            "Escalated to IMOC, CMOC: not acknowledged within 10 minutes"
        )


# --- severity raised --------------------------------------------------------------------

RAISED = DECLARED + timedelta(minutes=6)


@pytest.mark.parametrize(
    ("before", "after", "already_paged", "acked_at", "pages", "schedule"),
    [
        (S3, S1, {EOC}, None, [IMOC, CMOC], []),
        (S3, S2, {EOC}, None, [IMOC], []),
        (S2, S1, {EOC, IMOC}, None, [CMOC], []),
        (S3, S2, {EOC, IMOC}, None, [], []),  # the IMOC was escalated to already
        (S4, S2, set(), None, [EOC, IMOC], [_ack(RAISED + timedelta(minutes=15))]),
        (S4, S3, set(), ACKED, [EOC], []),
        (S3, S1, {EOC}, ACKED, [IMOC, CMOC], []),
    ],
)
def test_severity_raised_pages_only_the_newly_engaged_roles(
    before: Severity,
    after: Severity,
    already_paged: set[Role],
    acked_at: datetime | None,
    pages: list[Role],
    schedule: list[Deadline],
) -> None:
    incident = _incident(after, acked_at=acked_at)
    plan = on_severity_raised(incident, before, DEFAULT, already_paged, RAISED)
    assert _roles(plan.pages) == pages
    assert {p.reason for p in plan.pages} <= {f"severity raised {before.value} → {after.value}"}
    assert plan.schedule == schedule
    assert plan.cancel == []


# --- dedup keys -------------------------------------------------------------------------


@pytest.mark.parametrize("incident_id", [1, INCIDENT_ID, 2**63 - 1])
@pytest.mark.parametrize("role", list(Role))
def test_dedup_key_is_one_per_incident_and_role(incident_id: int, role: Role) -> None:
    keys = {
        Page(incident_id, role, action, reason).dedup_key
        for action in PageAction
        for reason in ("S1 declared", "escalated: x", "acknowledged", "resolved")
    }
    assert len(keys) == 1
    [key] = keys
    assert 0 < len(key) <= 255
    assert str(incident_id) in key and role.value in key
    others = {Page(incident_id, r, PageAction.TRIGGER, "").dedup_key for r in Role if r is not role}
    assert key not in others
    assert Page(incident_id + 1, role, PageAction.TRIGGER, "").dedup_key != key


def test_dedup_keys_of_a_whole_life_match_per_role() -> None:
    incident = _incident(S1)
    declared = on_declared(incident, DEFAULT, DECLARED)
    paged = {p.role for p in declared.pages}
    incident.acknowledge("alice", ACKED)
    acked = on_acknowledged(incident, DEFAULT, paged, ACKED)
    incident.resolve("alice", ACKED + timedelta(minutes=5))
    resolved = on_state_changed(incident, paged)
    for plan in (acked, resolved):
        assert {p.role: p.dedup_key for p in plan.pages} == {
            p.role: p.dedup_key for p in declared.pages
        }
