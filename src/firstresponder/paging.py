"""Turn incident changes into pages and escalation deadlines, inside the change's transaction.

The policy (`domain.escalation`) decides who is paged and when; this module reads what a
change did from its timeline entries, asks the policy, and writes the pages to the outbox
and the deadlines to the store through the caller's unit of work, so a change and its
pages commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from .domain.escalation import (
    Deadline,
    DeadlineKind,
    EscalationPolicy,
    Page,
    PageAction,
    Plan,
    on_acknowledged,
    on_deadline,
    on_declared,
    on_severity_raised,
    on_state_changed,
)
from .domain.incident import Incident, TimelineEntry
from .domain.vocabulary import Role, Severity
from .pagers.base import PageMessage

PAGER = "pager"  # the outbox channel of pages
ALERTS_IN_PAGE = 10
_STATE_KINDS = frozenset({"state_changed", "resolved"})
_SEVERITY_KINDS = frozenset({"severity_raised", "severity_set"})


class PagingWrites(Protocol):
    """What paging needs from a unit of work (sync: it runs inside the transaction)."""

    def pager_keys(self, incident_id: int) -> dict[Role, list[tuple[str, str]]]:
        """(target, dedup_key) of every trigger enqueued for the incident, by role."""

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None: ...

    def schedule(self, deadlines: Sequence[Deadline]) -> None:
        """Create or replace the incident's deadline of each kind."""

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None: ...


class Paging:
    def __init__(
        self,
        policy: EscalationPolicy,
        targets: Mapping[Role, tuple[str, ...]],
        public_url: str,
        prometheus_url: str = "",
    ) -> None:
        self.policy = policy
        self._targets = targets
        self._public_url = public_url.rstrip("/")
        self._prometheus_url = prometheus_url.rstrip("/")

    def after_change(
        self,
        uow: PagingWrites,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None:
        """Page and schedule for what `entries` say happened to `incident`."""
        relevant = [e for e in entries if _matters(e)]
        if not relevant:
            return
        known = uow.pager_keys(incident.id) if incident.id else {}
        plans = self._plans(incident, relevant, set(known), now)
        self._write(uow, incident, plans, known, now)

    def fire(
        self, uow: PagingWrites, incident: Incident, deadline: Deadline, now: datetime
    ) -> list[TimelineEntry]:
        """A due deadline: escalate if it still applies; returns the timeline entries."""
        known = uow.pager_keys(incident.id)
        plan = on_deadline(incident, deadline, self.policy, set(known), now)
        self._write(uow, incident, [plan], known, now)
        return plan.timeline

    def _plans(
        self,
        incident: Incident,
        relevant: Sequence[TimelineEntry],
        paged: set[Role],
        now: datetime,
    ) -> list[Plan]:
        plans = []
        for entry in relevant:
            if entry.kind == "declared":
                plan = on_declared(incident, self.policy, now)
            elif entry.kind in _SEVERITY_KINDS:
                before = Severity.parse(str(entry.data["from"]))
                plan = on_severity_raised(incident, before, self.policy, paged, now)
            elif entry.kind == "acknowledged":
                plan = on_acknowledged(incident, self.policy, paged, now)
            else:
                plan = on_state_changed(incident, paged)
            paged |= {p.role for p in plan.pages if p.action is PageAction.TRIGGER}
            plans.append(plan)
        return plans

    def _write(
        self,
        uow: PagingWrites,
        incident: Incident,
        plans: Sequence[Plan],
        known: dict[Role, list[tuple[str, str]]],
        now: datetime,
    ) -> None:
        """Plans in order: each cancels, then schedules; pages reach every triggered key.

        `known` is the store's triggered keys; triggers planned here are added to it.
        """
        messages: list[PageMessage] = []
        for plan in plans:
            if plan.cancel:
                uow.cancel_deadlines(incident.id, plan.cancel)
            if plan.schedule:
                uow.schedule(plan.schedule)
            for page in plan.pages:
                messages += self._messages(incident, page, known, now)
        if messages:
            uow.enqueue(messages, PAGER, now)

    def _messages(
        self,
        incident: Incident,
        page: Page,
        known: dict[Role, list[tuple[str, str]]],
        now: datetime,
    ) -> list[PageMessage]:
        if page.action is PageAction.TRIGGER:
            keys = [(target, page.dedup_key) for target in self._targets.get(page.role, ())]
            triggered = known.setdefault(page.role, [])
            triggered += [k for k in keys if k not in triggered]
        else:
            keys = list(known.get(page.role, ()))
        payload = page_payload(incident, page, now, self._public_url, self._prometheus_url)
        return [
            PageMessage(0, incident.id, target, page.role, page.action, key, payload)
            for target, key in keys
        ]


def _matters(entry: TimelineEntry) -> bool:
    if entry.kind in ("declared", "acknowledged") or entry.kind in _STATE_KINDS:
        return True
    if entry.kind in _SEVERITY_KINDS:
        before = Severity.parse(str(entry.data.get("from", "S4")))
        after = Severity.parse(str(entry.data.get("to", "S4")))
        return after.is_worse_than(before)
    return False


def page_payload(
    incident: Incident, page: Page, now: datetime, public_url: str, prometheus_url: str = ""
) -> dict[str, Any]:
    """The snapshot a pager sends: what is wrong, how bad, why paged, and where to look."""
    firing = sorted(incident.firing_alerts, key=lambda a: a.starts_at)[:ALERTS_IN_PAGE]
    incident_url = f"{public_url}/api/v1/incidents/{incident.id}"
    links = [{"href": incident_url, "text": f"Incident {incident.id} (firstresponder)"}]
    runbook = next((a.runbook_url for a in firing if a.runbook_url), "")
    if runbook:
        links.append({"href": runbook, "text": "Runbook"})
    graph = graph_link(incident.classification, prometheus_url) or next(
        (a.generator_url for a in firing if a.generator_url), ""
    )
    if graph:
        links.append({"href": graph, "text": "Prometheus graph"})
    severity = incident.severity.value
    return {
        "summary": f"[{severity}] {incident.title}"[:1024],
        "severity": severity,
        "impact": incident.impact.value,
        "service": incident.service,
        "title": incident.title,
        "state": incident.state.value,
        "reason": page.reason,
        "incident_url": incident_url,
        "links": links,
        "timestamp": now.isoformat(),
        "details": {
            "incident_id": incident.id,
            "role": page.role.value,
            "declared_at": incident.declared_at.isoformat(),
            "classification": dict(incident.classification),
            "roles": {role.value: person for role, person in incident.roles.items()},
            "firing_alerts": [
                {"name": a.name, "summary": a.summary, "since": a.starts_at.isoformat()}
                for a in firing
            ],
            "firing_count": incident.firing_count,
        },
    }


def graph_link(classification: Mapping[str, Any], prometheus_url: str) -> str:
    """Prometheus's graph of the query that decided the impact, when there was one."""
    if not prometheus_url:
        return ""
    for item in classification.get("evidence", ()):
        query = item.get("query") if isinstance(item, Mapping) else None
        if query:
            return f"{prometheus_url}/graph?g0.expr={quote(str(query))}&g0.tab=0"
    return ""
