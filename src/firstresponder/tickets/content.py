"""What the ticket says: its title, its opening text and links, and the labels that follow
severity and state. Pure; the trackers format it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config_tickets import TicketConfig
from ..domain.incident import Incident
from ..postmortem import IMPACT_WORDS
from .base import Link, NewTicket

EVIDENCE_SHOWN = 8


def title(incident: Incident) -> str:
    return f"[{incident.severity.value}] Incident {incident.id}: {incident.title}"


def opening(incident: Incident, config: TicketConfig, links: Mapping[str, str]) -> NewTicket:
    classification = incident.classification
    lines = [
        f"Incident {incident.id} declared {incident.declared_at.isoformat()} "
        f"({incident.source}) for service {incident.service}.",
        f"Severity {incident.severity.value}; impact: {IMPACT_WORDS[incident.impact]}; "
        f"state: {incident.state.value}.",
    ]
    if incident.description and incident.description != incident.title:
        lines.append(incident.description)
    reason = str(classification.get("reason") or "")
    if reason:
        lines.append(f"Why: {reason}")
    rows = [row for row in classification.get("evidence", ()) if isinstance(row, Mapping)]
    lines += [f"Evidence: {reading(row)}" for row in rows[:EVIDENCE_SHOWN]]
    if len(rows) > EVIDENCE_SHOWN:
        lines.append(f"… and {len(rows) - EVIDENCE_SHOWN} more readings (see the API)")
    firing = incident.firing_alerts
    if firing:
        names = ", ".join(sorted({alert.name for alert in firing})[:10])
        lines.append(f"Firing alerts ({incident.firing_count}): {names}")
    return NewTicket(
        title=title(incident),
        lines=tuple(lines),
        links=tuple(Link(text, href) for text, href in links.items() if href),
        labels=labels(incident, config),
    )


def reading(row: Mapping[str, Any]) -> str:
    """One piece of evidence as `query = value (threshold …, over …)`."""
    kind = str(row.get("kind", ""))
    text = f"{row.get('query') or kind.replace('_', ' ') or 'reading'} = {row.get('value')}"
    terms = []
    if "threshold" in row:
        terms.append(f"threshold {row['threshold']}")
    if row.get("window"):
        terms.append(f"over {row['window']}")
    parts = row.get("parts")
    if isinstance(parts, list) and parts:
        terms.append("in " + ", ".join(str(part) for part in parts[:8]))
    if row.get("crossed"):
        terms.append("crossed")
    return text + (f" ({', '.join(terms)})" if terms else "")


def labels(incident: Incident, config: TicketConfig) -> tuple[str, ...]:
    return (
        *config.labels,
        config.severity_tag(incident.severity.value),
        config.state_tag(incident.state.value),
    )
