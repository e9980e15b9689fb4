"""What firstresponder says in Slack about an incident: the channel's topic and purpose,
the announcement, one message per change that matters, and the Acknowledge button.

Pure functions of domain objects; the reminders (status updates, shift handoff, after
the incident) are in `reminders`. Texts follow the handbooks in `shared/seeds/`: the
channel's description records the Incident Commander, the tech lead, the bridge link and
a short description; the announcement links the bridge and the incident channel and
says what is failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.incident import Incident, TimelineEntry
from ..domain.slo_evidence import apdex_text, pct, times
from ..domain.vocabulary import Impact, Role, Severity
from . import blocks as b
from .blocks import SlackMessage
from .rules import PURPOSE_MAX, TOPIC_MAX, truncate

ACK_ACTION_ID = "firstresponder_ack"
EVIDENCE_SHOWN = 5
SYSTEM_ACTOR = "firstresponder"

SEVERITY_ICONS: Mapping[Severity, str] = {
    Severity.S1: ":red_circle:",
    Severity.S2: ":large_orange_circle:",
    Severity.S3: ":large_yellow_circle:",
    Severity.S4: ":white_circle:",
}
IMPACT_WORDS: Mapping[Impact, str] = {
    Impact.OPERATIONAL: "operational",
    Impact.DEGRADED: "degraded performance",
    Impact.PARTIAL_DISRUPTION: "partial service disruption",
    Impact.OUTAGE: "service disruption (outage)",
}


@dataclass(frozen=True)
class Links:
    """Where to look, as far as known: any of them may be empty."""

    incident_url: str = ""  # the incident in firstresponder's API
    channel_id: str = ""  # the incident's Slack channel, once created
    bridge_url: str = ""
    graph_url: str = ""  # Prometheus graph of the query that decided the impact


def commander(incident: Incident) -> str:
    """The Incident Commander (IMOC), mentioned; "not engaged yet" before one is."""
    person = incident.roles.get(Role.IMOC)
    return b.mention(person) if person else "not engaged yet"


def tech_lead(incident: Incident) -> str:
    """The tech lead: by default the first responder (EOC) until someone is named."""
    person = incident.roles.get(Role.LEAD) or incident.roles.get(Role.EOC)
    return b.mention(person) if person else "unassigned"


def description(incident: Incident) -> str:
    return b.one_line(incident.description or incident.title)


def channel_topic(incident: Incident, bridge_url: str = "") -> str:
    """The status line: severity, impact, state, IC, lead, bridge; then the description,
    shortened so the whole fits Slack's 250 characters."""
    parts = [
        f"{incident.severity.value} {IMPACT_WORDS[incident.impact]}",
        incident.state.value,
        f"IC {commander(incident)}",
        f"Lead {tech_lead(incident)}",
    ]
    if bridge_url:
        parts.append(f"Bridge {bridge_url}")
    return _fit(" · ".join(parts), " · ", description(incident), TOPIC_MAX)


def channel_purpose(incident: Incident, bridge_url: str = "") -> str:
    """The channel's description as the handbook asks: IC, tech lead, bridge, what is wrong."""
    roles = f"IC: {commander(incident)}. Tech lead: {tech_lead(incident)}."
    bridge = f" Bridge: {bridge_url}" if bridge_url else ""
    head = f"Incident #{incident.id} ({incident.service})"
    fixed_tail = f" {roles}{bridge}"
    room = PURPOSE_MAX - len(head) - len(": .") - len(fixed_tail)
    what = truncate(description(incident).rstrip("."), room) if room > 1 else ""
    stop = "" if what.endswith("…") else "."
    text = f"{head}: {what}{stop}{fixed_tail}" if what else f"{head}.{fixed_tail}"
    return truncate(text, PURPOSE_MAX)


def announcement(incident: Incident, links: Links) -> SlackMessage:
    """The post in the announcement channels: what is failing, how bad, where to go."""
    icon = SEVERITY_ICONS[incident.severity]
    title = f"{icon} {incident.severity.value} incident #{incident.id}: {incident.service}"
    where = f" Join <#{links.channel_id}>." if links.channel_id else ""
    text = (
        f"[{incident.severity.value}] Incident #{incident.id} on {incident.service}: "
        f"{b.one_line(incident.title)} ({IMPACT_WORDS[incident.impact]}).{where}"
    )
    body = [
        b.header(title),
        b.section(_summary(incident)),
        b.fields(
            [
                ("Impact", IMPACT_WORDS[incident.impact]),
                ("Severity", incident.severity.value),
                ("State", incident.state.value),
                ("Engineer on call", _person(incident, Role.EOC)),
                ("Incident Commander", commander(incident)),
                ("Declared", b.date(incident.declared_at)),
            ]
        ),
    ]
    where_to_look = _links(incident, links)
    if where_to_look:
        body.append(b.section(where_to_look))
    why = evidence_text(incident.classification)
    if why:
        body.append(b.section(why))
    if incident.acknowledged_at is None and incident.is_open:
        body.append(ack_button(incident.id))
    return SlackMessage(text, body)


def ack_button(incident_id: int) -> b.Block:
    """An actions block whose button acknowledges the incident (`firstresponder_ack`)."""
    return {
        "type": "actions",
        "block_id": f"firstresponder_ack_{incident_id}",
        "elements": [
            {
                "type": "button",
                "action_id": ACK_ACTION_ID,
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                "style": "primary",
                "value": str(incident_id),
            }
        ],
    }


def evidence_text(classification: Mapping[str, Any]) -> str:
    """Why the impact was classified so: the reason, then each reading as
    `query` = value (threshold …, over window)."""
    reason = str(classification.get("reason") or "")
    rows = [row for row in classification.get("evidence", ()) if isinstance(row, Mapping)]
    lines = [f"*Why:* {b.escape(reason)}"] if reason else []
    lines += [f"• {_reading(row)}" for row in rows[:EVIDENCE_SHOWN]]
    if len(rows) > EVIDENCE_SHOWN:
        lines.append(f"• … and {len(rows) - EVIDENCE_SHOWN} more readings")
    return "\n".join(lines)


def change_message(entry: TimelineEntry, incident_id: int | None = None) -> SlackMessage | None:
    """One message for a timeline entry that people in the channel should see; None for
    entries that would only be noise (a note typed here, each alert firing, …)."""
    render = _RENDERERS.get(entry.kind)
    if render is None:
        return None
    line = render(entry)
    prefix = f"Incident #{incident_id}: " if incident_id is not None else ""
    who = "" if entry.actor == SYSTEM_ACTOR else f" · by {b.mention(entry.actor)}"
    return SlackMessage(
        prefix + b.mentions_in(b.one_line(entry.message)),
        [b.section(line), b.context([f"{b.date(entry.at)}{who}"])],
    )


def _summary(incident: Incident) -> str:
    text = f"*{b.escape(b.one_line(incident.title))}*"
    if incident.description and incident.description != incident.title:
        text += "\n" + b.escape(incident.description)
    return text


def _person(incident: Incident, role: Role) -> str:
    person = incident.roles.get(role)
    return b.mention(person) if person else "paging…"


def _links(incident: Incident, links: Links) -> str:
    found = []
    if links.channel_id:
        found.append(f"Channel: <#{links.channel_id}>")
    if links.bridge_url:
        found.append(f"Bridge: {b.link(links.bridge_url, 'join the call')}")
    if links.incident_url:
        found.append(f"Incident: {b.link(links.incident_url, f'#{incident.id} in firstresponder')}")
    if links.graph_url:
        found.append(f"Graph: {b.link(links.graph_url, 'Prometheus')}")
    return " · ".join(found)


_FORMATS: Mapping[str, Callable[[float], str]] = {"burn_rate": times, "apdex": apdex_text}


def _number(kind: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "no data" if value in (None, "NaN") else b.escape(str(value))
    return _FORMATS.get(kind, pct)(float(value))


def _reading(row: Mapping[str, Any]) -> str:
    kind = str(row.get("kind", ""))
    query = str(row.get("query") or kind.replace("_", " ") or "reading")
    text = f"{b.code(query)} = {_number(kind, row.get('value'))}"
    terms = []
    if "threshold" in row:
        terms.append(f"threshold {_number(kind, row['threshold'])}")
    if row.get("window"):
        terms.append(f"over {b.escape(str(row['window']))}")
    parts = row.get("parts")
    if isinstance(parts, list) and parts:
        terms.append("in " + b.escape(", ".join(str(part) for part in parts[:8])))
    if terms:
        text += f" ({', '.join(terms)})"
    if row.get("crossed"):
        text += " :warning:"
    return text


def _fit(fixed: str, joiner: str, flexible: str, limit: int) -> str:
    """`fixed` + `joiner` + as much of `flexible` as fits in `limit` characters."""
    room = limit - len(fixed) - len(joiner)
    if not flexible or room < 2:
        return truncate(fixed, limit)
    return fixed + joiner + truncate(flexible, room)


def _data(entry: TimelineEntry, key: str) -> str:
    return str(entry.data.get(key) or "")


def _role_assigned(entry: TimelineEntry) -> str:
    try:
        role = Role(_data(entry, "role"))
    except ValueError:
        return f":bust_in_silhouette: {b.mentions_in(entry.message)}"
    person, previous = _data(entry, "person"), _data(entry, "previous")
    verb = f"replaces {b.mention(previous)} as" if previous else "is"
    return f":bust_in_silhouette: {b.mention(person)} {verb} {role.title} ({role.value.upper()})"


def _state_changed(entry: TimelineEntry) -> str:
    icons = {"identified": ":bulb:", "monitoring": ":eyes:", "investigating": ":mag:"}
    return f"{icons.get(_data(entry, 'to'), ':arrows_counterclockwise:')} {b.mentions_in(entry.message)}"


def _impact_raised(entry: TimelineEntry) -> str:
    text = f":chart_with_upwards_trend: {b.mentions_in(entry.message)}"
    evidence = entry.data.get("evidence")
    if isinstance(evidence, Sequence) and evidence:
        text += "\n" + evidence_text({"evidence": evidence})
    return text


def _icon(icon: str) -> Callable[[TimelineEntry], str]:
    return lambda entry: f"{icon} {b.mentions_in(entry.message)}"


_RENDERERS: Mapping[str, Callable[[TimelineEntry], str]] = {
    "impact_raised": _impact_raised,
    "severity_raised": _icon(":arrow_up:"),
    "severity_set": _icon(":pencil2:"),
    "escalated": _icon(":rotating_light:"),
    "escalation_skipped": _icon(":hourglass:"),
    "acknowledged": _icon(":white_check_mark:"),
    "role_assigned": _role_assigned,
    "ownership_passed": _icon(":handshake:"),
    "state_changed": _state_changed,
    "resolved": _icon(":large_green_circle:"),
    "paged": _icon(":pager:"),
    "page_delayed": _icon(":hourglass_flowing_sand:"),
    "page_failed": _icon(":warning:"),
    "alert_resolved": _icon(":heavy_check_mark:"),
    "alerts_recovered": _icon(":heavy_check_mark:"),
    "all_recovered": _icon(":heavy_check_mark:"),
}
