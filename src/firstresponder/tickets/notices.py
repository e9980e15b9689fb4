"""Turn incident changes into tracker calls, inside the change's transaction.

Every call is an outbox message of channel `ticket` (the `tickets/sender.py` pager makes
it), written with the change that caused it: nothing is said about a change that did not
commit, and nothing is lost while the tracker is down. All messages of one incident share
one dedup key, so they are delivered in order, one at a time: the ticket exists before it
is commented on, and the first message's reference (the ticket's key) reaches the others.

On declaration: open the ticket (title, severity, impact, evidence, links), then assign
it to the owner. Later: each change that matters as a comment; the labels follow severity
and state; the assignees follow the owner (the owner first, then the IMOC, who co-assigns
themselves); the review draft on recovery (monitoring) and on resolution; then close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..config_tickets import TicketConfig
from ..domain.escalation import PageAction
from ..domain.incident import Incident, TimelineEntry
from ..domain.vocabulary import IncidentState, Role
from ..pagers.base import PageMessage
from ..paging import graph_link
from . import content
from .base import TICKET

# The changes a comment reports (the ticket's own creation is not one of them).
COMMENTED = frozenset(
    {
        "impact_raised",
        "severity_raised",
        "severity_set",
        "acknowledged",
        "role_assigned",
        "ownership_passed",
        "state_changed",
        "resolved",
        "note",
    }
)
_SEVERITY = frozenset({"severity_raised", "severity_set"})
_ROLES = frozenset({"role_assigned", "ownership_passed", "declared"})


class TicketWrites(Protocol):
    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None: ...


def dedup_key(incident_id: int) -> str:
    return f"ticket-{incident_id}"


class TicketNotices:
    def __init__(
        self,
        config: TicketConfig,
        public_url: str,
        prometheus_url: str = "",
    ) -> None:
        self._config = config
        self._public_url = public_url.rstrip("/")
        self._prometheus_url = prometheus_url.rstrip("/")

    def after_change(
        self,
        uow: TicketWrites,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None:
        if not incident.id or not entries:
            return
        kinds = {entry.kind for entry in entries}
        calls: list[dict[str, Any]] = []
        if "declared" in kinds:
            calls.append(self._create(incident))
        for entry in entries:
            if entry.kind in COMMENTED:
                calls.append({"op": "comment", "text": _said(entry)})
            calls += self._relabel(entry)
        if kinds & _ROLES:
            calls += self._assign(incident)
        calls += self._review(incident, entries)
        if "resolved" in kinds:
            calls.append({"op": "close"})
        self.enqueue(uow, incident.id, calls, now)

    def delivery_entry(
        self, uow: TicketWrites, incident_id: int, entry: TimelineEntry, now: datetime
    ) -> None:
        """The Slack channel was created (its id is known only then): link it."""
        if entry.kind != "slack_channel_created":
            return
        name, channel_id = entry.data.get("name"), entry.data.get("channel_id")
        link = f"https://slack.com/app_redirect?channel={channel_id}"
        text = f"Slack channel #{name}: {link}"
        self.enqueue(uow, incident_id, [{"op": "comment", "text": text}], now)

    def _create(self, incident: Incident) -> dict[str, Any]:
        ticket = content.opening(incident, self._config, self._links(incident))
        return {
            "op": "create",
            "title": ticket.title,
            "lines": list(ticket.lines),
            "links": [{"text": link.text, "href": link.href} for link in ticket.links],
            "labels": list(ticket.labels),
        }

    def _links(self, incident: Incident) -> dict[str, str]:
        api = f"{self._public_url}/api/v1/incidents/{incident.id}"
        graph = graph_link(incident.classification, self._prometheus_url) or next(
            (a.generator_url for a in incident.firing_alerts if a.generator_url), ""
        )
        return {
            "Incident (API)": api,
            "Timeline": f"{api}/timeline",
            "Prometheus graph": graph,
            "Post-incident review draft": f"{api}/postmortem",
        }

    def _relabel(self, entry: TimelineEntry) -> list[dict[str, Any]]:
        before, after = entry.data.get("from"), entry.data.get("to")
        tag: Callable[[str], str]
        if entry.kind in _SEVERITY and before and after:
            tag = self._config.severity_tag
        elif entry.kind == "state_changed" and before and after:
            tag = self._config.state_tag
        elif entry.kind == "resolved" and before:
            tag, after = self._config.state_tag, IncidentState.RESOLVED.value
        else:
            return []
        return [{"op": "relabel", "add": [tag(str(after))], "remove": [tag(str(before))]}]

    def _assign(self, incident: Incident) -> list[dict[str, Any]]:
        """The owner first, then the IMOC (who co-assigns themselves where the tracker
        takes several assignees); people without a tracker user are left out."""
        people = [incident.roles.get(incident.owner_role, ""), incident.roles.get(Role.IMOC, "")]
        users = [self._config.user_for(person) for person in people if person]
        users = list(dict.fromkeys(user for user in users if user))
        return [{"op": "assign", "users": users}] if users else []

    def _review(self, incident: Incident, entries: Sequence[TimelineEntry]) -> list[dict[str, Any]]:
        recovered = any(
            e.kind == "state_changed" and e.data.get("to") == IncidentState.MONITORING.value
            for e in entries
        )
        if "resolved" in {e.kind for e in entries}:
            stage = "resolved"
        elif recovered:
            stage = "recovered"
        else:
            return []
        url = f"{self._public_url}/api/v1/incidents/{incident.id}/postmortem"
        return [{"op": "review", "stage": stage, "url": url}]

    def enqueue(
        self, uow: TicketWrites, incident_id: int, calls: list[dict[str, Any]], now: datetime
    ) -> None:
        """Ticket rows reuse the outbox's columns as Slack's do: the role is the
        communications role and the action "trigger"; the operation is in the payload."""
        if not calls:
            return
        key = dedup_key(incident_id)
        uow.enqueue(
            [
                PageMessage(0, incident_id, TICKET, Role.CMOC, PageAction.TRIGGER, key, call)
                for call in calls
            ],
            TICKET,
            now,
        )


def _said(entry: TimelineEntry) -> str:
    who = "" if entry.actor == "firstresponder" else f" (by {entry.actor})"
    return f"{entry.message}{who} — {entry.at.isoformat()}"
