"""Paging: incident changes (timeline entries) into outbox messages and deadlines."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import pytest

from firstresponder.domain.alerts import AlertStatus
from firstresponder.domain.escalation import (
    DEFAULT_POLICIES,
    Deadline,
    DeadlineKind,
    EscalationPolicy,
    PageAction,
    SeverityPolicy,
)
from firstresponder.domain.incident import Incident, TimelineEntry, TrackedAlert
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.pagers.base import PageMessage
from firstresponder.paging import Paging, page_payload

T0 = datetime.fromisoformat("2026-11-23T03:00:00+00:00")
EOC, IMOC, CMOC = Role.EOC, Role.IMOC, Role.CMOC
PD = {EOC: ("pagerduty",), IMOC: ("pagerduty",), CMOC: ("pagerduty",)}


class Writes:
    """An in-memory unit of work: what the SQL store would have written."""

    def __init__(self) -> None:
        self.messages: list[PageMessage] = []  # every message ever enqueued
        self.seen = 0  # how many of them sent() has already returned
        self.deadlines: dict[tuple[int, DeadlineKind], Deadline] = {}

    def pager_keys(self, incident_id: int) -> dict[Role, list[tuple[str, str]]]:
        out: dict[Role, list[tuple[str, str]]] = {}
        for m in self.messages:
            if m.incident_id == incident_id and m.action is PageAction.TRIGGER:
                keys = out.setdefault(m.role, [])
                if (m.target, m.dedup_key) not in keys:
                    keys.append((m.target, m.dedup_key))
        return out

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None:
        assert channel == "pager"
        self.messages += messages

    def schedule(self, deadlines: Sequence[Deadline]) -> None:
        for d in deadlines:
            self.deadlines[(d.incident_id, d.kind)] = d

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None:
        for kind in kinds:
            self.deadlines.pop((incident_id, kind), None)

    def sent(self) -> list[tuple[str, Role, PageAction, str]]:
        new, self.seen = self.messages[self.seen :], len(self.messages)
        return [(m.target, m.role, m.action, m.dedup_key) for m in new]


def _incident(severity: Severity = Severity.S3, **extra: object) -> Incident:
    alert = TrackedAlert(
        "fp1",
        "CheckoutErrors",
        AlertStatus.FIRING,
        T0 - timedelta(minutes=3),
        None,
        {"service": "checkout"},
        "5xx above 5%",
        Impact.DEGRADED,
        "label",
        runbook_url="https://runbooks.example/checkout",
        generator_url="http://prom:9090/graph?g0.expr=up",
    )
    incident = Incident(
        id=7,
        group_key="checkout",
        service="checkout",
        title="checkout: degraded — 5xx above 5%",
        impact=Impact.DEGRADED,
        severity=severity,
        state=IncidentState.INVESTIGATING,
        declared_at=T0,
        updated_at=T0,
        alerts={"fp1": alert},
    )
    for key, value in extra.items():
        setattr(incident, key, value)
    return incident


def declared(now: datetime = T0) -> TimelineEntry:
    return TimelineEntry(now, "declared", "declared")


@pytest.fixture
def paging() -> Paging:
    return Paging(EscalationPolicy(), PD, "http://fr.example", "http://prom:9090")


def test_s3_pages_the_eoc_and_starts_the_ack_clock(paging: Paging) -> None:
    uow, incident = Writes(), _incident()
    paging.after_change(uow, incident, [declared()], T0)
    assert uow.sent() == [("pagerduty", EOC, PageAction.TRIGGER, "firstresponder-7-eoc")]
    assert uow.deadlines == {
        (7, DeadlineKind.ACK): Deadline(7, DeadlineKind.ACK, T0 + timedelta(minutes=15))
    }


def test_s1_pages_eoc_imoc_and_cmoc_at_once(paging: Paging) -> None:
    uow = Writes()
    paging.after_change(uow, _incident(Severity.S1), [declared()], T0)
    assert [(role, action) for _, role, action, _ in uow.sent()] == [
        (EOC, PageAction.TRIGGER),
        (IMOC, PageAction.TRIGGER),
        (CMOC, PageAction.TRIGGER),
    ]


def test_s4_pages_nobody_and_sets_no_clock(paging: Paging) -> None:
    uow = Writes()
    paging.after_change(uow, _incident(Severity.S4), [declared()], T0)
    assert uow.sent() == [] and uow.deadlines == {}


def test_each_target_of_a_role_gets_its_own_message() -> None:
    targets = {**PD, EOC: ("pagerduty", "webhook:bridge")}
    paging, uow = Paging(EscalationPolicy(), targets, "http://fr.example"), Writes()
    paging.after_change(uow, _incident(), [declared()], T0)
    assert [(t, k) for t, _, _, k in uow.sent()] == [
        ("pagerduty", "firstresponder-7-eoc"),
        ("webhook:bridge", "firstresponder-7-eoc"),
    ]


def test_acknowledge_reaches_every_triggered_key_and_starts_the_investigating_clock(
    paging: Paging,
) -> None:
    uow, incident = Writes(), _incident(Severity.S2)
    paging.after_change(uow, incident, [declared()], T0)
    uow.sent()
    acked = T0 + timedelta(minutes=4)
    entries = incident.acknowledge("alice", acked)
    paging.after_change(uow, incident, entries, acked)
    assert uow.sent() == [
        ("pagerduty", EOC, PageAction.ACKNOWLEDGE, "firstresponder-7-eoc"),
        ("pagerduty", IMOC, PageAction.ACKNOWLEDGE, "firstresponder-7-imoc"),
    ]
    assert list(uow.deadlines.values()) == [
        Deadline(7, DeadlineKind.INVESTIGATING, acked + timedelta(minutes=30))
    ]


def test_resolve_mirrors_to_every_key_and_clears_the_clocks(paging: Paging) -> None:
    uow, incident = Writes(), _incident()
    paging.after_change(uow, incident, [declared()], T0)
    uow.sent()
    done = T0 + timedelta(hours=1)
    paging.after_change(uow, incident, incident.resolve("alice", done), done)
    assert uow.sent() == [("pagerduty", EOC, PageAction.RESOLVE, "firstresponder-7-eoc")]
    assert uow.deadlines == {}


def test_a_worse_severity_pages_only_the_roles_it_adds(paging: Paging) -> None:
    uow, incident = Writes(), _incident()
    paging.after_change(uow, incident, [declared()], T0)
    uow.sent()
    later = T0 + timedelta(minutes=2)
    entries = incident.set_severity(Severity.S2, "bob", later)
    paging.after_change(uow, incident, entries, later)
    assert uow.sent() == [("pagerduty", IMOC, PageAction.TRIGGER, "firstresponder-7-imoc")]
    # the ack clock of the first page keeps running; it is not pushed back
    assert uow.deadlines[(7, DeadlineKind.ACK)].due_at == T0 + timedelta(minutes=15)
    lower = incident.set_severity(Severity.S3, "bob", later)
    paging.after_change(uow, incident, lower, later)
    assert uow.sent() == []


def test_declared_and_raised_in_one_change_pages_each_role_once(paging: Paging) -> None:
    uow, incident = Writes(), _incident(Severity.S1)
    raised = TimelineEntry(T0, "severity_raised", "raised", data={"from": "S3", "to": "S1"})
    paging.after_change(uow, incident, [declared(), raised], T0)
    assert sorted(role.value for _, role, _, _ in uow.sent()) == ["cmoc", "eoc", "imoc"]


def test_other_entries_page_nobody(paging: Paging) -> None:
    uow, incident = Writes(), _incident()
    entries = incident.add_note("looking", "alice", T0) + incident.assign_role(
        Role.LEAD, "carol", "alice", T0
    )
    paging.after_change(uow, incident, entries, T0)
    assert uow.sent() == [] and uow.deadlines == {}


def test_a_repeated_escalation_rings_again_with_its_own_key_and_ack_silences_all() -> None:
    policy = EscalationPolicy(
        by_severity={**DEFAULT_POLICIES, Severity.S3: SeverityPolicy((EOC,), repeats=1)}
    )
    paging, uow, incident = Paging(policy, PD, "http://fr.example"), Writes(), _incident()
    paging.after_change(uow, incident, [declared()], T0)
    first = uow.deadlines[(7, DeadlineKind.ACK)]
    entries = paging.fire(uow, incident, first, first.due_at)
    assert [e.kind for e in entries] == ["escalated"]
    repeat = uow.deadlines[(7, DeadlineKind.ACK)]
    assert repeat.repeat == 1
    paging.fire(uow, incident, repeat, repeat.due_at)
    keys = [k for _, role, _, k in uow.sent() if role is IMOC]
    assert keys == ["firstresponder-7-imoc", "firstresponder-7-imoc-r1"]
    acked = repeat.due_at + timedelta(minutes=1)
    paging.after_change(uow, incident, incident.acknowledge("dave", acked), acked)
    assert {k for _, _, action, k in uow.sent() if action is PageAction.ACKNOWLEDGE} == {
        "firstresponder-7-eoc",
        "firstresponder-7-imoc",
        "firstresponder-7-imoc-r1",
    }


def test_payload_carries_what_a_responder_needs(paging: Paging) -> None:
    evidence = {"kind": "burn", "query": 'slo:sli_error:ratio_rate1h{sloth_slo="x"}'}
    incident = _incident(
        Severity.S2,
        classification={"impact": "partial_disruption", "reason": "SLO", "evidence": [evidence]},
        roles={Role.EOC: "alice"},
    )
    uow = Writes()
    paging.after_change(uow, incident, [declared()], T0)
    payload = uow.messages[0].payload
    assert payload["summary"].startswith("[S2] checkout: degraded")
    assert (payload["severity"], payload["service"], payload["impact"]) == (
        "S2",
        "checkout",
        "degraded",
    )
    assert payload["reason"] == "S2 declared"
    hrefs = {link["text"]: link["href"] for link in payload["links"]}
    assert hrefs["Incident 7 (firstresponder)"] == "http://fr.example/api/v1/incidents/7"
    assert hrefs["Runbook"] == "https://runbooks.example/checkout"
    assert hrefs["Prometheus graph"].startswith("http://prom:9090/graph?g0.expr=slo%3Asli_error")
    details = payload["details"]
    assert details["classification"]["evidence"] == [evidence]
    assert details["roles"] == {"eoc": "alice"}
    assert details["firing_alerts"][0]["name"] == "CheckoutErrors"


def test_without_evidence_the_graph_link_is_the_alerts_own() -> None:
    from firstresponder.domain.escalation import Page

    page = Page(7, EOC, PageAction.TRIGGER, "S3 declared")
    payload = page_payload(_incident(), page, T0, "http://fr.example", "http://prom:9090")
    hrefs = {link["text"]: link["href"] for link in payload["links"]}
    assert hrefs["Prometheus graph"] == "http://prom:9090/graph?g0.expr=up"
    long_title = _incident(title="x" * 5000)
    assert len(page_payload(long_title, page, T0, "http://fr")["summary"]) == 1024
