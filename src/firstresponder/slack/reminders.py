"""Reminders posted in the incident channel: status updates due, the shift handoff, and
what must happen after recovery. Pure; the scheduler decides when to post them.

The checklists quote the incident management handbook (`shared/seeds/000_*.txt`,
"Handoff" and "After incident recovery") word for word.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from ..domain.incident import Incident
from ..domain.vocabulary import Role, Severity
from . import blocks as b
from .messages import commander, tech_lead

DEFAULT_STATUS_UPDATE_INTERVALS: Mapping[Severity, timedelta | None] = {
    Severity.S1: timedelta(minutes=15),
    Severity.S2: timedelta(minutes=30),
    Severity.S3: timedelta(minutes=60),
    Severity.S4: None,
}

HANDOFF_STEPS = (
    "Outgoing Incident Commander identifies an incoming Incident Commander",
    "Incoming Incident Commander identifies an incoming Incident Tech Lead, "
    "and any Supporting SRE engineers",
    "Outgoing incident personnel brief by incoming incident personnel at shift handoff. "
    "Be sure to include:",
)
HANDOFF_BRIEFING = (
    "Technical status of the issue",
    "List of open and eliminated hypothesis regarding root cause",
    "Time and content of the most recent customer update",
    "Communication channels in play, including: IM channel, tracking doc, "
    "conference bridge, and email thread",
    "Key support personnel / stakeholders outside SRE engaged in the incident",
)
HANDOFF_NOTE = (
    "Outgoing team members should disengage no later than 30 minutes after their region "
    "handoff time (handoff+30)."
)
OWNER_STAYS = (
    "If the incident is not resolved at the end of the current shift then the Incident "
    "Tech Lead role gets handed over to the next shift, while Incident Owner is not."
)
AFTER_RECOVERY = (
    "Incident ticket is updated accordingly by the Incident Owner",
    "The Customer support lead is in charge of making sure the right level of "
    "communication to the customer is sent.",
    "The system is returned to baseline: the Incident Owner Lead is accountable to make it "
    "happen. NOTE: confirm monitoring has returned to baseline by ensuring any alert "
    "silences have been removed.",
    "The Root Cause Analysis (RCA) is done: the Incident Owner is accountable to make it happen",
)
REVIEW_STEP = (
    "The Post Mortem Review (PMR) is scheduled and run by the Incident Owner in the next "
    "5 business days"
)
VERIFIED_BY = (
    "That the above steps are being performed in a timely manner is verified by the "
    "Incident Commander."
)


def status_update_interval(
    severity: Severity,
    intervals: Mapping[Severity, timedelta | None] = DEFAULT_STATUS_UPDATE_INTERVALS,
) -> timedelta | None:
    """How often stakeholders hear from the incident at this severity; None: no reminders."""
    return intervals.get(severity)


def communications_owner(incident: Incident) -> str:
    """Who posts status updates: the CMOC; until one is named the IMOC, then the EOC
    (each role holds the next one's duties until it engages). `<!here>` when nobody is."""
    for role in (Role.CMOC, Role.IMOC, Role.EOC):
        person = incident.roles.get(role)
        if person:
            return b.mention(person)
    return "<!here>"


def status_update_reminder(
    incident: Incident, interval: timedelta, last_update_at: datetime | None, now: datetime
) -> b.SlackMessage:
    """Tell the communications owner a status update is due."""
    who = communications_owner(incident)
    every = _duration(interval)
    if last_update_at is None:
        last = f"none yet; declared {_duration(now - incident.declared_at)} ago"
    else:
        last = f"{b.date(last_update_at)} ({_duration(now - last_update_at)} ago)"
    text = f"{who} a status update for incident #{incident.id} ({incident.severity.value}) is due"
    body = (
        f":alarm_clock: {text}: every {every} at {incident.severity.value}.\n"
        f"Last update: {last}.\n"
        "Say what is affected, what is being done, and when the next update comes "
        "(no progress is news too)."
    )
    return b.SlackMessage(text + ".", [b.section(body)])


def handoff_reminder(incident: Incident, handoff_at: datetime) -> b.SlackMessage:
    """The shift handoff checklist, addressed to the IC and the tech lead."""
    text = (
        f"Shift handoff for incident #{incident.id} at {handoff_at:%H:%M} UTC: "
        "incoming IC and tech lead, please."
    )
    steps = "\n".join(f"{n}. {b.escape(step)}" for n, step in enumerate(HANDOFF_STEPS, 1))
    briefing = "\n".join(f"    {n}. {b.escape(item)}" for n, item in enumerate(HANDOFF_BRIEFING, 1))
    body = [
        b.section(
            f":busts_in_silhouette: *Shift handoff* {b.date(handoff_at)} · "
            f"IC {commander(incident)} · Lead {tech_lead(incident)}"
        ),
        b.section(f"{steps}\n{briefing}"),
        b.context([b.escape(HANDOFF_NOTE), b.escape(OWNER_STAYS)]),
    ]
    return b.SlackMessage(text, body)


def after_incident_checklist(
    incident: Incident, review_due: date, postmortem_url: str = ""
) -> b.SlackMessage:
    """What must happen after recovery, the review's due date included."""
    owner = incident.roles.get(incident.owner_role)
    owner_text = b.mention(owner) if owner else "the Incident Owner"
    review = f"{b.escape(REVIEW_STEP)}: *due {review_due:%A %Y-%m-%d}*"
    if postmortem_url:
        review += f" ({b.link(postmortem_url, 'draft')})"
    items = [b.escape(item) for item in AFTER_RECOVERY] + [review]
    text = (
        f"Incident #{incident.id} recovered. After-incident checklist for {owner_text}: "
        f"return to baseline (remove alert silences), RCA, PMR by {review_due:%Y-%m-%d}."
    )
    body = [
        b.section(f":clipboard: *After incident recovery* · owner {owner_text}"),
        b.section(b.checklist(items)),
        b.context([b.escape(VERIFIED_BY)]),
    ]
    return b.SlackMessage(text, body)


def _duration(value: timedelta) -> str:
    minutes = max(0, round(value.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
