"""Who is paged, when, and what happens when nobody answers: the escalation policy.

From the handbooks: a page must be acknowledged within 15 minutes or the IMOC is paged;
an incident still investigating 30 minutes after the EOC engaged goes to the IMOC; S1 and
S2 engage the IMOC at once; serious incidents (S1) engage the CMOC. Deadlines are data
(`Deadline`) so the store can keep them and a scheduler on any replica can fire them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .incident import Incident, TimelineEntry
from .vocabulary import IncidentState, Role, Severity


class DeadlineKind(enum.Enum):
    ACK = "ack_timeout"
    INVESTIGATING = "investigating_timeout"
    # Communication timers (Slack), stored and fired the same way; never escalate.
    STATUS_UPDATE = "status_update"
    HANDOFF = "handoff"
    # Extend the incident's Alertmanager silences before they end (silences.py).
    SILENCE = "silence_extend"

    @property
    def escalates(self) -> bool:
        return self in (DeadlineKind.ACK, DeadlineKind.INVESTIGATING)


class PageAction(enum.Enum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class SeverityPolicy:
    """What one severity does: who is paged at once, and the timeouts before escalating."""

    page_on_declare: tuple[Role, ...]
    escalate_to: tuple[Role, ...] = (Role.IMOC,)
    ack_timeout: timedelta = timedelta(minutes=15)
    investigating_timeout: timedelta = timedelta(minutes=30)
    repeats: int = 0  # how many times an unacknowledged escalation page is sent again


DEFAULT_POLICIES: Mapping[Severity, SeverityPolicy] = {
    Severity.S1: SeverityPolicy((Role.EOC, Role.IMOC, Role.CMOC)),
    Severity.S2: SeverityPolicy((Role.EOC, Role.IMOC)),
    Severity.S3: SeverityPolicy((Role.EOC,)),
    Severity.S4: SeverityPolicy(()),
}


@dataclass(frozen=True)
class EscalationPolicy:
    by_severity: Mapping[Severity, SeverityPolicy] = field(
        default_factory=lambda: dict(DEFAULT_POLICIES)
    )
    by_service: Mapping[str, Mapping[Severity, SeverityPolicy]] = field(default_factory=dict)

    def for_incident(self, incident: Incident) -> SeverityPolicy:
        service = self.by_service.get(incident.service, {})
        # A config that names only some severities keeps the handbook defaults for the rest.
        return (
            service.get(incident.severity)
            or self.by_severity.get(incident.severity)
            or DEFAULT_POLICIES[incident.severity]
        )


@dataclass(frozen=True)
class Page:
    """One message to a role's pager; `dedup_key` keeps retries to one vendor incident.

    A repeated escalation page (`repeat` > 0) gets its own key: a vendor folds a trigger
    with a known key into the open incident silently, and a repeat must ring again.
    Acknowledge and resolve go to every key the role was triggered with (the store knows).
    """

    incident_id: int
    role: Role
    action: PageAction
    reason: str
    repeat: int = 0

    @property
    def dedup_key(self) -> str:
        key = f"firstresponder-{self.incident_id}-{self.role.value}"
        return f"{key}-r{self.repeat}" if self.repeat else key


@dataclass(frozen=True)
class Deadline:
    incident_id: int
    kind: DeadlineKind
    due_at: datetime
    repeat: int = 0


@dataclass
class Plan:
    """What the policy wants done; the store writes it in the same transaction."""

    pages: list[Page] = field(default_factory=list)
    schedule: list[Deadline] = field(default_factory=list)
    cancel: list[DeadlineKind] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


def on_declared(incident: Incident, policy: EscalationPolicy, now: datetime) -> Plan:
    rules = policy.for_incident(incident)
    plan = Plan()
    for role in rules.page_on_declare:
        plan.pages.append(
            Page(incident.id, role, PageAction.TRIGGER, f"{incident.severity.value} declared")
        )
    if rules.page_on_declare and incident.acknowledged_at is None:
        plan.schedule.append(Deadline(incident.id, DeadlineKind.ACK, now + rules.ack_timeout))
    return plan


def on_severity_raised(
    incident: Incident,
    before: Severity,
    policy: EscalationPolicy,
    already_paged: set[Role],
    now: datetime,
) -> Plan:
    """A worse severity pages the roles the new severity engages that were not paged yet."""
    rules = policy.for_incident(incident)
    plan = Plan()
    for role in rules.page_on_declare:
        if role not in already_paged:
            plan.pages.append(
                Page(
                    incident.id,
                    role,
                    PageAction.TRIGGER,
                    f"severity raised {before.value} → {incident.severity.value}",
                )
            )
    if plan.pages and incident.acknowledged_at is None and not already_paged:
        plan.schedule.append(Deadline(incident.id, DeadlineKind.ACK, now + rules.ack_timeout))
    return plan


def on_acknowledged(
    incident: Incident, policy: EscalationPolicy, paged: set[Role], now: datetime
) -> Plan:
    rules = policy.for_incident(incident)
    plan = Plan(cancel=[DeadlineKind.ACK])
    plan.pages += [
        Page(incident.id, role, PageAction.ACKNOWLEDGE, "acknowledged")
        for role in sorted(paged, key=lambda r: r.value)
    ]
    if incident.state is IncidentState.INVESTIGATING:
        plan.schedule.append(
            Deadline(incident.id, DeadlineKind.INVESTIGATING, now + rules.investigating_timeout)
        )
    return plan


def on_state_changed(incident: Incident, paged: set[Role]) -> Plan:
    if incident.state is IncidentState.RESOLVED:
        return Plan(
            pages=[
                Page(incident.id, role, PageAction.RESOLVE, "resolved")
                for role in sorted(paged, key=lambda r: r.value)
            ],
            cancel=[DeadlineKind.ACK, DeadlineKind.INVESTIGATING],
        )
    if incident.state is not IncidentState.INVESTIGATING:
        return Plan(cancel=[DeadlineKind.INVESTIGATING])
    return Plan()


def on_deadline(
    incident: Incident,
    deadline: Deadline,
    policy: EscalationPolicy,
    paged: set[Role],
    now: datetime,
) -> Plan:
    """Fire a due deadline if it still applies; escalate to the next level."""
    rules = policy.for_incident(incident)
    if not incident.is_open:
        return Plan()
    if deadline.kind is DeadlineKind.ACK and incident.acknowledged_at is not None:
        return Plan()
    if (
        deadline.kind is DeadlineKind.INVESTIGATING
        and incident.state is not IncidentState.INVESTIGATING
    ):
        return Plan()
    if deadline.kind is DeadlineKind.ACK:
        why = f"not acknowledged within {_minutes(rules.ack_timeout)}"
    else:
        why = f"still investigating {_minutes(rules.investigating_timeout)} after the EOC engaged"
    plan = Plan()
    # A role already paged or already held by someone is engaged: escalating to it again
    # would page nobody new, so it is not an escalation (a repeat rings again on purpose).
    engaged = paged | set(incident.roles)
    targets = [r for r in rules.escalate_to if r not in engaged or deadline.repeat > 0]
    for role in targets:
        plan.pages.append(
            Page(incident.id, role, PageAction.TRIGGER, f"escalated: {why}", deadline.repeat)
        )
    data = {
        "reason": deadline.kind.value,
        "to": [r.value for r in rules.escalate_to],
        "due_at": deadline.due_at.isoformat(),
        "lag_seconds": max(0.0, (now - deadline.due_at).total_seconds()),
    }
    names = ", ".join(r.value.upper() for r in rules.escalate_to)
    if targets:
        entry = TimelineEntry(now, "escalated", f"Escalated to {names}: {why}", data=data)
        plan.timeline.append(entry)
    elif rules.escalate_to:
        said = f"{why[0].upper()}{why[1:]}; {names} already engaged, nobody new to page"
        plan.timeline.append(TimelineEntry(now, "escalation_skipped", said, data=data))
    if deadline.kind is DeadlineKind.ACK and deadline.repeat < rules.repeats:
        plan.schedule.append(
            Deadline(incident.id, DeadlineKind.ACK, now + rules.ack_timeout, deadline.repeat + 1)
        )
    return plan


def _minutes(value: timedelta) -> str:
    minutes = value.total_seconds() / 60
    return f"{minutes:g} minutes" if minutes >= 1 else f"{value.total_seconds():g} seconds"
