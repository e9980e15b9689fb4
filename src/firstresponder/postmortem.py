"""The post-incident review draft: one Markdown document for the Post Mortem Review.

It holds what the handbook asks the PMR to contain (executive summary with customer
impact and severity, root cause analysis, timeline of events, action items with owner,
criticality and target date), the PMR questionnaire and the after-recovery checklist.
Pure and deterministic: `now` is an argument, every time is printed in UTC, and every
piece of text a person or an alert wrote is escaped so that it cannot break a table or
start a heading.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from . import markdown as md
from .domain.action_items import ActionItem
from .domain.business_days import add_business_days
from .domain.incident import Incident, TimelineEntry
from .domain.slo_evidence import apdex_text, pct, times
from .domain.vocabulary import Impact, Role

# The handbook: "The Post Mortem Review (PMR) is scheduled and run by the Incident Owner
# in the next 5 business days".
REVIEW_BUSINESS_DAYS = 5

# "Questionnaire to be answered during the PMR", verbatim.
QUESTIONNAIRE = (
    "How can we protect ourselves better from such an incident?",
    "How can we ensure that the issue does not reoccur?",
    "How can we recover quicker from such an incident?",
    "How can we identify the issue quicker?",
)

IMPACT_WORDS: Mapping[Impact, str] = {
    Impact.OPERATIONAL: "operational",
    Impact.DEGRADED: "degraded performance",
    Impact.PARTIAL_DISRUPTION: "partial service disruption",
    Impact.OUTAGE: "service disruption (outage)",
}
_IMPACT_ADJECTIVE: Mapping[Impact, str] = {
    Impact.OPERATIONAL: "affected",
    Impact.DEGRADED: "degraded",
    Impact.PARTIAL_DISRUPTION: "partially disrupted",
    Impact.OUTAGE: "down",
}
_SIGNALS = {
    "error_ratio": "error ratio",
    "burn_rate": "burn rate",
    "outage_line": "outage line",
    "apdex": "Apdex",
}
_CLASSIFICATION_KINDS = ("declared", "impact_raised", "severity_raised", "severity_set")
_NONE = "—"


def render_postmortem(
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    action_items: Sequence[ActionItem],
    *,
    now: datetime,
    public_url: str,
    review_due: date | None = None,
) -> str:
    """The review draft in Markdown; the same inputs always give the same text."""
    entries = sorted(timeline, key=lambda e: e.at)  # stable: equal times keep their order
    sections = [
        _header(incident, now, public_url),
        _summary(incident, entries, now),
        _classification(incident, entries),
        _timeline(entries),
        _roles(incident, entries),
        _five_whys(incident),
        _action_items(action_items, now),
        _questionnaire(),
        _checklist(incident, review_due),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def review_due_date(incident: Incident) -> date | None:
    """The PMR deadline: 5 business days after the day of recovery (UTC); None while open."""
    if incident.resolved_at is None:
        return None
    return add_business_days(incident.resolved_at.astimezone(UTC).date(), REVIEW_BUSINESS_DAYS)


# --- sections -------------------------------------------------------------------------


def _header(incident: Incident, now: datetime, public_url: str) -> list[str]:
    link = f"{public_url.rstrip('/')}/api/v1/incidents/{incident.id}"
    return [
        f"# Post-incident review: {md.heading(incident.title)}",
        "",
        f"Status: **draft**, generated {md.when(now)} from incident [#{incident.id}]({link}).",
        "",
        "This review is blameless: it looks for the process and tooling to improve, "
        "not for someone to blame.",
    ]


def _summary(incident: Incident, entries: Sequence[TimelineEntry], now: datetime) -> list[str]:
    declared = incident.declared_at
    began = _impact_began(incident, entries)
    facts = [
        ("Service", md.inline(incident.service)),
        ("Impact", IMPACT_WORDS[incident.impact]),
        ("Severity", incident.severity.value),
        ("State", incident.state.value),
        ("Incident owner", _owner(incident)),
        ("Declared at", f"{md.when(declared)}{_declared_how(entries)}"),
        *_acknowledgement(incident),
        *_resolution(incident),
        ("Total duration", _total_duration(incident, began, now)),
    ]
    if incident.description.strip():
        facts.append(("Description", md.inline(incident.description)))
    return ["## Executive summary", "", *(f"- **{name}:** {value}" for name, value in facts)]


def _classification(incident: Incident, entries: Sequence[TimelineEntry]) -> list[str]:
    rows: list[list[str]] = []
    raised = any(e.kind == "impact_raised" for e in entries)
    for entry in entries:
        if entry.kind not in _CLASSIFICATION_KINDS:
            continue
        change, cause = _change(entry)
        evidence = _evidence_of(entry, incident, raised)
        readings = _shown(evidence) or [{}]
        for index, reading in enumerate(readings):
            lead = [md.when(entry.at), change, cause] if index == 0 else ["", "", ""]
            rows.append(lead + _reading(reading))
    head = ["Time", "Change", "Cause", "Signal", "Value", "Threshold", "Window", "Query"]
    return [
        "## Classification history",
        "",
        *md.table(head, rows, [_NONE] * len(head)),
        "",
        "Only the readings that crossed their threshold are listed (a burn rate when both "
        "of its windows did; every reading when none did); the timeline API returns them all.",
    ]


def _timeline(entries: Sequence[TimelineEntry]) -> list[str]:
    rows = [[md.when(e.at), md.cell(e.actor), md.cell(e.kind), md.cell(e.message)] for e in entries]
    empty = [_NONE, _NONE, _NONE, "_No timeline entries._"]
    return ["## Timeline", "", *md.table(["Time", "Actor", "Kind", "Message"], rows, empty)]


def _roles(incident: Incident, entries: Sequence[TimelineEntry]) -> list[str]:
    sent = Counter(str(e.data.get("role")) for e in entries if e.kind == "paged")
    failed = Counter(str(e.data.get("role")) for e in entries if e.kind == "page_failed")
    before: dict[str, list[str]] = {}
    for e in entries:
        if e.kind == "role_assigned" and e.data.get("previous"):
            before.setdefault(str(e.data.get("role")), []).append(md.inline(e.data["previous"]))
    rows = [
        [
            f"{role.title} ({role.value.upper()})",
            md.inline(incident.roles[role]) if role in incident.roles else "unassigned",
            ", ".join(before.get(role.value, ())) or _NONE,
            _pages(sent[role.value], failed[role.value]),
        ]
        for role in Role
    ]
    head = ["Role", "Person", "Handed over from", "Pages"]
    return ["## Roles", "", *md.table(head, rows, []), "", f"Incident owner: {_owner(incident)}."]


def _five_whys(incident: Incident) -> list[str]:
    whys = ("first why", "second why", "third why", "fourth why", "fifth why: the root cause")
    return [
        "## Five Whys",
        "",
        'Start from the impact and ask "Why?" until the answer is a root cause that '
        "action items can fix.",
        "",
        f"**Why was {md.inline(incident.service)} {_IMPACT_ADJECTIVE[incident.impact]}?**",
        "",
        *(f"{n}. Why? – _({label})_" for n, label in enumerate(whys, 1)),
    ]


def _action_items(items: Sequence[ActionItem], now: datetime) -> list[str]:
    today = now.astimezone(UTC).date()
    ordered = sorted(items, key=lambda i: (i.criticality.rank, i.due, i.id))
    rows = [
        [
            md.cell(item.owner),
            item.criticality.value,
            item.due.isoformat(),
            item.status.value + (" (overdue)" if item.is_overdue(today) else ""),
            md.cell(item.title),
        ]
        for item in ordered
    ]
    empty = [_NONE, _NONE, _NONE, _NONE, "_No action items yet: add them during the review._"]
    head = ["Owner", "Criticality", "Target date", "Status", "Title"]
    return [
        "## Action items",
        "",
        *md.table(head, rows, empty),
        "",
        "Each action item must be tracked by a corresponding ticket in the backlog. Aim to "
        "avoid recurrence, fix the root cause, improve monitoring and alerting, increase "
        "resiliency and automated recovery, and decrease the time to recover.",
    ]


def _questionnaire() -> list[str]:
    lines = ["## Post-mortem review questionnaire"]
    for number, question in enumerate(QUESTIONNAIRE, 1):
        lines += ["", f"{number}. {question}", "", "   _Answer:_"]
    return lines


def _checklist(incident: Incident, review_due: date | None) -> list[str]:
    due = review_due or review_due_date(incident)
    if due is not None:
        review = f"by {due.isoformat()}"
        if review_due is None:
            review += f" ({REVIEW_BUSINESS_DAYS} business days after recovery)"
    else:
        review = f"within {REVIEW_BUSINESS_DAYS} business days after recovery (not recovered yet)"
    return [
        "## After-incident checklist",
        "",
        "- [ ] Return to baseline: the system is back in its nominal state (resilience, "
        "persisted configuration), and monitoring is back to baseline with every alert "
        "silence removed. _(Incident Owner)_",
        "- [ ] Root cause analysis done and written up, with primary and secondary "
        "corrective actions. _(Incident Owner)_",
        f"- [ ] Post Mortem Review scheduled and run {review}. _(Incident Owner)_",
        "- [ ] Incident ticket updated. _(Incident Owner)_",
        "- [ ] Customer communication decided. _(Customer Support lead, or the Incident "
        "Commander)_",
        "- [ ] Every action item tracked by a ticket in the backlog. _(Incident Owner)_",
        "- [ ] These steps verified as done in a timely manner. _(Incident Commander)_",
    ]


# --- executive summary helpers ----------------------------------------------------------


def _owner(incident: Incident) -> str:
    role = incident.owner_role
    person = incident.roles.get(role)
    return f"{role.value.upper()} ({md.inline(person) if person else 'unassigned'})"


def _declared_entry(entries: Sequence[TimelineEntry]) -> TimelineEntry | None:
    return next((e for e in entries if e.kind == "declared"), None)


def _declared_how(entries: Sequence[TimelineEntry]) -> str:
    entry = _declared_entry(entries)
    if entry is None:
        return ""
    if entry.data.get("alert"):
        return f" from alert {md.inline(entry.data['alert'])}"
    return f" by {md.inline(entry.actor)}"


def _impact_began(incident: Incident, entries: Sequence[TimelineEntry]) -> datetime:
    """When the first alert started, if the declaration says; else the declaration."""
    entry = _declared_entry(entries)
    started = entry.data.get("alert_started_at") if entry else None
    if isinstance(started, str):
        try:
            return min(datetime.fromisoformat(started), incident.declared_at)
        except (TypeError, ValueError):  # a naive or malformed stamp: fall back
            pass
    return incident.declared_at


def _acknowledgement(incident: Incident) -> list[tuple[str, str]]:
    acked = incident.acknowledged_at
    if acked is None:
        return [("Acknowledged at", "not acknowledged")]
    return [
        ("Acknowledged at", md.when(acked)),
        ("Acknowledged by", md.inline(incident.acknowledged_by or "unknown")),
        ("Time to acknowledge", md.duration(acked - incident.declared_at)),
    ]


def _resolution(incident: Incident) -> list[tuple[str, str]]:
    resolved = incident.resolved_at
    if resolved is None:
        return [("Resolved at", "not resolved yet"), ("Time to resolve", "ongoing")]
    return [
        ("Resolved at", md.when(resolved)),
        ("Time to resolve", md.duration(resolved - incident.declared_at)),
    ]


def _total_duration(incident: Incident, began: datetime, now: datetime) -> str:
    start = "the declaration"
    if began != incident.declared_at:
        start = f"the first alert ({md.when(began)})"
    if incident.resolved_at is None:
        return f"ongoing: {md.duration(now - began)} so far, from {start}"
    return f"{md.duration(incident.resolved_at - began)}, from {start} to resolution"


def _pages(sent: int, failed: int) -> str:
    if not sent and not failed:
        return "none"
    return f"{sent} sent" + (f", {failed} failed" if failed else "")


# --- classification helpers ------------------------------------------------------------


def _change(entry: TimelineEntry) -> tuple[str, str]:
    """What changed, and why, for one classification entry."""
    data = entry.data
    if entry.kind == "declared":
        change = f"declared: {_impact_text(data.get('impact'))} ({md.inline(data.get('severity'))})"
        cause = data.get("reason") or f"declared by {entry.actor}"
        return change, md.cell(cause)
    if entry.kind == "impact_raised":
        change = f"impact {_impact_text(data.get('from'))} → {_impact_text(data.get('to'))}"
        prefix = f"Impact raised {data.get('from')} → {data.get('to')}: "
        cause = entry.message.removeprefix(prefix)
        return change, md.cell(cause)
    change = f"severity {md.inline(data.get('from'))} → {md.inline(data.get('to'))}"
    if entry.kind == "severity_set":
        return change, f"set by {md.cell(entry.actor)}"
    return change, "follows the raised impact"


def _impact_text(value: object) -> str:
    try:
        return IMPACT_WORDS[Impact(value)]
    except ValueError:
        return md.inline(value)


def _evidence_of(entry: TimelineEntry, incident: Incident, raised: bool) -> list[Mapping[str, Any]]:
    if entry.kind not in ("declared", "impact_raised"):
        return []
    if "evidence" in entry.data:
        return _readings(entry.data["evidence"])
    if entry.kind == "declared" and not raised:
        # Until an impact is raised, the incident's classification is the declaration's.
        return _readings(incident.classification.get("evidence"))
    return []


def _readings(raw: object) -> list[Mapping[str, Any]]:
    if not isinstance(raw, Iterable) or isinstance(raw, str | bytes | Mapping):
        return []
    return [item for item in raw if isinstance(item, Mapping)]


def _shown(evidence: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The readings that crossed; a burn rate only when its whole window pair did."""
    pairs: dict[object, bool] = {}
    for item in evidence:
        if item.get("kind") == "burn_rate":
            key = item.get("note")
            pairs[key] = pairs.get(key, True) and bool(item.get("crossed"))
    crossed = [
        item
        for item in evidence
        if item.get("crossed") and (item.get("kind") != "burn_rate" or pairs[item.get("note")])
    ]
    return crossed or evidence


def _reading(item: Mapping[str, Any]) -> list[str]:
    if not item:
        return [_NONE] * 5
    kind = str(item.get("kind", ""))
    signal = _SIGNALS.get(kind, kind) or "reading"
    raw_parts = item.get("parts")
    parts = [str(p) for p in raw_parts if p] if isinstance(raw_parts, list | tuple) else []
    if parts:
        signal += " in " + ", ".join(parts)
    if item.get("crossed"):
        signal += ", crossed"
    if item.get("note"):
        signal += f" ({item['note']})"
    query = str(item.get("query") or "")
    return [
        md.cell(signal),
        _number(kind, item.get("value")),
        _number(kind, item.get("threshold")),
        md.cell(str(item.get("window") or _NONE)),
        md.code(query) if query else _NONE,
    ]


def _number(kind: str, raw: object) -> str:
    """A reading as the classifier words it: ratios in %, burn rates as ×, Apdex as is."""
    if raw is None:
        return _NONE
    try:
        value = float(raw) if isinstance(raw, int | float | str) else math.nan
    except ValueError:  # JSON numbers, or the strings "NaN" and "+Inf"; anything else as is
        return md.cell(str(raw))
    if kind == "burn_rate":
        return times(value)
    if kind == "apdex":
        return apdex_text(value)
    if kind in ("error_ratio", "outage_line"):
        return pct(value)
    return f"{value:g}"
