"""GET /: the incident board, for responders on the internal network.

Everything the read API shows is fair game here (titles, people, acknowledgements), and
the page answers at a glance what a responder arriving asks: what is open, how bad, who
has it, and has anybody picked it up. It refreshes itself every `server.board_refresh`
(30 s by default) and is never cached.
Every value from data is escaped: titles and service names come from alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from ..domain.incident import Incident
from ..domain.vocabulary import Role
from ..errors import StoreUnavailable
from .html import (
    document,
    duration,
    esc,
    html_response,
    more_note,
    store_down,
    table,
    time_tag,
)
from .keys import CLOCK, CONFIG, STORE
from .pages import Listing, open_incidents, resolved_since

RECENT_WINDOW = timedelta(hours=24)


async def board(request: web.Request) -> web.Response:
    """Incident board (HTML): open incidents, then those resolved in the last 24 hours"""
    now = request.app[CLOCK].now()
    store = request.app[STORE]
    try:
        open_now = await open_incidents(store)
        recent = await resolved_since(store, now - RECENT_WINDOW)
    except StoreUnavailable as exc:
        return store_down(request, exc, "The incident store is not answering; retry shortly.")
    refresh = int(request.app[CONFIG].server.board_refresh.total_seconds())
    return html_response(render(open_now, recent, now, refresh), cache_control="no-store")


def render(open_now: Listing, recent: Listing, now: datetime, refresh_seconds: int = 30) -> str:
    count = len(open_now.incidents) + open_now.more
    parts = [
        "<h1>Incident board</h1>",
        f'<p class="muted">Updated {time_tag(now)} (times UTC)'
        + (f"; refreshes every {refresh_seconds} s" if refresh_seconds else "")
        + f". {count} open.</p>",
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
    return document("Incident board", "\n".join(parts), refresh_seconds=refresh_seconds)


def _open_table(incidents: list[Incident], now: datetime) -> str:
    headers = "#,Severity,Service,Impact,State,Title,Age,Acknowledged,Owner,Roles,Links"
    return table(
        headers.split(","),
        (
            (
                i.impact.value,
                [
                    str(i.id),
                    esc(i.severity.value),
                    esc(i.service),
                    esc(i.impact.value),
                    esc(i.state.value),
                    esc(i.title),
                    esc(duration(now - i.declared_at)),
                    _acknowledged(i),
                    _owner(i),
                    _roles(i),
                    _links(i),
                ],
            )
            for i in incidents
        ),
    )


def _resolved_table(incidents: list[Incident]) -> str:
    headers = "#,Severity,Service,Impact,Title,Declared,Resolved,Duration,Links"
    return table(
        headers.split(","),
        (
            (
                None,
                [
                    str(i.id),
                    esc(i.severity.value),
                    esc(i.service),
                    esc(i.impact.value),
                    esc(i.title),
                    time_tag(i.declared_at),
                    time_tag(i.resolved_at),
                    esc(duration(i.resolved_at - i.declared_at)),
                    _links(i),
                ],
            )
            for i in incidents
            if i.resolved_at is not None
        ),
    )


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
