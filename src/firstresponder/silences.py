"""Alertmanager silences that follow the incident, written to the outbox with its changes.

On acknowledgement, one silence per distinct set of identifying labels of the incident's
firing alerts (alertname, the service labels and the grouping labels the alert carries;
equality matchers), for `silence_duration`; so repeated notifications stop while someone
works on it. A deadline at half the duration extends them (and silences alerts that joined
since), again and again while the incident is open, monitoring included. Resolution expires them: the
after-incident checklist's "remove the alert silences". The heartbeat (Watchdog) is never
silenced.

Each silence is an outbox message of channel `alertmanager` (`silence_sender.py` makes
the call); all messages of one silence share a dedup key, so they are delivered in order
and each is handed the id the previous one got back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from .domain.escalation import Deadline, DeadlineKind, PageAction
from .domain.heartbeat import is_heartbeat
from .domain.incident import Incident, TimelineEntry, TrackedAlert
from .domain.matchers import Matcher
from .domain.rules import ClassificationSettings
from .domain.vocabulary import Role
from .pagers.base import PageMessage

ALERTMANAGER = "alertmanager"  # the outbox channel and the target of silence calls
CREATED_BY = "firstresponder"


class SilenceWrites(Protocol):
    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None: ...

    def schedule(self, deadlines: Sequence[Deadline]) -> None: ...

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None: ...


def silence_labels(
    alert: TrackedAlert, settings: ClassificationSettings, heartbeat: Sequence[Matcher]
) -> dict[str, str] | None:
    """The labels a silence of `alert` matches on; None for an alert never to silence."""
    if "alertname" not in alert.labels or is_heartbeat(heartbeat, alert.labels):
        return None
    names = ("alertname", *settings.service_labels, *settings.group_by)
    chosen = {name: alert.labels[name] for name in names if alert.labels.get(name)}
    if is_heartbeat(heartbeat, chosen):
        return None  # would match the heartbeat too
    return dict(sorted(chosen.items()))


def matchers_of(labels: dict[str, str]) -> list[dict[str, Any]]:
    """Alertmanager API v2 matchers: equality, not regular expressions."""
    return [
        {"name": name, "value": value, "isRegex": False, "isEqual": True}
        for name, value in labels.items()
    ]


def silence_key(incident_id: int, labels: dict[str, str]) -> str:
    digest = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    return f"silence-{incident_id}-{digest}"


class Silences:
    def __init__(
        self,
        duration: timedelta,
        settings: ClassificationSettings,
        heartbeat: Sequence[Matcher],
        public_url: str,
    ) -> None:
        self._duration = duration
        self._settings = settings
        self._heartbeat = tuple(heartbeat)
        self._public_url = public_url.rstrip("/")

    def after_change(
        self,
        uow: SilenceWrites,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None:
        if not incident.id:
            return
        kinds = {entry.kind for entry in entries}
        if "resolved" in kinds and incident.acknowledged_at is not None:
            uow.cancel_deadlines(incident.id, [DeadlineKind.SILENCE])
            self._enqueue(uow, incident, incident.alerts.values(), {"op": "expire"}, now)
        elif "acknowledged" in kinds and incident.is_open:
            who = next((e.actor for e in entries if e.kind == "acknowledged"), "someone")
            self._enqueue(
                uow, incident, incident.firing_alerts, self._call("create", incident, who), now
            )
            uow.schedule([self._next_extension(incident, now)])

    def fire(
        self, uow: SilenceWrites, incident: Incident, deadline: Deadline, now: datetime
    ) -> None:
        """Half the duration has passed: extend (or create) the open incident's silences."""
        if not incident.is_open:
            return
        who = incident.acknowledged_by or "someone"
        # Every alert of the incident, recovered ones too: they may fire again before the
        # incident is resolved, and a silence let lapse would read as expired by hand.
        self._enqueue(
            uow, incident, incident.alerts.values(), self._call("extend", incident, who), now
        )
        uow.schedule([self._next_extension(incident, now)])

    def _next_extension(self, incident: Incident, now: datetime) -> Deadline:
        return Deadline(incident.id, DeadlineKind.SILENCE, now + self._duration / 2)

    def _call(self, op: str, incident: Incident, who: str) -> dict[str, Any]:
        link = f"{self._public_url}/api/v1/incidents/{incident.id}"
        comment = (
            f"firstresponder incident {incident.id} ({incident.severity.value}): "
            f"{incident.title}; acknowledged by {who}. Expired when the incident is "
            f"resolved. {link}"
        )
        return {"op": op, "duration_s": self._duration.total_seconds(), "comment": comment}

    def _enqueue(
        self,
        uow: SilenceWrites,
        incident: Incident,
        alerts: Iterable[TrackedAlert],
        call: dict[str, Any],
        now: datetime,
    ) -> None:
        found: dict[str, dict[str, str]] = {}
        for alert in alerts:
            labels = silence_labels(alert, self._settings, self._heartbeat)
            if labels is not None:
                found.setdefault(silence_key(incident.id, labels), labels)
        messages = [
            PageMessage(
                0,
                incident.id,
                ALERTMANAGER,
                Role.EOC,
                PageAction.TRIGGER,
                key,
                {**call, "matchers": matchers_of(labels)},
            )
            for key, labels in sorted(found.items())
        ]
        if messages:
            uow.enqueue(messages, ALERTMANAGER, now)
