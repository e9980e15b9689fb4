"""Alerts into incidents: one open incident per group, declaration, reopen, near misses.

`apply_events` is the whole ingestion decision for one group, as a pure function of the
group's stored state, the new (not yet seen) alert events and `now`.

The alerts that start firing in an incident in one application (one webhook, or the
webhooks one ingest transaction holds) are one `alert_firing` timeline entry listing
them all: it has one time and one cause, and a group of 200 alerts is one line to read,
not 200.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from .alerts import Alert, AlertStatus
from .classify import Classification
from .incident import Incident, TimelineEntry, TrackedAlert
from .vocabulary import Impact, IncidentState, Severity

# How long a recovery seen without its firing is remembered, so a late firing is stale.
RECOVERY_MEMORY = timedelta(days=1)
NAMES_SHOWN = 5  # alert names an `alert_firing` message lists; its data lists every alert


class ClassifiedAlert(NamedTuple):
    """An alert with its classification (a named tuple, like `Alert`)."""

    alert: Alert
    classification: Classification

    @property
    def event_time(self) -> datetime:
        alert = self.alert
        if alert.status is AlertStatus.RESOLVED and alert.ends_at is not None:
            return alert.ends_at
        return alert.starts_at


@dataclass
class PendingAlert:
    """Fired, in no incident yet: below the declare threshold or waiting `declare_after`."""

    alert: TrackedAlert
    service: str
    declare_at: datetime | None  # None: below threshold, never declares by itself


@dataclass(frozen=True)
class NearMiss:
    group_key: str
    service: str
    alert: TrackedAlert
    recovered_at: datetime
    reason: str


@dataclass
class GroupState:
    group_key: str
    incident: Incident | None = None
    pending: dict[str, PendingAlert] = field(default_factory=dict)


@dataclass
class Outcome:
    """What changed; the store persists it in the same transaction as the events."""

    declared: bool = False
    timeline: list[TimelineEntry] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    pending_changed: bool = False
    alerts_recovered: bool = False
    # Alerts that started firing in the incident, and where their one `alert_firing`
    # entry goes in `timeline` (a placeholder until `list_firing` writes it).
    started_firing: list[TrackedAlert] = field(default_factory=list, repr=False, compare=False)
    firing_entry_at: int = field(default=-1, repr=False, compare=False)

    @property
    def incident_changed(self) -> bool:
        return self.declared or bool(self.timeline)

    def note_firing(self, alert: TrackedAlert, now: datetime) -> None:
        if self.firing_entry_at < 0:
            self.firing_entry_at = len(self.timeline)
            self.timeline.append(TimelineEntry(now, "alert_firing", ""))
        self.started_firing.append(alert)

    def list_firing(self, now: datetime) -> Outcome:
        """Write the `alert_firing` entry; call once every event is applied."""
        if self.started_firing:
            self.timeline[self.firing_entry_at] = firing_entry(self.started_firing, now)
        return self


def _tracked(event: ClassifiedAlert) -> TrackedAlert:
    c = event.classification
    return TrackedAlert.of(event.alert, c.impact, c.reason, c.evidence)


def firing_entry(alerts: Sequence[TrackedAlert], now: datetime) -> TimelineEntry:
    """One timeline entry for alerts that started firing together.

    Its data lists every alert's fingerprint under what the alerts share (name, impact,
    reason), in the order they came: a group of 200 alerts of one rule is one item."""
    if len(alerts) == 1:
        message = f"Alert {alerts[0].name} firing: {alerts[0].summary}"
    else:
        names = Counter(a.name for a in alerts)
        shown = [f"{name} ×{n}" if n > 1 else name for name, n in names.most_common(NAMES_SHOWN)]
        more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        message = f"{len(alerts)} alerts firing: {', '.join(shown)}{more}"
    kinds: dict[tuple[str, Impact, str], list[str]] = {}
    for a in alerts:
        kind = (a.name, a.impact, a.reason)
        found = kinds.get(kind)
        if found is None:
            kinds[kind] = [a.fingerprint]
        else:
            found.append(a.fingerprint)
    listed = [
        {"name": name, "impact": impact.value, "reason": reason, "fingerprints": fingerprints}
        for (name, impact, reason), fingerprints in kinds.items()
    ]
    data = {"count": len(alerts), "alerts": listed}
    return TimelineEntry(now, "alert_firing", message, data=data)


def _is_stale(known: TrackedAlert | None, alert: Alert) -> bool:
    """An older delivery arriving after a newer one (retries and HA peers reorder)."""
    if known is None:
        return False
    if alert.starts_at != known.starts_at:
        return alert.starts_at < known.starts_at
    return known.status is AlertStatus.RESOLVED and alert.is_firing


def _title(service: str, alert: TrackedAlert) -> str:
    return f"{service}: {alert.impact.value.replace('_', ' ')} — {alert.summary}"[:200]


def _retitle(incident: Incident, alert: TrackedAlert) -> None:
    """The title names the worst evidence; a hand-declared incident keeps its own."""
    if incident.source == "alertmanager":
        incident.title = _title(incident.service, alert)


def _open(state: GroupState) -> Incident | None:
    incident = state.incident
    return incident if incident is not None and incident.is_open else None


def _event_time(event: ClassifiedAlert) -> datetime:
    return event.event_time


class GroupEngine:
    """Applies alert events to a group; holds only configuration."""

    def __init__(self, severity_map: Mapping[Impact, Severity]) -> None:
        self.severity_map = severity_map

    def apply_events(
        self, state: GroupState, events: Sequence[ClassifiedAlert], now: datetime
    ) -> Outcome:
        out = Outcome()
        incident = _open(state)  # applying an event never closes it; declaring opens one
        for event in sorted(events, key=_event_time):
            if incident is not None:
                self._into_incident(incident, event, now, out)
            else:
                self._into_pending(state, event, now, out)
                # Declare as soon as an alert is due, not at the end of the batch: a
                # recovery later in the same batch then finds the incident, not a near miss.
                self._declare_due(state, now, out)
                incident = _open(state)
        self._settle(state, now, out)
        return out.list_firing(now)

    def adopt(
        self, state: GroupState, incident: Incident, entry: TimelineEntry, now: datetime
    ) -> Outcome:
        """A person declared `incident` for this group: it takes the alerts already pending."""
        out = Outcome(declared=True, timeline=[entry])
        state.incident = incident
        self._absorb_pending(state, incident, now, out)
        return out.list_firing(now)

    def promote_due(self, state: GroupState, now: datetime) -> Outcome:
        """Declare for pending alerts whose `declare_after` has passed (the scheduler's tick)."""
        out = Outcome()
        self._settle(state, now, out)
        return out.list_firing(now)

    def _into_incident(
        self, incident: Incident, event: ClassifiedAlert, now: datetime, out: Outcome
    ) -> None:
        alert, c = event
        known = incident.alerts.get(alert.fingerprint)
        if known is not None and _is_stale(known, alert):
            return
        if alert.status is AlertStatus.FIRING:
            tracked = TrackedAlert.of(alert, c.impact, c.reason, c.evidence)
            incident.track(tracked)
            if (
                known is None
                or known.status is AlertStatus.RESOLVED
                or known.starts_at != alert.starts_at
            ):
                out.note_firing(tracked, now)
            if incident.state is IncidentState.MONITORING:
                out.timeline += incident.set_state(
                    IncidentState.INVESTIGATING,
                    "firstresponder",
                    now,
                    f"reopened, {alert.name} fired again",
                )
            if c.impact is not incident.impact:  # the usual case, an equal impact, raises nothing
                raised = incident.raise_impact(
                    c.impact, self.severity_map, now, c.reason, c.evidence
                )
                if raised:
                    _retitle(incident, tracked)
                out.timeline += raised
        elif known is not None and known.status is AlertStatus.FIRING:
            incident.track(_tracked(event))
            out.alerts_recovered = True
            out.timeline.append(
                TimelineEntry(
                    now,
                    "alert_resolved",
                    f"Alert {alert.name} recovered",
                    data={"fingerprint": alert.fingerprint},
                )
            )
        elif known is None:
            # Remember a recovery that overtook its firing (HA peers and retries reorder),
            # so the late firing is recognised as stale instead of reopening anything.
            incident.track(_tracked(event))

    def _into_pending(
        self, state: GroupState, event: ClassifiedAlert, now: datetime, out: Outcome
    ) -> None:
        alert, c = event.alert, event.classification
        held = state.pending.get(alert.fingerprint)
        if _is_stale(held.alert if held else None, alert):
            return
        if alert.is_firing:
            declares = c.impact >= c.declare_threshold and c.impact is not Impact.OPERATIONAL
            # A startsAt ahead of our clock (skew) must not postpone the declaration.
            due = min(alert.starts_at, now) + c.declare_after if declares else None
            state.pending[alert.fingerprint] = PendingAlert(_tracked(event), c.service, due)
            out.pending_changed = True
        elif held is not None and held.alert.is_firing and held.alert.starts_at == alert.starts_at:
            state.pending[alert.fingerprint] = PendingAlert(_tracked(event), c.service, None)
            out.pending_changed = True
            reason = (
                "recovered before declaration"
                if held.declare_at is not None
                else f"below the declare threshold ({c.declare_threshold.value})"
            )
            recovered = alert.ends_at or now
            out.near_misses.append(
                NearMiss(state.group_key, c.service, _tracked(event), recovered, reason)
            )
        else:
            # A recovery we never saw fire: keep it as a tombstone so a late firing is stale.
            state.pending[alert.fingerprint] = PendingAlert(_tracked(event), c.service, None)
            out.pending_changed = True

    def _settle(self, state: GroupState, now: datetime, out: Outcome) -> None:
        incident = state.incident
        if incident is not None and incident.is_open:
            self._absorb_pending(state, incident, now, out)
            self._maybe_monitoring(incident, now, out)
            return
        self._declare_due(state, now, out)
        self._forget_old_recoveries(state, now, out)

    def _declare_due(self, state: GroupState, now: datetime, out: Outcome) -> None:
        if state.incident is not None and state.incident.is_open:
            return
        due = [
            p
            for p in state.pending.values()
            if p.alert.is_firing and p.declare_at is not None and p.declare_at <= now
        ]
        if due:
            self._declare(state, due, now, out)

    def _forget_old_recoveries(self, state: GroupState, now: datetime, out: Outcome) -> None:
        for fingerprint, held in list(state.pending.items()):
            ended = held.alert.ends_at or held.alert.starts_at
            if not held.alert.is_firing and now - ended > RECOVERY_MEMORY:
                del state.pending[fingerprint]
                out.pending_changed = True

    def _absorb_pending(
        self, state: GroupState, incident: Incident, now: datetime, out: Outcome
    ) -> None:
        for fingerprint, held in list(state.pending.items()):
            incident.track(held.alert)
            if held.alert.is_firing:
                raised = incident.raise_impact(
                    held.alert.impact,
                    self.severity_map,
                    now,
                    held.alert.reason,
                    held.alert.evidence,
                )
                if raised:
                    _retitle(incident, held.alert)
                out.timeline += raised
            del state.pending[fingerprint]
            out.pending_changed = True

    def _maybe_monitoring(self, incident: Incident, now: datetime, out: Outcome) -> None:
        if (
            out.alerts_recovered
            and incident.firing_count == 0
            and incident.state in (IncidentState.INVESTIGATING, IncidentState.IDENTIFIED)
        ):
            out.timeline += incident.set_state(
                IncidentState.MONITORING, "firstresponder", now, "all alerts recovered"
            )

    def _declare(
        self, state: GroupState, due: list[PendingAlert], now: datetime, out: Outcome
    ) -> None:
        lead = max(due, key=lambda p: (p.alert.impact.rank, -p.alert.starts_at.timestamp()))
        first, service = lead.alert, lead.service
        incident = Incident(
            id=0,
            group_key=state.group_key,
            service=service,
            title=_title(service, first),
            impact=first.impact,
            severity=self.severity_map[first.impact],
            state=IncidentState.INVESTIGATING,
            declared_at=now,
            updated_at=now,
            classification={
                "impact": first.impact.value,
                "reason": first.reason,
                "evidence": [dict(e) for e in first.evidence],
            },
        )
        out.declared = True
        out.timeline.append(
            TimelineEntry(
                now,
                "declared",
                f"Incident declared: {first.impact.value} ({incident.severity.value}) from {first.name}: {first.reason}",
                data={
                    "impact": first.impact.value,
                    "severity": incident.severity.value,
                    "alert": first.name,
                    "reason": first.reason,
                    "alert_started_at": first.starts_at.isoformat(),
                    "evidence": [dict(e) for e in first.evidence],
                },
            )
        )
        state.incident = incident
        self._absorb_pending(state, incident, now, out)
        for tracked in incident.firing_alerts:
            out.note_firing(tracked, now)
