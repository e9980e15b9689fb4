"""GET /: the incident board, for responders on the internal network.

Everything the read API shows is fair game here (titles, people, acknowledgements), and
the page answers at a glance what a responder arriving asks: what is open, how bad, who
has it, and has anybody picked it up. It refreshes itself every 30 s and is never cached.
Every value from data is escaped: titles and service names come from alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from ..domain.incident import Incident
from ..domain.vocabulary import Role
from ..errors import StoreUnavailable
from .html import document, duration, esc, html_response, more_note, store_down, time_tag
from .keys import CLOCK, STORE
from .pages import Listing, open_incidents, resolved_since

RECENT_WINDOW = timedelta(hours=24)
REFRESH_SECONDS = 30


async def board(request: web.Request) -> web.Response:
    """Incident board (HTML): open incidents, then those resolved in the last 24 hours"""
    now = request.app[CLOCK].now()
    store = request.app[STORE]
    try:
        open_now = await open_incidents(store)
        recent = await resolved_since(store, now - RECENT_WINDOW)
    except StoreUnavailable as exc:
        return store_down(request, exc, "The incident store is not answering; retry shortly.")
    return html_response(render(open_now, recent, now), cache_control="no-store")


def render(open_now: Listing, recent: Listing, now: datetime) -> str:
    count = len(open_now.incidents) + open_now.more
    parts = [
        "<h1>Incident board</h1>",
        f'<p class="muted">Updated {time_tag(now)} (times UTC); refreshes every '
        f"{REFRESH_SECONDS} s. {count} open.</p>",
        "<h2>Open incidents</h2>",
    ]
    if open_now.incidents:
        parts.append(_open_table(open_now.incidents, now))
        parts.append(more_note(open_now.more))
    else:
        parts.append("<p>No open incidents.</p>")
    parts.append("<h2>Resolved in the last 24 hours</h2>")
    if recent.incidents:
        parts.append(_resolved_table(recent.incidents))
        parts.append(more_note(recent.more))
    else:
        parts.append("<p>None.</p>")
    return document("Incident board", "\n".join(parts), refresh_seconds=REFRESH_SECONDS)


def _open_table(incidents: list[Incident], now: datetime) -> str:
    head = (
        "<tr><th>#</th><th>Severity</th><th>Service</th><th>Impact</th><th>State</th>"
        "<th>Title</th><th>Age</th><th>Acknowledged</th><th>Owner</th><th>Roles</th>"
        "<th>Links</th></tr>\n"
    )
    rows = "".join(
        f'<tr class="{esc(i.impact.value)}"><td>{i.id}</td><td>{esc(i.severity.value)}</td>'
        f"<td>{esc(i.service)}</td><td>{esc(i.impact.value)}</td><td>{esc(i.state.value)}</td>"
        f"<td>{esc(i.title)}</td><td>{esc(duration(now - i.declared_at))}</td>"
        f"<td>{_acknowledged(i)}</td><td>{_owner(i)}</td><td>{_roles(i)}</td>"
        f"<td>{_links(i)}</td></tr>\n"
        for i in incidents
    )
    return f"<table>\n{head}{rows}</table>"


def _resolved_table(incidents: list[Incident]) -> str:
    head = (
        "<tr><th>#</th><th>Severity</th><th>Service</th><th>Impact</th><th>Title</th>"
        "<th>Declared</th><th>Resolved</th><th>Duration</th><th>Links</th></tr>\n"
    )
    rows = "".join(
        f"<tr><td>{i.id}</td><td>{esc(i.severity.value)}</td><td>{esc(i.service)}</td>"
        f"<td>{esc(i.impact.value)}</td><td>{esc(i.title)}</td>"
        f"<td>{time_tag(i.declared_at)}</td><td>{time_tag(i.resolved_at)}</td>"
        f"<td>{esc(duration(i.resolved_at - i.declared_at))}</td><td>{_links(i)}</td></tr>\n"
        for i in incidents
        if i.resolved_at is not None
    )
    return f"<table>\n{head}{rows}</table>"


def _acknowledged(incident: Incident) -> str:
    if incident.acknowledged_at is None:
        return '<span class="unacked">NOT ACKNOWLEDGED</span>'
    who = esc(incident.acknowledged_by or "someone")
    return f"{who} at {time_tag(incident.acknowledged_at)}"


def _owner(incident: Incident) -> str:
    role = incident.owner_role
    person = incident.roles.get(role)
    return esc(f"{role.value.upper()} ({person})" if person else role.value.upper())


def _roles(incident: Incident) -> str:
    if not incident.roles:
        return '<span class="muted">none</span>'
    return "<br>".join(
        f"{esc(role.value.upper())}: {esc(incident.roles[role])}"
        for role in Role
        if role in incident.roles
    )


def _links(incident: Incident) -> str:
    # Relative, so they work under whatever host name the board is reached by.
    api = f"/api/v1/incidents/{incident.id}"
    return " · ".join(
        f'<a href="{esc(href)}">{label}</a>'
        for href, label in (
            (api, "incident"),
            (f"{api}/timeline", "timeline"),
            (f"{api}/postmortem", "postmortem"),
        )
    )
