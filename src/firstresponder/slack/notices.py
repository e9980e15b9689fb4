"""Turn incident changes into Slack calls and communication timers, inside the change's
transaction.

Every Slack call is an outbox message of channel `slack` (the `slack/sender.py` pager
makes it), written with the change that caused it, so nothing is said about a change that
did not commit and nothing is lost when Slack is down. All messages of one incident share
one dedup key, so they are delivered in order, one at a time: the channel exists before
anything is posted in it.

On declaration: create the channel, set its topic and purpose, invite the responders and
the known on-call people, post the incident's card (with the Acknowledge button) in it,
announce it in every announcement channel, and start the status-update and shift-handoff
timers. Later: one post per change that matters, the topic kept current, people given a
role invited, and on resolution the after-incident checklist.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..config_slack import SlackConfig
from ..domain.escalation import Deadline, DeadlineKind, PageAction
from ..domain.incident import Incident, TimelineEntry
from ..domain.vocabulary import Role
from ..pagers.base import PageMessage
from ..paging import graph_link
from ..postmortem import review_due_date
from . import messages, reminders
from .blocks import SlackMessage
from .rules import channel_name

SLACK = "slack"  # the outbox channel and the pager target of Slack calls
CHANNEL_PLACEHOLDER = "__FIRSTRESPONDER_CHANNEL__"  # the channel id, filled in when sent
STATUS_UPDATE_KINDS = ("note",)  # what counts as a status update having been given
_TOPIC_KINDS = frozenset(
    {
        "severity_raised",
        "severity_set",
        "impact_raised",
        "state_changed",
        "role_assigned",
        "ownership_passed",
    }
)
_SEVERITY_KINDS = frozenset({"severity_raised", "severity_set"})
_TIMERS = (DeadlineKind.STATUS_UPDATE, DeadlineKind.HANDOFF)
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


class SlackWrites(Protocol):
    """What Slack notices need from a unit of work (sync: inside the transaction)."""

    def enqueue(self, messages: Sequence[PageMessage], channel: str, now: datetime) -> None: ...

    def schedule(self, deadlines: Sequence[Deadline]) -> None: ...

    def cancel_deadlines(self, incident_id: int, kinds: Collection[DeadlineKind]) -> None: ...

    def deadlines_of(self, incident_id: int) -> list[Deadline]: ...

    def last_entry_at(self, incident_id: int, kinds: Collection[str]) -> datetime | None: ...


def dedup_key(incident_id: int) -> str:
    return f"slack-{incident_id}"


def channel_ref(reference: str) -> tuple[str, str]:
    """A created channel's reference `C123|inc-42-checkout` as (id, name)."""
    channel_id, _, name = reference.partition("|")
    return channel_id, name


class SlackNotices:
    def __init__(
        self,
        config: SlackConfig,
        public_url: str,
        prometheus_url: str = "",
        ticket_wait: timedelta | None = None,
    ) -> None:
        """`ticket_wait`: with tickets on, how long the channel's creation waits for the
        ticket's key when the template names the channel after it (`{ticket}`)."""
        self._config = config
        self._ticket_wait = ticket_wait
        self._public_url = public_url.rstrip("/")
        self._prometheus_url = prometheus_url.rstrip("/")

    def after_change(
        self,
        uow: SlackWrites,
        incident: Incident,
        entries: Sequence[TimelineEntry],
        now: datetime,
    ) -> None:
        """Say in Slack what `entries` say happened to `incident`."""
        if not incident.id or not entries:
            return
        incident = self._as_slack_sees(incident)
        calls: list[dict[str, Any]] = []
        kinds = {entry.kind for entry in entries}
        if "declared" in kinds:
            calls += self._opening(incident, now)
            self._start_timers(uow, incident, now)
        for entry in entries:
            if entry.kind == "declared":
                continue
            message = messages.change_message(entry)
            if message is not None:
                calls.append(_post(message))
            if entry.kind == "role_assigned":
                calls += self._invite([str(entry.data.get("person") or "")])
        if "declared" not in kinds and kinds & _TOPIC_KINDS:
            calls.append(self._topic(incident))
        if not incident.is_open and "resolved" in kinds:
            calls.append(_post(self._checklist(incident)))
            uow.cancel_deadlines(incident.id, _TIMERS)
        elif "declared" not in kinds:
            self._keep_cadence(uow, incident, kinds, now)
        self._enqueue(uow, incident, calls, now)

    def delivery_entry(
        self, uow: SlackWrites, incident_id: int, entry: TimelineEntry, now: datetime
    ) -> None:
        """A page was delivered, is failing or failed for good: say so in the channel."""
        message = messages.change_message(entry)
        if message is not None:
            self._enqueue_for(uow, incident_id, [_post(message)], now)

    def fire(self, uow: SlackWrites, incident: Incident, deadline: Deadline, now: datetime) -> None:
        """A communication timer came due: remind, then set the next one."""
        if not incident.is_open:
            return
        incident = self._as_slack_sees(incident)
        if deadline.kind is DeadlineKind.STATUS_UPDATE:
            every = self._interval(incident)
            if every is None:
                return
            last = uow.last_entry_at(incident.id, STATUS_UPDATE_KINDS)
            message = reminders.status_update_reminder(incident, every, last, now)
            uow.schedule([Deadline(incident.id, DeadlineKind.STATUS_UPDATE, now + every)])
        else:
            message = reminders.handoff_reminder(incident, deadline.due_at)
            following = self._next_handoff(now)
            if following is not None:
                uow.schedule([Deadline(incident.id, DeadlineKind.HANDOFF, following)])
        self._enqueue(uow, incident, [_post(message)], now)

    # --- what is said -------------------------------------------------------------------

    def _opening(self, incident: Incident, now: datetime) -> list[dict[str, Any]]:
        template = self._config.channel_template
        name = channel_name(incident.id, incident.service, template)
        create: dict[str, Any] = {"op": "create_channel", "name": name}
        if "{ticket}" in template and self._ticket_wait is not None:
            # Named when sent, after the ticket's key (see slack/sender.py); `name` is
            # the fallback should the ticket not be there in time.
            until = now + self._ticket_wait
            create |= {
                "template": template,
                "service": incident.service,
                "wait_until": until.isoformat(),
            }
        bridge = self._config.bridge_for(incident.id)
        links = messages.Links(
            incident_url=f"{self._public_url}/api/v1/incidents/{incident.id}",
            channel_id=CHANNEL_PLACEHOLDER,
            bridge_url=bridge,
            graph_url=self._graph(incident),
        )
        card = messages.announcement(incident, links)
        people = list(self._config.responders) + list(incident.roles.values())
        calls = [
            create,
            {"op": "set_topic", "text": messages.channel_topic(incident, bridge)},
            {"op": "set_purpose", "text": messages.channel_purpose(incident, bridge)},
            *self._invite(people),
            _post(card),
        ]
        calls += [
            {**_post(card), "op": "announce", "channel": channel, "channel_name": name}
            for channel in self._config.announce_channels
        ]
        return calls

    def _topic(self, incident: Incident) -> dict[str, Any]:
        text = messages.channel_topic(incident, self._config.bridge_for(incident.id))
        return {"op": "set_topic", "text": text}

    def _invite(self, people: Iterable[str]) -> list[dict[str, Any]]:
        users = [user for user in (self._user_id(person) for person in people) if user]
        users = list(dict.fromkeys(users))
        return [{"op": "invite", "users": users}] if users else []

    def _as_slack_sees(self, incident: Incident) -> Incident:
        """A copy whose role holders are Slack user ids where known, so they are mentioned."""
        if not self._config.users:
            return incident
        roles = {role: self._user_id(person) or person for role, person in incident.roles.items()}
        return replace(incident, roles=roles)

    def _user_id(self, person: str) -> str:
        person = person.strip()
        if _USER_ID.fullmatch(person):
            return person
        return self._config.users.get(person, "")

    def _checklist(self, incident: Incident) -> SlackMessage:
        due = review_due_date(incident)
        postmortem = f"{self._public_url}/api/v1/incidents/{incident.id}/postmortem"
        resolved = incident.resolved_at or incident.declared_at
        return reminders.after_incident_checklist(incident, due or resolved.date(), postmortem)

    def _graph(self, incident: Incident) -> str:
        found = graph_link(incident.classification, self._prometheus_url)
        return found or next(
            (a.generator_url for a in incident.firing_alerts if a.generator_url), ""
        )

    # --- timers -------------------------------------------------------------------------

    def _interval(self, incident: Incident) -> timedelta | None:
        return reminders.status_update_interval(
            incident.severity, self._config.status_update_intervals
        )

    def _start_timers(self, uow: SlackWrites, incident: Incident, now: datetime) -> None:
        timers = []
        every = self._interval(incident)
        if every is not None:
            timers.append(Deadline(incident.id, DeadlineKind.STATUS_UPDATE, now + every))
        handoff = self._next_handoff(now)
        if handoff is not None:
            timers.append(Deadline(incident.id, DeadlineKind.HANDOFF, handoff))
        if timers:
            uow.schedule(timers)

    def _keep_cadence(
        self, uow: SlackWrites, incident: Incident, kinds: set[str], now: datetime
    ) -> None:
        """A status update restarts the clock; a severity change moves it to the new
        cadence without postponing an update already due sooner."""
        every = self._interval(incident)
        if kinds & set(STATUS_UPDATE_KINDS):
            if every is not None:
                uow.schedule([Deadline(incident.id, DeadlineKind.STATUS_UPDATE, now + every)])
        elif kinds & _SEVERITY_KINDS:
            if every is None:
                uow.cancel_deadlines(incident.id, [DeadlineKind.STATUS_UPDATE])
                return
            current = [
                d.due_at
                for d in uow.deadlines_of(incident.id)
                if d.kind is DeadlineKind.STATUS_UPDATE
            ]
            due = min([now + every, *current])
            uow.schedule([Deadline(incident.id, DeadlineKind.STATUS_UPDATE, due)])

    def _next_handoff(self, now: datetime) -> datetime | None:
        """The first configured handoff time (UTC) strictly after `now`."""
        if not self._config.handoff_times:
            return None
        today = now.astimezone(UTC).date()
        for day in (today, today + timedelta(days=1)):
            for at in self._config.handoff_times:
                moment = datetime.combine(day, at, tzinfo=UTC)
                if moment > now:
                    return moment
        return None  # unreachable: tomorrow always has one

    def _enqueue(
        self, uow: SlackWrites, incident: Incident, calls: list[dict[str, Any]], now: datetime
    ) -> None:
        self._enqueue_for(uow, incident.id, calls, now)

    def _enqueue_for(
        self, uow: SlackWrites, incident_id: int, calls: list[dict[str, Any]], now: datetime
    ) -> None:
        """Slack rows reuse the outbox's columns: the role is the communications role
        (CMOC) and the action "trigger"; the operation is in the payload."""
        if not calls:
            return
        key = dedup_key(incident_id)
        uow.enqueue(
            [
                PageMessage(0, incident_id, SLACK, Role.CMOC, PageAction.TRIGGER, key, call)
                for call in calls
            ],
            SLACK,
            now,
        )


def _post(message: SlackMessage) -> dict[str, Any]:
    return {"op": "post", "text": message.text, "blocks": [dict(b) for b in message.blocks]}
