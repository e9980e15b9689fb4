"""The REST API over incidents, as the incident team uses it; every answer is checked
against the OpenAPI document by `call`.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..factories import API_TOKEN, WEBHOOK_TOKEN, FakeClock, make_alert, make_payload
from .support import SLOTH_PAGE, Client, call, metric, payload_from, post_alerts, snapshot

INCIDENTS = "/api/v1/incidents"


async def declare(client: Client, api_headers: dict[str, str], **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = await call(
        client, "POST", INCIDENTS, 201, json=body, headers=api_headers
    )
    return created


async def change(
    client: Client, incident_id: int, action: str, body: dict[str, Any], api_headers: dict[str, str]
) -> dict[str, Any]:
    path = f"{INCIDENTS}/{incident_id}/{action}"
    answer: dict[str, Any] = await call(client, "POST", path, 200, json=body, headers=api_headers)
    return answer


async def ids(client: Client, query: str = "") -> list[int]:
    listing = await call(client, "GET", f"{INCIDENTS}{query}", 200)
    return [i["id"] for i in listing["incidents"]]


@pytest.fixture
async def three(client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]) -> None:
    """1: checkout from Alertmanager (S2), 2: payments from Sloth (S2), 3: search by hand (S4)."""
    await post_alerts(client, make_payload(), hook_headers)
    await post_alerts(client, payload_from(SLOTH_PAGE), hook_headers)
    await declare(client, api_headers, service="search", title="Search is slow", severity="S4")


@pytest.mark.usefixtures("three")
async def test_list_filters(client: Client, api_headers: dict[str, str]) -> None:
    assert await ids(client) == [3, 2, 1]
    assert await ids(client, "?service=checkout") == [1]
    assert await ids(client, "?severity=S4") == [3]
    assert await ids(client, "?severity=p2") == [2, 1]
    assert await ids(client, "?state=investigating") == [3, 2, 1]
    await change(client, 2, "resolve", {"note": "rolled back"}, api_headers)
    await change(client, 3, "state", {"state": "identified"}, api_headers)
    assert await ids(client, "?state=resolved") == [2]
    assert await ids(client, "?state=identified") == [3]
    assert await ids(client, "?open=true") == [3, 1]
    assert await ids(client, "?open=1") == [3, 1]
    assert await ids(client, "?open=false") == [3, 2, 1]
    assert await ids(client, "?open=true&service=payments") == []
    assert await ids(client, "?open=true&severity=S2&service=checkout") == [1]


async def test_pagination_walks_every_incident_once(
    client: Client, api_headers: dict[str, str]
) -> None:
    for n in range(5):
        await declare(client, api_headers, service=f"svc-{n}", title=f"trouble {n}")
    seen: list[int] = []
    query = "?limit=2"
    pages = 0
    while True:
        page = await call(client, "GET", f"{INCIDENTS}{query}", 200)
        seen += [i["id"] for i in page["incidents"]]
        pages += 1
        if page["next_before"] is None:
            break
        query = f"?limit=2&before={page['next_before']}"
    assert (seen, pages) == ([5, 4, 3, 2, 1], 3)
    assert await ids(client, "?limit=100000") == [5, 4, 3, 2, 1]  # capped, not refused


@pytest.mark.usefixtures("three")
async def test_get_one_incident(client: Client, clock: FakeClock) -> None:
    incident = await call(client, "GET", f"{INCIDENTS}/1", 200)
    assert incident["id"] == 1
    assert (incident["service"], incident["impact"], incident["severity"]) == (
        "checkout",
        "partial_disruption",
        "S2",
    )
    assert incident["declared_at"] == clock.now().isoformat()
    assert incident["owner"] == {"role": "eoc", "person": None}
    assert incident["roles"] == {}
    assert [a["name"] for a in incident["alerts"]] == ["HighErrorRate"]
    assert incident["links"] == {
        "self": "http://fr.example/api/v1/incidents/1",
        "timeline": "http://fr.example/api/v1/incidents/1/timeline",
    }
    missing = await call(client, "GET", f"{INCIDENTS}/42", 404)
    assert missing == {"error": "incident 42 not found"}


async def test_declare_by_hand(client: Client, api_headers: dict[str, str]) -> None:
    created = await declare(
        client,
        api_headers,
        service="search",
        title="Search results are empty for some users",
        description="Reported by support; no alert fired.",
        by="alice",
    )
    assert (created["id"], created["source"], created["state"]) == (1, "manual", "investigating")
    assert (created["impact"], created["severity"]) == ("degraded", "S3")  # the default map
    assert created["description"] == "Reported by support; no alert fired."
    timeline = await call(client, "GET", f"{INCIDENTS}/1/timeline", 200)
    [entry] = timeline["entries"]
    assert (entry["kind"], entry["actor"]) == ("declared", "alice")
    assert (
        await metric(
            client,
            "firstresponder_incidents_declared_total",
            service="search",
            severity="S3",
            impact="degraded",
        )
        == 1
    )
    outage = await declare(
        client, api_headers, service="login", title="Nobody can log in", impact="outage"
    )
    assert (outage["impact"], outage["severity"]) == ("outage", "S1")
    chosen = await declare(
        client, api_headers, service="mail", title="t", impact="outage", severity="p3"
    )
    assert chosen["severity"] == "S3"  # a human may choose any severity


async def test_declare_conflicts_with_an_open_incident(
    client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    conflict = await call(
        client,
        "POST",
        INCIDENTS,
        409,
        json={"service": "checkout", "title": "again"},
        headers=api_headers,
    )
    assert "incident 1 is already open" in conflict["error"]
    await declare(client, api_headers, service="search", title="first")
    conflict = await call(
        client,
        "POST",
        INCIDENTS,
        409,
        json={"service": "search", "title": "x"},
        headers=api_headers,
    )
    assert "incident 2 is already open" in conflict["error"]
    await change(client, 2, "resolve", {}, api_headers)
    again = await declare(client, api_headers, service="search", title="it is back")
    assert again["id"] == 3


async def test_ack_makes_the_acknowledger_eoc(
    client: Client, clock: FakeClock, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    clock.advance(minutes=3)
    answer = await change(client, 1, "ack", {"by": "alice"}, api_headers)
    incident = answer["incident"]
    assert incident["acknowledged_by"] == "alice"
    assert incident["acknowledged_at"] == clock.now().isoformat()
    assert incident["roles"] == {"eoc": "alice"}
    assert incident["owner"] == {"role": "eoc", "person": "alice"}
    assert [c["kind"] for c in answer["changes"]] == ["acknowledged", "role_assigned"]
    clock.advance(minutes=1)
    again = await change(client, 1, "ack", {}, api_headers)
    assert again["changes"] == []
    assert again["incident"]["acknowledged_by"] == "alice"


async def test_ownership_passes_from_eoc_to_imoc(
    client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    await change(client, 1, "ack", {}, api_headers)
    answer = await change(client, 1, "roles", {"role": "imoc", "person": "bob"}, api_headers)
    assert answer["incident"]["owner"] == {"role": "imoc", "person": "bob"}
    assert [c["kind"] for c in answer["changes"]] == ["role_assigned", "ownership_passed"]
    assert answer["changes"][1]["message"] == "Ownership passed from EOC (tester) to IMOC (bob)"
    answer = await change(client, 1, "roles", {"role": "cmoc", "person": "carol"}, api_headers)
    assert answer["incident"]["owner"] == {"role": "imoc", "person": "bob"}
    answer = await change(client, 1, "roles", {"role": "imoc", "person": "dave"}, api_headers)
    assert answer["changes"][0]["message"] == "dave replaces bob as Incident Manager On Call (IMOC)"
    snap = await snapshot(client, 1)
    assert snap["incident"]["roles"] == {
        "eoc": "tester",
        "imoc": "dave",
        "cmoc": "carol",
    }
    assert [e["kind"] for e in snap["timeline"]].count("ownership_passed") == 1


async def test_state_changes(
    client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    steps = [
        ("identified", "bad deploy 4711"),
        ("monitoring", "rolled back"),
        ("investigating", ""),
    ]
    previous = "investigating"
    for state, note in steps:
        answer = await change(client, 1, "state", {"state": state, "note": note}, api_headers)
        assert answer["incident"]["state"] == state
        [entry] = answer["changes"]
        assert entry["data"] == {"from": previous, "to": state}
        assert note in entry["message"]
        previous = state
    same = await change(client, 1, "state", {"state": "investigating"}, api_headers)
    assert same["changes"] == []
    resolved = await change(client, 1, "state", {"state": "resolved"}, api_headers)
    assert resolved["incident"]["state"] == "resolved"
    assert [c["kind"] for c in resolved["changes"]] == ["resolved"]


async def test_notes_land_in_the_timeline(
    client: Client, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    answer = await change(
        client,
        1,
        "notes",
        {"text": "Error rate falls after the rollback", "by": "bob"},
        api_headers,
    )
    [entry] = answer["changes"]
    assert (entry["kind"], entry["actor"]) == ("note", "bob")
    timeline = await call(client, "GET", f"{INCIDENTS}/1/timeline", 200)
    assert timeline["entries"][-1]["message"] == "Error rate falls after the rollback"


CHANGES_AFTER_RESOLVE = [
    ("ack", {}),
    ("state", {"state": "identified"}),
    ("state", {"state": "resolved"}),
    ("roles", {"role": "imoc", "person": "bob"}),
    ("severity", {"severity": "S1"}),
    ("resolve", {}),
]


@pytest.mark.parametrize(
    ("action", "body"),
    CHANGES_AFTER_RESOLVE,
    ids=[f"{a}-{i}" for i, (a, _) in enumerate(CHANGES_AFTER_RESOLVE)],
)
async def test_resolved_incident_refuses_changes(
    client: Client,
    clock: FakeClock,
    hook_headers: dict[str, str],
    api_headers: dict[str, str],
    action: str,
    body: dict[str, Any],
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    clock.advance(minutes=42)
    answer = await change(client, 1, "resolve", {"note": "fixed by rollback"}, api_headers)
    assert answer["incident"]["state"] == "resolved"
    assert answer["incident"]["resolved_at"] == clock.now().isoformat()
    assert answer["changes"][0]["message"] == "Resolved by tester: fixed by rollback"
    assert await ids(client, "?open=true") == []
    before = await snapshot(client, 1)
    refused = await call(
        client, "POST", f"{INCIDENTS}/1/{action}", 409, json=body, headers=api_headers
    )
    assert "incident 1 is resolved" in refused["error"]
    assert await snapshot(client, 1) == before


async def test_a_human_may_lower_severity_and_alerts_do_not_undo_it(
    client: Client, clock: FakeClock, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    answer = await change(client, 1, "severity", {"severity": "S4", "by": "alice"}, api_headers)
    assert answer["incident"]["severity"] == "S4"
    [entry] = answer["changes"]
    assert (entry["kind"], entry["data"]) == ("severity_set", {"from": "S2", "to": "S4"})
    # Another alert of the same impact changes nothing: severity is never auto-lowered or reset.
    clock.advance(minutes=2)
    same_impact = make_alert(labels={"alertname": "HighLatency"}, starts_at=clock.now())
    await post_alerts(client, make_payload(same_impact), hook_headers)
    assert (await call(client, "GET", f"{INCIDENTS}/1", 200))["severity"] == "S4"
    # Worse evidence (an outage) raises it again.
    outage = make_alert(labels={"alertname": "CheckoutDown"}, starts_at=clock.now())
    await post_alerts(client, make_payload(outage), hook_headers)
    incident = await call(client, "GET", f"{INCIDENTS}/1", 200)
    assert (incident["impact"], incident["severity"]) == ("outage", "S1")
    alias = await change(client, 1, "severity", {"severity": "p3"}, api_headers)
    assert alias["incident"]["severity"] == "S3"


async def test_timeline_tells_the_story_in_order(
    client: Client, clock: FakeClock, hook_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    declared_at = clock.now().isoformat()
    await post_alerts(client, make_payload(), hook_headers)
    clock.advance(minutes=5)
    await change(client, 1, "ack", {"by": "alice"}, api_headers)
    await change(client, 1, "roles", {"role": "imoc", "person": "bob"}, api_headers)
    await change(client, 1, "notes", {"text": "rolling back"}, api_headers)
    clock.advance(minutes=20)
    await change(client, 1, "resolve", {}, api_headers)
    timeline = await call(client, "GET", f"{INCIDENTS}/1/timeline", 200)
    assert timeline["incident_id"] == 1
    entries = timeline["entries"]
    assert [e["kind"] for e in entries] == [
        "declared",
        "alert_firing",
        "acknowledged",
        "role_assigned",
        "role_assigned",
        "ownership_passed",
        "note",
        "resolved",
    ]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert (entries[0]["at"], entries[-1]["at"]) == (declared_at, clock.now().isoformat())


async def test_near_misses_are_listed(
    client: Client, clock: FakeClock, hook_headers: dict[str, str]
) -> None:
    labels = {
        "alertname": "ErrorBudgetBurn",
        "slo": "search-availability",
        "severity": "warning",
        "long": "1d",
        "short": "2h",
        "service": "search",
    }
    firing = make_alert(labels=labels, fingerprint="fp-search-burn")
    await post_alerts(client, make_payload(firing), hook_headers)
    clock.advance(minutes=30)
    recovered = make_alert(
        "resolved", labels=labels, fingerprint="fp-search-burn", ends_at=clock.now()
    )
    answer = await post_alerts(client, make_payload(recovered), hook_headers)
    assert answer["incidents"] == []
    assert await ids(client) == []
    found = await call(client, "GET", "/api/v1/near-misses", 200)
    [miss] = found["near_misses"]
    assert (miss["service"], miss["alert"]["name"]) == ("search", "ErrorBudgetBurn")
    assert miss["reason"] == "below the declare threshold (partial_disruption)"
    assert miss["recovered_at"] == clock.now().isoformat()
    assert await metric(client, "firstresponder_near_misses_total", service="search") == 1
    assert (await call(client, "GET", "/api/v1/near-misses?limit=1", 200))["near_misses"] == [miss]


MUTATIONS = [
    ("", {"service": "search", "title": "t"}),
    ("/1/ack", {}),
    ("/1/state", {"state": "identified"}),
    ("/1/roles", {"role": "imoc", "person": "bob"}),
    ("/1/notes", {"text": "hello"}),
    ("/1/resolve", {}),
    ("/1/severity", {"severity": "S1"}),
]
CREDENTIALS = {
    "none": None,
    "wrong-token": "Bearer not-a-token",
    "webhook-token": f"Bearer {WEBHOOK_TOKEN}",
    "uppercased-token": f"Bearer {API_TOKEN.upper()}",
}


@pytest.mark.parametrize(("suffix", "body"), MUTATIONS, ids=[m[0] or "/declare" for m in MUTATIONS])
@pytest.mark.parametrize("credential", list(CREDENTIALS))
async def test_mutations_need_the_api_token(
    client: Client, hook_headers: dict[str, str], suffix: str, body: dict[str, Any], credential: str
) -> None:
    await post_alerts(client, make_payload(), hook_headers)
    before = await snapshot(client, 1)
    sent = {"Content-Type": "application/json"}
    authorization = CREDENTIALS[credential]
    if authorization is not None:
        sent["Authorization"] = authorization
    refused = await call(client, "POST", f"{INCIDENTS}{suffix}", 401, json=body, headers=sent)
    assert "API token" in refused["error"]
    assert await snapshot(client, 1) == before
    assert await ids(client) == [1]


@pytest.mark.parametrize(("suffix", "body"), MUTATIONS[1:], ids=[m[0] for m in MUTATIONS[1:]])
async def test_mutations_of_an_unknown_incident_are_404(
    client: Client, api_headers: dict[str, str], suffix: str, body: dict[str, Any]
) -> None:
    path = f"{INCIDENTS}{suffix.replace('/1/', '/77/')}"
    missing = await call(client, "POST", path, 404, json=body, headers=api_headers)
    assert missing == {"error": "incident 77 not found"}
