"""Small helpers for the server-rendered pages: escaping, times, the page frame, the answer.

No template engine and no external assets: the daemon runs air-gapped, so the pages carry
their few lines of CSS inline and no script at all. Every value that comes from data goes
through `esc` (service names, titles and people come from alert labels and users), and the
Content-Security-Policy forbids scripts anyway, so an escaping slip cannot run code.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from ..clock import utc_iso
from ..errors import StoreUnavailable

log = logging.getLogger(__name__)

# No script, no outside resource; inline styles only.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}
.banner{padding:1rem 1.25rem;border-radius:.4rem;font-size:1.3rem;font-weight:600}
.operational{background:#e3f5e6}.degraded{background:#fff6d6}
.partial_disruption{background:#ffe4c7}.outage{background:#fbd5d5}
.unacked{color:#b00020;font-weight:700}
.muted{color:#666}
@media (max-width:40rem){body{margin:1rem auto}
table,tbody,tr,td{display:block}tr.head{display:none}
tr{border:1px solid #ddd;border-radius:.4rem;margin:0 0 .75rem;padding:.35rem 0}
td{border:0;padding:.15rem .75rem .15rem 9rem;position:relative}
td::before{content:attr(data-label);position:absolute;left:.75rem;color:#666}}
"""


def esc(value: object) -> str:
    """Text for HTML content and quoted attributes alike."""
    return html.escape(str(value), quote=True)


def utc(value: datetime) -> str:
    """A readable, ISO-like UTC time (minutes are precise enough for people)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def time_tag(value: datetime) -> str:
    return f'<time datetime="{esc(utc_iso(value))}">{esc(utc(value))}</time>'


def duration(span: timedelta) -> str:
    """'under 1 min', '42 min', '3 h 5 min', '2 d 4 h': what a reader takes in at a glance."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def table(headers: Sequence[str], rows: Iterable[tuple[str | None, Sequence[str]]]) -> str:
    """A table of `rows` (a CSS class or None, and each cell's HTML). Every cell carries its
    column's name, so on a phone, where the rows become cards, each value keeps its label."""
    labels = [esc(h) for h in headers]
    head = '<tr class="head">' + "".join(f"<th>{h}</th>" for h in labels) + "</tr>\n"
    body = "".join(
        (f'<tr class="{esc(css)}">' if css else "<tr>")
        + "".join(
            f'<td data-label="{label}">{cell}</td>'
            for label, cell in zip(labels, cells, strict=True)
        )
        + "</tr>\n"
        for css, cells in rows
    )
    return f"<table>\n{head}{body}</table>"


def more_note(more: int) -> str:
    """The line under a table that says it was cut, or nothing."""
    return f'<p class="muted">… and {more} more not shown.</p>' if more > 0 else ""


def document(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    """The whole page around `body` (already HTML); `title` is escaped here."""
    refresh = (
        f'<meta http-equiv="refresh" content="{refresh_seconds}">\n' if refresh_seconds else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{refresh}<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def html_response(text: str, *, cache_control: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": cache_control, **_SECURITY_HEADERS},
    )


def store_down(request: web.Request, exc: StoreUnavailable, message: str) -> web.Response:
    """503 as a short page a browser shows (the error middleware would answer JSON).

    Logged as the middleware logs it; Retry-After as the API gives it; never cached, so
    the page comes back by itself once the store does.
    """
    log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
    body = f"<h1>Temporarily unavailable</h1>\n<p>{esc(message)}</p>"
    response = html_response(
        document("Temporarily unavailable", body, refresh_seconds=30),
        cache_control="no-store",
        status=503,
    )
    response.headers["Retry-After"] = "5"
    return response


# Browsers ask for /favicon.ico with every page, the JSON API's included; a 404 there is a
# console error on every visit. A siren light, in the colours of the status banners.
_FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect x="2" y="12" width="12" height="3" rx="1" fill="#444"/>'
    b'<path d="M4 12V8a4 4 0 0 1 8 0v4z" fill="#d93025"/></svg>'
)


async def favicon(request: web.Request) -> web.Response:
    """The page icon (SVG, which every current browser accepts at this path)."""
    return web.Response(
        body=_FAVICON,
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", **_SECURITY_HEADERS},
    )
