"""The Alertmanager silences client against the fake API: what each answer becomes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from firstresponder.alertmanager_client import AlertmanagerClient, silence_state
from firstresponder.clock import utc_iso
from firstresponder.pagers.base import PermanentDeliveryError, TransientDeliveryError

from ..fakes.alertmanager import FakeAlertmanager

MATCHERS = [{"name": "alertname", "value": "CartErrors", "isRegex": False, "isEqual": True}]


@pytest.fixture
async def am() -> AsyncIterator[FakeAlertmanager]:
    async with FakeAlertmanager() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def silence(minutes: float = 60) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "matchers": MATCHERS,
        "startsAt": utc_iso(now),
        "endsAt": utc_iso(now + timedelta(minutes=minutes)),
        "createdBy": "firstresponder",
        "comment": "incident 1",
    }


async def test_create_read_expire_and_expire_again(
    am: FakeAlertmanager, session: aiohttp.ClientSession
) -> None:
    client = AlertmanagerClient(session, am.url + "/", bearer_token="tok")
    silence_id = await client.post_silence(silence())
    found = await client.get_silence(silence_id)
    assert found is not None and silence_state(found) == "active"
    assert await client.expire_silence(silence_id) is True
    assert await client.expire_silence(silence_id) is False  # already expired (500)
    assert await client.expire_silence("no-such-id") is False  # 404
    assert await client.get_silence("no-such-id") is None
    assert {r.headers["Authorization"] for r in am.requests} == {"Bearer tok"}


async def test_credentials_in_the_url_go_in_a_header_never_in_a_message(
    am: FakeAlertmanager, session: aiohttp.ClientSession
) -> None:
    url = am.url.replace("http://", "http://firstresponder:s3cret-pw@")
    client = AlertmanagerClient(session, url)
    am.fail_next(401, body="unauthorized s3cret-pw")
    with pytest.raises(PermanentDeliveryError) as caught:
        await client.post_silence(silence())
    assert "s3cret-pw" not in str(caught.value)
    expected = base64.b64encode(b"firstresponder:s3cret-pw").decode()
    assert am.requests[0].headers["Authorization"] == f"Basic {expected}"
    assert am.requests[0].path == "/api/v2/silences"


async def test_a_bad_silence_is_permanent_an_outage_is_transient(
    am: FakeAlertmanager, session: aiohttp.ClientSession
) -> None:
    client = AlertmanagerClient(session, am.url)
    with pytest.raises(PermanentDeliveryError, match="HTTP 400"):
        await client.post_silence({**silence(), "matchers": []})
    am.fail_next(429, retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        await client.post_silence(silence())
    assert caught.value.retry_after == 7
    am.fail_next(503)
    with pytest.raises(TransientDeliveryError, match="HTTP 503"):
        await client.post_silence(silence())


async def test_nothing_listening_is_transient(session: aiohttp.ClientSession) -> None:
    client = AlertmanagerClient(session, "http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await client.post_silence(silence())
