"""The replay's report: a header, what happened in time order, and a summary; as text
for a person or as one JSON document for a script (the same facts either way).

The header says what the replay assumed, because each assumption changes the answer:
classification from labels only, nobody acknowledging, no Slack.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import utc_iso
from .domain.escalation import PageAction
from .domain.vocabulary import Role
from .replay_events import Event, Facts, events

ASSUMPTIONS = (
    "classification from alert labels only (no live SLO queries to Prometheus)",
    "nobody acknowledges: every escalation happens as configured",
    "Slack is off",
)
_KIND_WIDTH = 20


@dataclass(frozen=True)
class Header:
    file: str
    config: str
    rules: int
    lines: int  # webhooks replayed
    bare: int  # of them, bare payloads timed by their alerts
    start: datetime
    end: datetime
    until: datetime
    paging: bool


def summary(facts: Facts, found: Sequence[Event]) -> dict[str, Any]:
    declared = [e for e in found if e.kind == "declared"]
    triggers = [p for p in facts.pages if p.action is PageAction.TRIGGER]
    return {
        "incidents_declared": len(declared),
        "declared_by_severity": _counted(str(e.data["severity"]) for e in declared),
        "severity_raised": sum(e.kind == "severity_raised" for e in found),
        "pages": len(triggers),
        "pages_by_role": _counted(
            (p.role.value for p in triggers), order=[role.value for role in Role]
        ),
        "escalations": sum(e.kind == "escalated" for e in found),
        "escalations_skipped": sum(e.kind == "escalation_skipped" for e in found),
        "near_misses": len(facts.near_misses),
        "states_at_end": _counted(i.state.value for i in facts.incidents),
        "escalations_waiting": [
            {"incident": d.incident_id, "reason": d.kind.value, "due_at": utc_iso(d.due_at)}
            for d in sorted(facts.waiting, key=lambda d: (d.due_at, d.incident_id))
        ],
    }


def as_json(header: Header, facts: Facts) -> str:
    found = events(facts)
    document = {
        "file": header.file,
        "config": header.config,
        "lines": header.lines,
        "bare_payloads": header.bare,
        "start": utc_iso(header.start),
        "end": utc_iso(header.end),
        "until": utc_iso(header.until),
        "paging": header.paging,
        "assumptions": list(ASSUMPTIONS),
        "events": [
            {"at": utc_iso(e.at), "kind": e.kind, "incident": e.incident, "text": e.text, **e.data}
            for e in found
        ],
        "incidents": [
            {
                "id": i.id,
                "service": i.service,
                "title": i.title,
                "impact": i.impact.value,
                "severity": i.severity.value,
                "state": i.state.value,
                "declared_at": utc_iso(i.declared_at),
            }
            for i in facts.incidents
        ],
        "summary": summary(facts, found),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def as_text(header: Header, facts: Facts) -> str:
    found = events(facts)
    lines = [*_header_lines(header), ""]
    lines += [_event_line(e) for e in found] or ["(nothing happened)"]
    lines += ["", *_summary_lines(summary(facts, found))]
    return "\n".join(lines)


def _header_lines(h: Header) -> list[str]:
    bare = f", {h.bare} of them bare payloads timed by their alerts" if h.bare else ""
    paging = "on" if h.paging else "off (escalation.enabled: false): nobody would be paged"
    return [
        "firstresponder replay",
        f"  file     {h.file} ({h.lines} webhook lines{bare})",
        f"  span     {utc_iso(h.start)} → {utc_iso(h.end)}, run until {utc_iso(h.until)}",
        f"  config   {h.config} ({h.rules} service rules); paging {paging}",
        f"  assumes  {ASSUMPTIONS[0]}",
        *(f"           {text}" for text in ASSUMPTIONS[1:]),
    ]


def _event_line(event: Event) -> str:
    number = f"#{event.incident}" if event.incident is not None else ""
    kind = event.kind.replace("_", " ")
    return f"{utc_iso(event.at)}  {number:<5} {kind:<{_KIND_WIDTH}}{event.text}"


def _summary_lines(s: dict[str, Any]) -> list[str]:
    skipped = s["escalations_skipped"]
    lines = [
        "Summary",
        f"  incidents declared  {s['incidents_declared']}{_split(s['declared_by_severity'])}",
        f"  severity raised     {s['severity_raised']}",
        f"  pages               {s['pages']}{_split(s['pages_by_role'], upper=True)}",
        f"  escalations         {s['escalations']}"
        + (f" (and {skipped} with nobody new to page)" if skipped else ""),
        f"  near misses         {s['near_misses']}",
    ]
    if s["states_at_end"]:
        lines.append(f"  incidents at end    {_listed(s['states_at_end'])}")
    for item in s["escalations_waiting"]:
        lines.append(
            f"  still waiting       #{item['incident']} {item['reason']} due {item['due_at']}"
        )
    return lines


def _split(counts: dict[str, int], upper: bool = False) -> str:
    """ " (S1 1, S2 2)" after a total; nothing when there is nothing to split."""
    return f" ({_listed(counts, upper)})" if counts else ""


def _listed(counts: dict[str, int], upper: bool = False) -> str:
    return ", ".join(f"{key.upper() if upper else key} {n}" for key, n in counts.items())


def _counted(values: Iterable[str], order: Sequence[str] = ()) -> dict[str, int]:
    """Counts by value, in `order` (the escalation order of roles), else alphabetically."""
    counts = Counter(values)
    rank = {value: n for n, value in enumerate(order)}
    return {key: counts[key] for key in sorted(counts, key=lambda k: (rank.get(k, len(rank)), k))}
