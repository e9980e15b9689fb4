"""The daemon's main path through the real HTTP app: alert in, incident out."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ..factories import make_alert, make_payload


async def test_firing_alert_declares_incident(
    client: TestClient[Any, Any], hook_headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/alertmanager", json=make_payload(), headers=hook_headers)
    assert response.status == 200, await response.text()
    listing = await (await client.get("/api/v1/incidents")).json()
    assert [(i["service"], i["severity"], i["state"]) for i in listing["incidents"]] == [
        ("checkout", "S2", "investigating")
    ]


async def test_same_payload_five_times_changes_nothing_after_first(
    client: TestClient[Any, Any], hook_headers: dict[str, str]
) -> None:
    payload = make_payload(make_alert(), make_alert(labels={"alertname": "Latency"}))
    answers = [
        await (await client.post("/api/v1/alertmanager", json=payload, headers=hook_headers)).json()
        for _ in range(5)
    ]
    assert [a["new"] for a in answers] == [2, 0, 0, 0, 0]
    timeline = await (await client.get("/api/v1/incidents/1/timeline")).json()
    assert len((await (await client.get("/api/v1/incidents")).json())["incidents"]) == 1
    assert [e["kind"] for e in timeline["entries"]].count("declared") == 1
