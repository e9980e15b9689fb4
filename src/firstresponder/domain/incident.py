"""The incident aggregate: its state machine, roles, severity and timeline entries.

Every method takes `now` and returns the timeline entries it caused; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .alerts import Alert, AlertStatus
from .vocabulary import OWNERSHIP_ORDER, Impact, IncidentState, Role, Severity


class TransitionError(ValueError):
    """A change the incident's current state does not allow; the message says why."""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    message: str
    actor: str = "firstresponder"
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TrackedAlert:
    """The latest known state of one alert (by fingerprint) inside a group."""

    fingerprint: str
    name: str
    status: AlertStatus
    starts_at: datetime
    ends_at: datetime | None
    labels: Mapping[str, str]
    summary: str
    impact: Impact
    reason: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    runbook_url: str = ""
    generator_url: str = ""

    @classmethod
    def of(
        cls,
        alert: Alert,
        impact: Impact,
        reason: str,
        evidence: Iterable[Mapping[str, Any]] = (),
    ) -> TrackedAlert:
        """An alert event as its incident tracks it, with the event's classification."""
        annotations = alert.annotations
        return cls(
            alert.fingerprint,
            alert.name,
            alert.status,
            alert.starts_at,
            alert.ends_at,
            alert.labels,  # shared with the alert, which nothing changes
            alert.summary,
            impact,
            reason,
            tuple(evidence),
            annotations.get("runbook_url", "") or annotations.get("runbook", ""),
            alert.generator_url,
        )

    @property
    def is_firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "name": self.name,
            "status": self.status.value,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "labels": dict(self.labels),
            "summary": self.summary,
            "impact": self.impact.value,
            "reason": self.reason,
            "evidence": [dict(e) for e in self.evidence],
            "runbook_url": self.runbook_url,
            "generator_url": self.generator_url,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrackedAlert:
        ends = raw.get("ends_at")
        return cls(
            fingerprint=raw["fingerprint"],
            name=raw["name"],
            status=AlertStatus(raw["status"]),
            starts_at=datetime.fromisoformat(raw["starts_at"]),
            ends_at=datetime.fromisoformat(ends) if ends else None,
            labels=dict(raw["labels"]),
            summary=raw["summary"],
            impact=Impact(raw["impact"]),
            reason=raw["reason"],
            evidence=tuple(raw.get("evidence", ())),
            runbook_url=raw.get("runbook_url", ""),
            generator_url=raw.get("generator_url", ""),
        )


@dataclass
class Incident:
    id: int
    group_key: str
    service: str
    title: str
    impact: Impact
    severity: Severity
    state: IncidentState
    declared_at: datetime
    updated_at: datetime
    source: str = "alertmanager"
    description: str = ""
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    roles: dict[Role, str] = field(default_factory=dict)
    # The alerts loaded for this change (the store loads only those a batch touches);
    # `firing_count` counts every firing alert of the incident, loaded or not.
    alerts: dict[str, TrackedAlert] = field(default_factory=dict)
    classification: dict[str, Any] = field(default_factory=dict)
    firing_count: int = -1
    changed_alerts: set[str] = field(default_factory=set, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.firing_count < 0:
            self.firing_count = sum(1 for a in self.alerts.values() if a.is_firing)

    def track(self, alert: TrackedAlert) -> None:
        """Record the latest state of one alert, keeping the firing count true."""
        before = self.alerts.get(alert.fingerprint)
        self.firing_count += int(alert.is_firing) - int(before is not None and before.is_firing)
        self.alerts[alert.fingerprint] = alert
        self.changed_alerts.add(alert.fingerprint)

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def owner_role(self) -> Role:
        for role in OWNERSHIP_ORDER:
            if role in self.roles:
                return role
        return Role.EOC

    @property
    def firing_alerts(self) -> list[TrackedAlert]:
        return [a for a in self.alerts.values() if a.status is AlertStatus.FIRING]

    def _touch(self, now: datetime) -> None:
        self.updated_at = max(self.updated_at, now)

    def _require_open(self, action: str) -> None:
        if not self.is_open:
            raise TransitionError(f"incident {self.id} is resolved; cannot {action}")

    def raise_impact(
        self,
        impact: Impact,
        severity_map: Mapping[Impact, Severity],
        now: datetime,
        cause: str,
        evidence: tuple[Mapping[str, Any], ...] = (),
    ) -> list[TimelineEntry]:
        """Raise impact (and severity with it) when the evidence is worse; never lower."""
        if impact <= self.impact:
            return []
        entries = [
            TimelineEntry(
                now,
                "impact_raised",
                f"Impact raised {self.impact.value} → {impact.value}: {cause}",
                data={
                    "from": self.impact.value,
                    "to": impact.value,
                    "evidence": [dict(e) for e in evidence],
                },
            )
        ]
        self.impact = impact
        self.classification = {
            "impact": impact.value,
            "reason": cause,
            "evidence": [dict(e) for e in evidence],
        }
        target = severity_map[impact]
        if target.is_worse_than(self.severity):
            entries.append(
                TimelineEntry(
                    now,
                    "severity_raised",
                    f"Severity raised {self.severity.value} → {target.value}",
                    data={"from": self.severity.value, "to": target.value},
                )
            )
            self.severity = target
        self._touch(now)
        return entries

    def set_severity(self, severity: Severity, actor: str, now: datetime) -> list[TimelineEntry]:
        """A human may set any severity, lower included."""
        self._require_open("change severity")
        if severity is self.severity:
            return []
        entry = TimelineEntry(
            now,
            "severity_set",
            f"Severity set {self.severity.value} → {severity.value} by {actor}",
            actor=actor,
            data={"from": self.severity.value, "to": severity.value},
        )
        self.severity = severity
        self._touch(now)
        return [entry]

    def acknowledge(self, actor: str, now: datetime) -> list[TimelineEntry]:
        self._require_open("acknowledge")
        if self.acknowledged_at is not None:
            return []
        self.acknowledged_at = now
        self.acknowledged_by = actor
        entries = [TimelineEntry(now, "acknowledged", f"Acknowledged by {actor}", actor=actor)]
        if Role.EOC not in self.roles:
            entries += self.assign_role(Role.EOC, actor, actor, now)
        self._touch(now)
        return entries

    def assign_role(
        self, role: Role, person: str, actor: str, now: datetime
    ) -> list[TimelineEntry]:
        self._require_open("assign roles")
        if self.roles.get(role) == person:
            return []
        before_owner, before_person = self.owner_role, self.roles.get(self.owner_role)
        previous = self.roles.get(role)
        self.roles[role] = person
        verb = f"replaces {previous} as" if previous else "is"
        entries = [
            TimelineEntry(
                now,
                "role_assigned",
                f"{person} {verb} {role.title} ({role.value.upper()})",
                actor=actor,
                data={"role": role.value, "person": person, "previous": previous},
            )
        ]
        if self.owner_role is not before_owner:
            who = f" ({before_person})" if before_person else ""
            entries.append(
                TimelineEntry(
                    now,
                    "ownership_passed",
                    f"Ownership passed from {before_owner.value.upper()}{who} to "
                    f"{self.owner_role.value.upper()} ({person})",
                    actor=actor,
                    data={"from": before_owner.value, "to": self.owner_role.value},
                )
            )
        self._touch(now)
        return entries

    def set_state(
        self, state: IncidentState, actor: str, now: datetime, cause: str = ""
    ) -> list[TimelineEntry]:
        if state is IncidentState.RESOLVED:
            return self.resolve(actor, now, cause)
        self._require_open("change state")
        if state is self.state:
            return []
        suffix = f": {cause}" if cause else ""
        entry = TimelineEntry(
            now,
            "state_changed",
            f"State {self.state.value} → {state.value}{suffix}",
            actor=actor,
            data={"from": self.state.value, "to": state.value},
        )
        self.state = state
        self._touch(now)
        return [entry]

    def resolve(self, actor: str, now: datetime, cause: str = "") -> list[TimelineEntry]:
        self._require_open("resolve")
        suffix = f": {cause}" if cause else ""
        entry = TimelineEntry(
            now,
            "resolved",
            f"Resolved by {actor}{suffix}",
            actor=actor,
            data={"from": self.state.value},
        )
        self.state = IncidentState.RESOLVED
        self.resolved_at = now
        self._touch(now)
        return [entry]

    def add_note(self, text: str, actor: str, now: datetime) -> list[TimelineEntry]:
        self._touch(now)
        return [TimelineEntry(now, "note", text, actor=actor)]
