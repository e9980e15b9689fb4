"""Alerts into incidents: declaration, one incident per group, monitoring, reopen, near misses."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from firstresponder.api.payload import parse_notification
from firstresponder.domain.alerts import AlertStatus
from firstresponder.domain.classify import LabelClassifier
from firstresponder.domain.grouping import (
    NAMES_SHOWN,
    ClassifiedAlert,
    GroupEngine,
    GroupState,
    Outcome,
)
from firstresponder.domain.incident import Incident, TimelineEntry
from firstresponder.domain.matchers import parse_matcher_list
from firstresponder.domain.rules import ClassificationSettings, ServiceRule
from firstresponder.domain.vocabulary import DEFAULT_SEVERITY_MAP, Impact, IncidentState, Severity
from tests.factories import T0, make_alert, make_payload

RULES = (
    ServiceRule(
        "search",
        parse_matcher_list(['service="search"']),
        declare_threshold=Impact.PARTIAL_DISRUPTION,
    ),
    ServiceRule(
        "batch", parse_matcher_list(['service="batch"']), declare_after=timedelta(minutes=5)
    ),
)
CLASSIFIER = LabelClassifier(RULES, ClassificationSettings())
ENGINE = GroupEngine(DEFAULT_SEVERITY_MAP)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def firing(
    alertname: str = "HighErrorRate",
    *,
    starts: datetime = T0,
    service: str = "checkout",
    extra: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, Any]:
    return make_alert(
        labels={"alertname": alertname, "service": service, **labels, **(extra or {})},
        starts_at=starts,
    )


def resolved(
    alertname: str = "HighErrorRate",
    *,
    starts: datetime = T0,
    ends: datetime | None = None,
    service: str = "checkout",
    extra: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, Any]:
    return make_alert(
        "resolved",
        labels={"alertname": alertname, "service": service, **labels, **(extra or {})},
        starts_at=starts,
        ends_at=ends or starts + timedelta(minutes=5),
    )


def events(*raw: dict[str, Any]) -> list[ClassifiedAlert]:
    """Through the real webhook parser, as the daemon sees them."""
    body = json.dumps(make_payload(*raw)).encode()
    return [ClassifiedAlert(a, CLASSIFIER.classify(a)) for a in parse_notification(body).alerts]


def group_of(*raw: dict[str, Any]) -> GroupState:
    return GroupState(events(*raw)[0].classification.group_key)


def apply(state: GroupState, now: datetime, *raw: dict[str, Any]) -> Outcome:
    return ENGINE.apply_events(state, events(*raw), now)


def open_incident(state: GroupState) -> Incident:
    assert state.incident is not None
    return state.incident


def state_of(incident: Incident) -> IncidentState:
    return incident.state


def kinds(outcome: Outcome) -> list[str]:
    return [e.kind for e in outcome.timeline]


# --- declaration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "impact", "severity"),
    [
        ({"impact": "outage"}, Impact.OUTAGE, Severity.S1),
        ({"severity": "critical"}, Impact.PARTIAL_DISRUPTION, Severity.S2),
        ({"severity": "warning"}, Impact.DEGRADED, Severity.S3),
    ],
)
def test_first_firing_alert_at_threshold_declares_with_mapped_severity(
    labels: dict[str, str], impact: Impact, severity: Severity
) -> None:
    alert = firing(extra=labels)
    state = group_of(alert)
    out = apply(state, minutes(1), alert)
    incident = open_incident(state)
    assert out.declared
    assert (incident.impact, incident.severity) == (impact, severity)
    assert incident.state is IncidentState.INVESTIGATING
    assert (incident.service, incident.group_key) == ("checkout", "service=checkout")
    assert incident.declared_at == minutes(1)
    assert incident.title.startswith(f"checkout: {impact.value.replace('_', ' ')} — ")
    assert kinds(out) == ["declared", "alert_firing"]
    assert f"({severity.value}) from HighErrorRate" in out.timeline[0].message
    assert out.timeline[0].data["alert_started_at"] == T0.isoformat()
    assert list(incident.alerts) == ["fp-HighErrorRate-checkout"]
    assert firing_pending(state) == []


def test_several_alerts_of_one_group_make_one_incident() -> None:
    a, b = firing("HighErrorRate"), firing("HighLatency", severity="warning")
    state = group_of(a)
    out = apply(state, minutes(1), a, b)
    incident = open_incident(state)
    assert out.declared
    assert sorted(t.name for t in incident.alerts.values()) == ["HighErrorRate", "HighLatency"]
    # the worst alert leads the declaration
    assert incident.impact is Impact.PARTIAL_DISRUPTION
    assert "from HighErrorRate" in out.timeline[0].message
    assert kinds(out) == ["declared", "alert_firing"]
    assert firing_names(out.timeline[1]) == ["HighErrorRate", "HighLatency"]

    later = firing("DiskFull", starts=minutes(3), severity="warning")
    out = apply(state, minutes(3), later)
    assert state.incident is incident
    assert not out.declared
    assert kinds(out) == ["alert_firing"]
    assert len(incident.alerts) == 3


def firing_names(entry: TimelineEntry) -> list[str]:
    """The name of each alert the entry lists."""
    assert entry.kind == "alert_firing"
    return [item["name"] for item in entry.data["alerts"] for _ in item["fingerprints"]]


def test_alerts_that_start_firing_together_are_one_timeline_entry_listing_each_by_kind() -> None:
    state = _declared(firing())
    batch = [
        make_alert(
            labels={"alertname": f"Disk{i % 2}", "severity": "warning", "instance": f"db-{i}"},
            starts_at=minutes(3),
            fingerprint=f"fp-disk-{i}",
        )
        for i in range(4)
    ]
    out = apply(state, minutes(4), *batch)
    assert kinds(out) == ["alert_firing"]
    (entry,) = out.timeline
    assert entry.at == minutes(4)
    assert entry.message == "4 alerts firing: Disk0 ×2, Disk1 ×2"
    reason = 'label severity="warning"'
    assert entry.data == {
        "count": 4,
        "alerts": [
            {
                "name": "Disk0",
                "impact": "degraded",
                "reason": reason,
                "fingerprints": ["fp-disk-0", "fp-disk-2"],
            },
            {
                "name": "Disk1",
                "impact": "degraded",
                "reason": reason,
                "fingerprints": ["fp-disk-1", "fp-disk-3"],
            },
        ],
    }
    assert len(open_incident(state).alerts) == 5


def test_a_single_alert_firing_keeps_its_own_message() -> None:
    state = _declared(firing())
    out = apply(state, minutes(4), firing("DiskFull", starts=minutes(3)))
    (entry,) = out.timeline
    assert entry.message.startswith("Alert DiskFull firing: ")
    assert firing_names(entry) == ["DiskFull"]


def test_a_firing_entry_names_a_few_alert_names_and_lists_every_alert() -> None:
    state = _declared(firing())
    batch = [firing(f"Alert{i}", starts=minutes(3)) for i in range(NAMES_SHOWN + 2)]  # 7 names
    (entry,) = apply(state, minutes(4), *batch).timeline
    assert entry.message.endswith(", Alert4 and 2 more")
    assert entry.data["count"] == len(entry.data["alerts"]) == NAMES_SHOWN + 2


def test_the_firing_entry_comes_before_the_changes_its_alerts_caused() -> None:
    state = _declared(firing(severity="warning"))
    joining = [
        firing("Minor", severity="warning", starts=minutes(2)),
        firing("CheckoutDown", impact="outage", starts=minutes(2)),
        firing("Other", severity="warning", starts=minutes(2)),
    ]
    out = apply(state, minutes(2), *joining)
    assert kinds(out) == ["alert_firing", "impact_raised", "severity_raised"]
    assert firing_names(out.timeline[0]) == ["Minor", "CheckoutDown", "Other"]


def test_the_lead_alert_is_the_worst_then_the_earliest() -> None:
    early = firing("Early", severity="warning", starts=T0)
    worst_late = firing("WorstLate", impact="outage", starts=minutes(2))
    worst_early = firing("WorstEarly", impact="outage", starts=minutes(1))
    state = group_of(early)
    apply(state, minutes(3), early, worst_late, worst_early)
    incident = open_incident(state)
    assert incident.impact is Impact.OUTAGE
    assert "WorstEarly" in incident.title


def test_a_repeat_delivery_of_a_firing_alert_adds_nothing_to_the_timeline() -> None:
    alert = firing()
    state = group_of(alert)
    apply(state, minutes(1), alert)
    out = apply(state, minutes(2), alert)
    assert out.timeline == []
    assert not out.declared


# --- monitoring and reopen --------------------------------------------------------------


def _declared(*raw: dict[str, Any]) -> GroupState:
    state = group_of(raw[0])
    assert apply(state, minutes(1), *raw).declared
    return state


def test_all_alerts_recovered_moves_to_monitoring_not_resolved() -> None:
    state = _declared(firing("A"), firing("B"))
    incident = open_incident(state)

    out = apply(state, minutes(5), resolved("A"))
    assert incident.state is IncidentState.INVESTIGATING
    assert kinds(out) == ["alert_resolved"]

    out = apply(state, minutes(6), resolved("B"))
    assert state_of(incident) is IncidentState.MONITORING
    assert incident.is_open and incident.resolved_at is None
    assert kinds(out) == ["alert_resolved", "state_changed"]
    assert out.timeline[-1].message == "State investigating → monitoring: all alerts recovered"


def test_recovery_from_identified_also_moves_to_monitoring() -> None:
    state = _declared(firing())
    incident = open_incident(state)
    incident.set_state(IncidentState.IDENTIFIED, "alice", minutes(2))
    apply(state, minutes(6), resolved())
    assert incident.state is IncidentState.MONITORING


@pytest.mark.parametrize("refire", ["same alert, new startsAt", "another alert"])
def test_a_refire_during_monitoring_reopens_the_same_incident(refire: str) -> None:
    state = _declared(firing())
    incident = open_incident(state)
    apply(state, minutes(6), resolved())
    assert incident.state is IncidentState.MONITORING

    again = (
        firing(starts=minutes(20))
        if refire == "same alert, new startsAt"
        else firing("HighLatency", starts=minutes(20))
    )
    out = apply(state, minutes(20), again)
    assert state.incident is incident
    assert not out.declared
    assert state_of(incident) is IncidentState.INVESTIGATING
    assert kinds(out) == ["alert_firing", "state_changed"]
    assert "reopened" in out.timeline[-1].message and "fired again" in out.timeline[-1].message


def test_a_refire_while_identified_keeps_identified() -> None:
    state = _declared(firing("A"), firing("B"))
    incident = open_incident(state)
    incident.set_state(IncidentState.IDENTIFIED, "alice", minutes(2))
    out = apply(state, minutes(5), firing("C", starts=minutes(5)))
    assert incident.state is IncidentState.IDENTIFIED
    assert kinds(out) == ["alert_firing"]


# --- stale and out-of-order deliveries --------------------------------------------------


def test_a_late_firing_after_its_recovery_is_ignored() -> None:
    state = _declared(firing())
    incident = open_incident(state)
    apply(state, minutes(6), resolved())
    out = apply(state, minutes(7), firing())  # same startsAt: an older delivery
    assert out.timeline == [] and not out.declared
    assert incident.state is IncidentState.MONITORING
    assert incident.alerts["fp-HighErrorRate-checkout"].status is AlertStatus.RESOLVED


def test_an_older_firing_after_a_newer_one_is_ignored() -> None:
    state = _declared(firing(starts=minutes(10)))
    incident = open_incident(state)
    out = apply(state, minutes(12), firing(starts=T0))
    assert out.timeline == []
    assert incident.alerts["fp-HighErrorRate-checkout"].starts_at == minutes(10)


def test_an_old_recovery_does_not_resolve_a_newer_firing() -> None:
    state = _declared(firing(starts=minutes(10)))
    incident = open_incident(state)
    out = apply(state, minutes(12), resolved(starts=T0, ends=minutes(5)))
    assert out.timeline == []
    assert incident.state is IncidentState.INVESTIGATING
    assert incident.alerts["fp-HighErrorRate-checkout"].status is AlertStatus.FIRING


def test_events_of_one_batch_apply_in_time_order() -> None:
    state = _declared(firing())
    incident = open_incident(state)
    # delivered newest first: the re-fire at 20m must win over the recovery at 5m
    out = apply(state, minutes(21), firing(starts=minutes(20)), resolved(ends=minutes(5)))
    assert incident.state is IncidentState.INVESTIGATING
    assert incident.alerts["fp-HighErrorRate-checkout"].status is AlertStatus.FIRING
    assert kinds(out) == ["alert_resolved", "alert_firing"]


def test_the_recovery_of_an_alert_the_incident_never_saw_changes_nothing() -> None:
    state = _declared(firing())
    incident = open_incident(state)
    out = apply(state, minutes(6), resolved("Unrelated"))
    assert out.timeline == []
    assert incident.state is IncidentState.INVESTIGATING
    # Remembered as recovered (so a late firing is stale), never counted as firing.
    assert incident.alerts["fp-Unrelated-checkout"].status is AlertStatus.RESOLVED
    assert "fp-Unrelated-checkout" not in [a.fingerprint for a in incident.firing_alerts]


# --- near misses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert_labels", "threshold"),
    [
        ({"service": "checkout", "severity": "info"}, "degraded"),
        ({"service": "checkout", "impact": "operational"}, "degraded"),
        ({"service": "search", "severity": "warning"}, "partial_disruption"),
    ],
)
def test_a_below_threshold_alert_that_recovers_is_a_near_miss(
    alert_labels: dict[str, str], threshold: str
) -> None:
    fired, recovered = firing(extra=alert_labels), resolved(extra=alert_labels)
    state = group_of(fired)
    out = apply(state, minutes(1), fired)
    assert not out.declared and state.incident is None
    assert out.pending_changed and len(state.pending) == 1
    assert ENGINE.promote_due(state, minutes(60)).declared is False

    out = apply(state, minutes(6), recovered)
    assert state.incident is None and firing_pending(state) == []
    (miss,) = out.near_misses
    assert miss.reason == f"below the declare threshold ({threshold})"
    assert miss.service == alert_labels["service"]
    assert miss.group_key == state.group_key
    assert miss.recovered_at == minutes(5)
    assert miss.alert.name == "HighErrorRate"


def test_a_below_threshold_alert_joins_an_incident_declared_later() -> None:
    quiet = firing("Quiet", severity="info")
    state = group_of(quiet)
    apply(state, minutes(1), quiet)
    out = apply(state, minutes(2), firing("Loud", starts=minutes(2)))
    incident = open_incident(state)
    assert out.declared
    assert sorted(t.name for t in incident.alerts.values()) == ["Loud", "Quiet"]
    assert incident.impact is Impact.PARTIAL_DISRUPTION
    assert firing_pending(state) == []


# --- declare_after ----------------------------------------------------------------------


def test_declare_after_waits_then_promote_due_declares_on_time() -> None:
    alert = firing(service="batch", starts=T0)
    state = group_of(alert)
    out = apply(state, minutes(1), alert)
    assert not out.declared and state.incident is None
    (held,) = state.pending.values()
    assert held.declare_at == minutes(5)  # measured from startsAt, not from arrival

    assert not ENGINE.promote_due(state, minutes(5) - timedelta(seconds=1)).declared
    assert state.incident is None

    out = ENGINE.promote_due(state, minutes(5))
    incident = open_incident(state)
    assert out.declared
    assert incident.declared_at == minutes(5)
    assert (incident.service, incident.severity) == ("batch", Severity.S2)
    assert kinds(out) == ["declared", "alert_firing"]
    assert firing_pending(state) == []


def test_an_alert_already_older_than_declare_after_declares_on_arrival() -> None:
    alert = firing(service="batch", starts=T0)
    state = group_of(alert)
    assert apply(state, minutes(9), alert).declared


def test_recovery_before_declare_after_is_a_near_miss() -> None:
    state = group_of(firing(service="batch"))
    apply(state, minutes(1), firing(service="batch"))
    out = apply(state, minutes(4), resolved(service="batch", ends=minutes(3)))
    (miss,) = out.near_misses
    assert miss.reason == "recovered before declaration"
    assert miss.recovered_at == minutes(3)
    assert firing_pending(state) == []
    assert not ENGINE.promote_due(state, minutes(10)).declared
    assert state.incident is None


def test_a_starts_at_in_the_future_does_not_postpone_an_immediate_declaration() -> None:
    skewed = firing(starts=minutes(31))  # the sender's clock runs 30 minutes fast
    state = group_of(skewed)
    assert apply(state, minutes(1), skewed).declared
    assert open_incident(state).declared_at == minutes(1)


def test_a_starts_at_in_the_future_counts_declare_after_from_now() -> None:
    skewed = firing(service="batch", starts=minutes(31))
    state = group_of(skewed)
    apply(state, minutes(1), skewed)
    (held,) = state.pending.values()
    assert held.declare_at == minutes(6)
    assert ENGINE.promote_due(state, minutes(6)).declared
    assert open_incident(state).declared_at == minutes(6)


# --- after resolution, severity ---------------------------------------------------------


def test_a_resolved_incidents_group_gets_a_new_incident_on_the_next_firing() -> None:
    state = _declared(firing())
    old = open_incident(state)
    old.resolve("alice", minutes(10))

    out = apply(state, minutes(30), firing(starts=minutes(30)))
    new = open_incident(state)
    assert out.declared
    assert new is not old
    assert new.state is IncidentState.INVESTIGATING and new.declared_at == minutes(30)
    assert old.state is IncidentState.RESOLVED
    assert len(old.alerts) == 1


def test_a_recovery_after_resolution_declares_nothing() -> None:
    state = _declared(firing())
    open_incident(state).resolve("alice", minutes(3))
    out = apply(state, minutes(6), resolved())
    assert not out.declared and out.near_misses == [] and firing_pending(state) == []


@pytest.mark.parametrize("quieter", ["warning", "info"])
def test_severity_is_never_lowered_when_a_lower_impact_alert_joins(quieter: str) -> None:
    state = _declared(firing(impact="outage"))
    incident = open_incident(state)
    out = apply(state, minutes(2), firing("Minor", severity=quieter, starts=minutes(2)))
    assert (incident.impact, incident.severity) == (Impact.OUTAGE, Severity.S1)
    assert kinds(out) == ["alert_firing"]


def test_a_worse_alert_joining_raises_impact_and_severity() -> None:
    state = _declared(firing(severity="warning"))
    incident = open_incident(state)
    assert incident.severity is Severity.S3
    out = apply(state, minutes(2), firing("CheckoutDown", impact="outage", starts=minutes(2)))
    assert (incident.impact, incident.severity) == (Impact.OUTAGE, Severity.S1)
    assert kinds(out) == ["alert_firing", "impact_raised", "severity_raised"]


def test_a_human_lowered_severity_is_not_raised_by_an_equal_alert() -> None:
    state = _declared(firing(severity="critical"))
    incident = open_incident(state)
    incident.set_severity(Severity.S4, "alice", minutes(2))
    apply(state, minutes(3), firing("Another", severity="critical", starts=minutes(3)))
    assert incident.severity is Severity.S4


def firing_pending(state: GroupState) -> list[str]:
    return [fp for fp, held in state.pending.items() if held.alert.is_firing]


# --- Reordered deliveries: a recovery that overtakes its own firing ---------------------


def _events_of(*alerts: dict[str, Any]) -> list[ClassifiedAlert]:
    notification = parse_notification(json.dumps(make_payload(*alerts)).encode())
    classifier = LabelClassifier((), ClassificationSettings())
    return [ClassifiedAlert(a, classifier.classify(a)) for a in notification.alerts]


def test_late_firing_after_its_recovery_declares_nothing() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    now = T0 + timedelta(minutes=10)
    engine.apply_events(
        state, _events_of(make_alert("resolved", ends_at=T0 + timedelta(minutes=5))), now
    )
    out = engine.apply_events(state, _events_of(make_alert("firing")), now)
    assert state.incident is None
    assert not out.declared


def test_late_firing_inside_an_incident_does_not_undo_its_recovery() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    other = make_alert(labels={"alertname": "Latency"}, fingerprint="fp-latency")
    engine.apply_events(state, _events_of(other), T0)
    assert state.incident is not None
    late = make_alert(fingerprint="fp-late")
    engine.apply_events(
        state, _events_of({**late, "status": "resolved", "endsAt": "2026-11-23T03:04:00Z"}), T0
    )
    engine.apply_events(state, _events_of(late), T0)
    assert "fp-late" not in [a.fingerprint for a in state.incident.firing_alerts]


def test_stray_recovery_does_not_move_a_manual_incident_to_monitoring() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    engine.apply_events(state, _events_of(make_alert()), T0)
    assert state.incident is not None
    state.incident.alerts.clear()  # as for an incident declared by hand
    state.incident.firing_count = 0
    stray = make_alert("resolved", fingerprint="fp-stray", ends_at=T0 + timedelta(minutes=1))
    engine.apply_events(state, _events_of(stray), T0 + timedelta(minutes=2))
    assert state.incident.state is IncidentState.INVESTIGATING


def test_firing_and_recovery_in_one_batch_declare_then_monitor() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    events = _events_of(make_alert(), make_alert("resolved", ends_at=T0 + timedelta(minutes=1)))
    out = engine.apply_events(state, events, T0 + timedelta(minutes=2))
    assert out.declared and not out.near_misses
    assert state.incident is not None and state.incident.state is IncidentState.MONITORING


def test_recoveries_seen_without_firing_are_forgotten_after_a_day() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    engine.apply_events(state, _events_of(make_alert("resolved", ends_at=T0)), T0)
    assert state.pending
    engine.promote_due(state, T0 + timedelta(days=1, minutes=1))
    assert not state.pending


def test_a_hand_declared_incident_adopts_the_alerts_already_pending() -> None:
    engine = GroupEngine(DEFAULT_SEVERITY_MAP)
    state = GroupState("service=checkout")
    waiting = make_alert(labels={"severity": "info"})  # below the threshold: pending
    engine.apply_events(state, _events_of(waiting), T0)
    assert firing_pending(state) == ["fp-HighErrorRate-checkout"]
    manual = Incident(
        id=0,
        group_key="service=checkout",
        service="checkout",
        title="by hand",
        impact=Impact.DEGRADED,
        severity=Severity.S3,
        state=IncidentState.INVESTIGATING,
        declared_at=T0,
        updated_at=T0,
        source="manual",
    )
    entry = TimelineEntry(T0, "declared", "declared by alice", actor="alice")
    out = engine.adopt(state, manual, entry, T0)
    assert out.declared and out.pending_changed
    assert [a.fingerprint for a in manual.firing_alerts] == ["fp-HighErrorRate-checkout"]
    assert firing_pending(state) == []
    assert manual.title == "by hand"  # a person's title is kept
