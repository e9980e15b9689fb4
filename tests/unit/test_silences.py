"""Which silences an acknowledgement asks for, and what their deliveries say."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from firstresponder.domain.alerts import AlertStatus
from firstresponder.domain.escalation import Deadline, DeadlineKind, PageAction
from firstresponder.domain.incident import Incident, TrackedAlert
from firstresponder.domain.matchers import parse_matcher_list
from firstresponder.domain.rules import ClassificationSettings
from firstresponder.domain.vocabulary import Impact, IncidentState, Role, Severity
from firstresponder.metrics import Metrics
from firstresponder.pagers.base import PageMessage
from firstresponder.silence_sender import SilenceTexts
from firstresponder.silences import ALERTMANAGER, Silences, silence_labels

T = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
WATCHDOG = parse_matcher_list(['alertname="Watchdog"'])
SETTINGS = ClassificationSettings()


def tracked(fp: str, labels: dict[str, str], firing: bool = True) -> TrackedAlert:
    status = AlertStatus.FIRING if firing else AlertStatus.RESOLVED
    return TrackedAlert(
        fp, labels.get("alertname", ""), status, T, None, labels, "", Impact.OUTAGE, ""
    )


def incident(*alerts: TrackedAlert) -> Incident:
    return Incident(
        7,
        "service=cart",
        "cart",
        "Cart errors",
        Impact.OUTAGE,
        Severity.S1,
        IncidentState.INVESTIGATING,
        T,
        T,
        alerts={a.fingerprint: a for a in alerts},
    )


@dataclass
class Recorder:
    messages: list[PageMessage] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    cancelled: list[DeadlineKind] = field(default_factory=list)

    def enqueue(self, messages: Any, channel: str, now: datetime) -> None:
        assert channel == ALERTMANAGER
        self.messages += messages

    def schedule(self, deadlines: Any) -> None:
        self.deadlines += deadlines

    def cancel_deadlines(self, incident_id: int, kinds: Any) -> None:
        self.cancelled += kinds


def test_labels_are_alertname_service_and_grouping_labels_never_the_watchdog() -> None:
    labels = {"alertname": "CartErrors", "service": "cart", "job": "api", "instance": "a:1"}
    assert silence_labels(tracked("a", labels), SETTINGS, WATCHDOG) == {
        "alertname": "CartErrors",
        "job": "api",
        "service": "cart",
    }
    assert silence_labels(tracked("w", {"alertname": "Watchdog"}), SETTINGS, WATCHDOG) is None
    assert silence_labels(tracked("n", {"service": "cart"}), SETTINGS, WATCHDOG) is None


def test_ack_silences_each_distinct_firing_alert_kind_once_and_resolve_expires() -> None:
    hook = Silences(timedelta(hours=2), SETTINGS, WATCHDOG, "http://fr.example/")
    cart = incident(
        tracked("a", {"alertname": "CartErrors", "service": "cart", "instance": "1"}),
        tracked("b", {"alertname": "CartErrors", "service": "cart", "instance": "2"}),
        tracked("c", {"alertname": "CartLatency", "service": "cart"}),
        tracked("d", {"alertname": "CartOld", "service": "cart"}, firing=False),
    )
    uow = Recorder()
    entries = cart.acknowledge("alice", T)
    hook.after_change(uow, cart, entries, T)
    assert [m.payload["op"] for m in uow.messages] == ["create", "create"]
    names = sorted(m.payload["matchers"][0]["value"] for m in uow.messages)
    assert names == ["CartErrors", "CartLatency"]
    first = uow.messages[0]
    assert (first.target, first.role, first.action) == (ALERTMANAGER, Role.EOC, PageAction.TRIGGER)
    assert "acknowledged by alice" in first.payload["comment"]
    assert "http://fr.example/api/v1/incidents/7" in first.payload["comment"]
    assert uow.deadlines == [Deadline(7, DeadlineKind.SILENCE, T + timedelta(hours=1))]

    resolved = Recorder()
    hook.after_change(resolved, cart, cart.resolve("alice", T), T)
    assert [m.payload["op"] for m in resolved.messages] == ["expire"] * 3
    assert resolved.cancelled == [DeadlineKind.SILENCE]


def test_an_unacknowledged_incident_resolves_without_silence_calls() -> None:
    hook = Silences(timedelta(hours=2), SETTINGS, WATCHDOG, "http://fr.example")
    cart = incident(tracked("a", {"alertname": "CartErrors", "service": "cart"}))
    uow = Recorder()
    hook.after_change(uow, cart, cart.resolve("bob", T), T)
    assert uow.messages == [] and uow.cancelled == []


def message(op: str, reference: str | None) -> PageMessage:
    payload = {"op": op, "duration_s": 3600.0, "matchers": [{"name": "alertname", "value": "X"}]}
    return PageMessage(1, 7, ALERTMANAGER, Role.EOC, PageAction.TRIGGER, "k", payload, reference)


def test_texts_say_what_happened_to_the_silence() -> None:
    texts = SilenceTexts(Metrics())

    def kind(op: str, before: str | None, after: str | None) -> str | None:
        entry = texts.delivered(message(op, before), 1, after, T)
        return entry.kind if entry else None

    assert kind("create", None, "s1") == "silence_created"
    assert kind("extend", None, "s1") == "silence_created"  # nothing to extend yet
    assert kind("extend", "s1", "s1") == "silence_extended"
    assert kind("extend", "s1", "s2") == "silence_extended"
    assert kind("extend", "s1", None) == "silence_gone"
    assert kind("expire", "s1", None) == "silence_expired"
    assert kind("expire", None, None) is None
    entry = texts.delivered(message("create", None), 1, "s1", T)
    assert entry is not None and entry.data["silence_id"] == "s1"
