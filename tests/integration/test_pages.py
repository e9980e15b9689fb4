"""The two HTML pages through the real app: the public status page (GET /status), which
must say how services are doing and leak nothing internal, and the responders' incident
board (GET /).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from firstresponder.api import pages, status_page
from firstresponder.api.keys import STORE
from firstresponder.domain.incident import Incident
from firstresponder.domain.vocabulary import Impact, IncidentState, Severity
from firstresponder.errors import StoreUnavailable
from firstresponder.store.ports import IncidentFilter, IncidentReader

from ..factories import T0, FakeClock, make_alert, make_payload
from .support import DOC, Client, call, post_alerts

INCIDENTS = "/api/v1/incidents"
XSS = "<script>alert(1)</script>"


async def declare(client: Client, api: dict[str, str], service: str, **body: Any) -> int:
    body = {"title": f"{service} trouble", **body, "service": service}
    created = await call(client, "POST", INCIDENTS, 201, json=body, headers=api)
    return int(created["id"])


async def act(client: Client, api: dict[str, str], number: int, action: str, **body: Any) -> None:
    await call(client, "POST", f"{INCIDENTS}/{number}/{action}", 200, json=body, headers=api)


async def page(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    text = await response.text()
    assert response.status == status, text
    assert (response.content_type, response.charset) == ("text/html", "utf-8")
    return text


async def status_json(client: Client) -> dict[str, Any]:
    answer: dict[str, Any] = await call(client, "GET", "/status?format=json", 200)
    return answer


def cells(text: str) -> list[list[str]]:
    """The text of each table row's cells, tags removed (header rows left out)."""
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.S)
    ]
    return [[re.sub(r"<[^>]+>", "", c) for c in row] for row in rows if row]


async def test_empty_store_says_all_systems_operational(client: Client) -> None:
    response = await client.get("/status")
    text = await response.text()
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert "All systems operational" in text
    assert "No incidents in the last 7 days." in text
    assert "<script" not in text and "http" not in text.split("</style>")[1]  # nothing external
    facts = await status_json(client)
    assert (facts["status"], facts["services"], facts["past_incidents"]) == ("operational", [], [])


async def test_worst_open_impact_sets_the_banner_and_each_service_has_a_row(
    client: Client, api_headers: dict[str, str], clock: FakeClock
) -> None:
    await declare(client, api_headers, "search", impact="degraded")
    clock.advance(minutes=4)
    await declare(client, api_headers, "checkout", impact="outage")
    text = await page(client, "/status")
    assert re.search(r'class="banner outage">Major outage<', text)
    assert cells(text) == [
        ["checkout", "Outage", "Investigating", "2026-11-23 03:05 UTC"],
        ["search", "Degraded performance", "Investigating", "2026-11-23 03:01 UTC"],
    ]
    facts = await status_json(client)
    assert (facts["status"], facts["description"]) == ("major_outage", "Major outage")
    assert [(s["service"], s["impact"], s["since"]) for s in facts["services"]] == [
        ("checkout", "outage", "2026-11-23T03:05:00Z"),
        ("search", "degraded", "2026-11-23T03:01:00Z"),
    ]


async def test_status_page_leaks_nothing_internal(
    client: Client, api_headers: dict[str, str], hook_headers: dict[str, str]
) -> None:
    alert = make_alert(
        labels={"instance": "db-primary-7.corp.internal"},
        annotations={"summary": "hunter2 leaked in logs", "description": "see vault path x/y"},
    )
    await post_alerts(client, make_payload(alert), hook_headers)
    number = await declare(
        client,
        api_headers,
        "payments",
        impact="partial_disruption",
        title="SECRET-rotate-the-stripe-key",
        description="internal-only description",
        labels={"team": "payments-secret-team"},
    )
    await act(client, api_headers, number, "ack", by="alice.onduty")
    await act(client, api_headers, number, "roles", role="imoc", person="bob.manager")
    await act(client, api_headers, number, "notes", text="rolled back build 4711 by hand")
    await act(client, api_headers, number, "state", state="identified", note="bad deploy 4711")
    html_page = await page(client, "/status")
    json_page = str(await status_json(client))
    secrets = (
        "SECRET-rotate",
        "internal-only",
        "payments-secret-team",
        "alice.onduty",
        "bob.manager",
        "4711",
        "hunter2",
        "vault",
        "db-primary-7",
        "HighErrorRate",
        f"{INCIDENTS}/",
    )
    for shown in (html_page, json_page):
        assert "payments" in shown and "checkout" in shown  # the page does say something
        assert [s for s in secrets if s in shown] == []
    assert ["payments", "Partial disruption", "Identified"] in [r[:3] for r in cells(html_page)]


async def test_past_incidents_are_those_resolved_in_the_last_7_days(
    client: Client, api_headers: dict[str, str], clock: FakeClock
) -> None:
    old = await declare(client, api_headers, "ledger", impact="outage")
    await act(client, api_headers, old, "resolve")
    clock.advance(days=8)
    recent = await declare(client, api_headers, "search", impact="degraded")
    clock.advance(minutes=90)
    await act(client, api_headers, recent, "resolve")
    text = await page(client, "/status")
    assert "All systems operational" in text
    assert cells(text) == [
        [
            "search",
            "Degraded performance",
            "2026-12-01 03:01 UTC",
            "2026-12-01 04:31 UTC",
            "1 h 30 min",
        ]
    ]
    assert "ledger" not in text
    (past,) = (await status_json(client))["past_incidents"]
    assert (past["service"], past["duration_seconds"]) == ("search", 5400)


async def test_json_format_is_documented_and_cacheable(
    client: Client, api_headers: dict[str, str]
) -> None:
    await declare(client, api_headers, "search", impact="degraded")
    response = await client.get("/status?format=json")
    assert response.headers["Cache-Control"] == "public, max-age=30"
    facts = await status_json(client)  # `call` validates against the OpenAPI document
    assert facts["services"] == [
        {
            "service": "search",
            "impact": "degraded",
            "impact_description": "Degraded performance",
            "state": "investigating",
            "since": "2026-11-23T03:01:00Z",
        }
    ]
    refused = await call(client, "GET", "/status?format=xml", 400)
    assert "format" in refused["error"]


async def test_status_page_is_at_most_a_few_seconds_behind(
    client: Client, api_headers: dict[str, str], clock: FakeClock
) -> None:
    assert "All systems operational" in await page(client, "/status")
    await declare(client, api_headers, "checkout", impact="outage")
    assert "All systems operational" in await page(client, "/status")  # one snapshot for all
    clock.advance(seconds=status_page.CACHE_SECONDS + 1)
    assert "Major outage" in await page(client, "/status")


async def test_visitors_arriving_together_share_one_store_read(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incident is exactly when customers reload the status page and the store is busy."""
    store: IncidentReader = client.app[STORE]
    read, release = store.list_incidents, asyncio.Event()
    queries: list[IncidentFilter] = []

    async def slow(query: IncidentFilter) -> list[Incident]:
        queries.append(query)
        await release.wait()
        return await read(query)

    monkeypatch.setattr(store, "list_incidents", slow)
    handler = status_page.StatusPage()
    visits = [
        asyncio.ensure_future(handler.handle(make_mocked_request("GET", "/status", app=client.app)))
        for _ in range(5)
    ]
    await asyncio.sleep(0)  # every visit reaches the store, or the read in flight
    visits[0].cancel()  # a visitor who leaves does not spoil the read for the others
    release.set()
    answers = await asyncio.gather(*visits[1:])
    assert [a.status for a in answers] == [200] * 4
    assert len(queries) == 2  # open incidents, and one page of resolved ones


@pytest.mark.parametrize("path", ["/status", "/"])
async def test_data_is_escaped(client: Client, api_headers: dict[str, str], path: str) -> None:
    await declare(client, api_headers, XSS, title=f"{XSS} & <b>bold</b>", impact="outage")
    response = await client.get(path)
    text = await response.text()
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "script-src" not in response.headers["Content-Security-Policy"]  # no script at all
    if path == "/":
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text


async def test_board_shows_who_acknowledged_and_who_holds_each_role(
    client: Client, api_headers: dict[str, str], clock: FakeClock
) -> None:
    number = await declare(client, api_headers, "checkout", impact="outage", title="5xx on pay")
    response = await client.get("/")
    text = await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert '<meta http-equiv="refresh" content="30">' in text
    (row,) = cells(text)
    assert row[:7] == [
        str(number),
        "S1",
        "checkout",
        "outage",
        "investigating",
        "5xx on pay",
        "under 1 min",
    ]
    assert row[7:10] == ["NOT ACKNOWLEDGED", "EOC", "none"]
    clock.advance(minutes=3)
    await act(client, api_headers, number, "ack", by="alice")
    await act(client, api_headers, number, "roles", role="imoc", person="bob")
    clock.advance(minutes=10)
    text = await page(client, "/")
    assert "NOT ACKNOWLEDGED" not in text
    assert cells(text)[0][6:10] == [
        "13 min",
        "alice at 2026-11-23 03:04 UTC",
        "IMOC (bob)",
        "EOC: aliceIMOC: bob",
    ]


async def test_board_links_lead_to_the_incident_its_timeline_and_postmortem(
    client: Client, api_headers: dict[str, str]
) -> None:
    number = await declare(client, api_headers, "checkout")
    links = re.findall(r'href="([^"]+)"', await page(client, "/"))
    base = f"{INCIDENTS}/{number}"
    assert links == [base, f"{base}/timeline", f"{base}/postmortem"]
    for link in links:
        assert (await client.get(link)).status == 200, link


async def test_board_lists_what_was_resolved_in_the_last_24_hours(
    client: Client, api_headers: dict[str, str], clock: FakeClock
) -> None:
    old = await declare(client, api_headers, "ledger")
    await act(client, api_headers, old, "resolve")
    clock.advance(days=2)
    recent = await declare(client, api_headers, "search", severity="S4")
    clock.advance(minutes=42)
    await act(client, api_headers, recent, "resolve")
    text = await page(client, "/")
    assert "No open incidents." in text
    assert cells(text) == [
        [
            str(recent),
            "S4",
            "search",
            "degraded",
            "search trouble",
            "2026-11-25 03:01 UTC",
            "2026-11-25 03:43 UTC",
            "42 min",
            "incident · timeline · postmortem",
        ]
    ]


async def test_long_lists_are_cut_and_say_how_many_more(
    client: Client, api_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "MAX_OPEN", 2)
    monkeypatch.setattr(pages, "MAX_RESOLVED", 1)
    for service in ("a", "b", "c", "d", "e"):
        await declare(client, api_headers, service)
    for number in (1, 2):
        await act(client, api_headers, number, "resolve")
    board = await page(client, "/")
    assert [row[0] for row in cells(board)] == ["5", "4", "2"]  # resolved 1 and 2 at once
    assert board.count("… and 1 more not shown.") == 2
    status = await page(client, "/status")
    assert [row[0] for row in cells(status)] == ["d", "e", "b"]
    assert status.count("… and 1 more not shown.") == 2
    facts = await status_json(client)
    assert (facts["more_open_incidents"], facts["more_past_incidents"]) == (1, 1)


async def test_a_store_that_is_down_answers_503_not_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any) -> Any:
        raise StoreUnavailable("store unavailable: OperationalError")

    monkeypatch.setattr(client.app[STORE], "list_incidents", down)
    for path in ("/status", "/"):
        response = await client.get(path)
        text = await response.text()
        assert (response.status, response.content_type) == (503, "text/html"), text
        assert response.headers["Retry-After"] == "5"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Temporarily unavailable" in text and "OperationalError" not in text
    answer = await call(client, "GET", "/status?format=json", 503)
    assert answer == {"error": "store unavailable, retry later"}
    monkeypatch.undo()
    assert "All systems operational" in await page(client, "/status")  # nothing stale kept


def test_pages_are_in_the_openapi_document() -> None:
    for path in ("/status", "/"):
        operation = DOC.document["paths"][path]["get"]
        assert "text/html" in operation["responses"]["200"]["content"]
        assert "503" in operation["responses"]


def incident(service: str, impact: Impact, state: IncidentState, minute: int) -> Incident:
    at = T0 + timedelta(minutes=minute)
    return Incident(minute, service, service, "t", impact, Severity.S3, state, at, at)


def test_a_service_with_several_incidents_shows_the_worst_impact_and_earliest_start() -> None:
    snapshot = status_page.snapshot_of(
        pages.Listing(
            [
                incident("api", Impact.DEGRADED, IncidentState.INVESTIGATING, 1),
                incident("api", Impact.OUTAGE, IncidentState.MONITORING, 5),
                incident("batch", Impact.OPERATIONAL, IncidentState.INVESTIGATING, 2),
            ]
        ),
        pages.Listing([]),
        T0,
    )
    (api,) = snapshot.services  # an incident customers do not feel is not shown
    assert api == status_page.ServiceStatus(
        "api", Impact.OUTAGE, IncidentState.INVESTIGATING, T0 + timedelta(minutes=1)
    )
    assert snapshot.overall is Impact.OUTAGE
