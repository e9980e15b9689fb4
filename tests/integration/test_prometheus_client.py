"""The Prometheus client against a fake Prometheus: a real aiohttp app on a local port."""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import socket
import ssl
import subprocess
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from firstresponder.prometheus import (
    PrometheusClient,
    PrometheusQueryError,
    Sample,
    build_ssl_context,
)

AiohttpServer = Callable[..., Awaitable[TestServer]]
TOKEN = "s3cret-token"


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-able, or a str sent as is
    hang: bool = False


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    form: dict[str, str]


def vector(*samples: tuple[dict[str, str], str], warnings: list[str] | None = None) -> Any:
    result = [{"metric": labels, "value": [1700000000.0, value]} for labels, value in samples]
    answer: dict[str, Any] = {
        "status": "success",
        "data": {"resultType": "vector", "result": result},
    }
    if warnings:
        answer["warnings"] = warnings
    return answer


def failure(error_type: str, message: str = "boom") -> Any:
    return {"status": "error", "errorType": error_type, "error": message}


@dataclass
class FakePrometheus:
    """Answers queued answers in order, then empty vectors; records every request."""

    answers: deque[Answer] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(Recorded(request.path, dict(request.headers), form))
        answer = self.answers.popleft() if self.answers else Answer(body=vector())
        if answer.hang:
            await self.release.wait()
        if isinstance(answer.body, str):
            return web.Response(status=answer.status, text=answer.body, content_type="text/html")
        return web.json_response(answer.body, status=answer.status)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


@pytest.fixture
async def fake() -> AsyncIterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.release.set()  # let hanging handlers finish so the server shuts down at once


@pytest.fixture
async def base_url(aiohttp_server: AiohttpServer, fake: FakePrometheus) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("/prom"))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client_for(session: aiohttp.ClientSession, base_url: str, **options: Any) -> PrometheusClient:
    options.setdefault("timeout", 2.0)
    options.setdefault("backoff", 0.01)
    return PrometheusClient(session, base_url, **options)


async def test_vector_values_are_parsed_with_nan_and_infinities(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    fake.queue(
        Answer(
            body=vector(
                ({"region": "eu"}, "0.072"),
                ({"region": "us"}, "NaN"),
                ({"region": "ap"}, "+Inf"),
                ({"region": "sa"}, "-Inf"),
            )
        )
    )
    samples = await client_for(session, base_url).query(
        "slo:sli_error:ratio_rate5m", at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    )
    assert [(s.labels["region"], s.value) for s in samples[:1]] == [("eu", 0.072)]
    assert math.isnan(samples[1].value)
    assert [s.value for s in samples[2:]] == [math.inf, -math.inf]
    request = fake.requests[0]
    assert request.path == "/prom/api/v1/query"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form["query"] == "slo:sli_error:ratio_rate5m"
    assert request.form["time"] == "1714564800.000"
    assert 0 < float(request.form["timeout"]) <= 2.0


async def test_scalar_and_empty_answers(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "0.25"]}}
    fake.queue(Answer(body=scalar), Answer(body=vector()))
    client = client_for(session, base_url)
    assert await client.query("scalar(1/4)") == [Sample({}, 0.25)]
    assert await client.query("absent_metric") == []
    assert "time" not in fake.requests[1].form  # no `at`: Prometheus's own now


async def test_naive_time_is_taken_as_utc(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    await client_for(session, base_url).query("up", at=datetime(2024, 5, 1, 12, 0))
    assert fake.requests[0].form["time"] == "1714564800.000"


@pytest.mark.parametrize(
    ("options", "authorization"),
    [
        ({"bearer_token": TOKEN}, f"Bearer {TOKEN}"),
        ({"basic_auth": ("prom", "pa:ss")}, "Basic cHJvbTpwYTpzcw=="),
    ],
    ids=["bearer", "basic"],
)
async def test_credentials_are_sent(
    fake: FakePrometheus,
    base_url: str,
    session: aiohttp.ClientSession,
    options: dict[str, Any],
    authorization: str,
) -> None:
    await client_for(session, base_url, **options).query("up")
    assert fake.requests[0].headers["Authorization"] == authorization


async def test_user_and_password_in_the_url_become_a_header_not_a_message(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    url = base_url.replace("http://", "http://prom:pa55@")
    fake.queue(*[Answer(status=502, body="<html>Bad Gateway</html>")] * 3)
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, url).query("up")
    assert fake.requests[0].headers["Authorization"] == "Basic cHJvbTpwYTU1"
    assert "pa55" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "bad_data"), (422, "execution")],
)
async def test_query_errors_are_permanent_and_not_retried(
    fake: FakePrometheus,
    base_url: str,
    session: aiohttp.ClientSession,
    status: int,
    error_type: str,
) -> None:
    fake.queue(Answer(status=status, body=failure(error_type, 'parse error: unexpected "}"')))
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, base_url).query("rate(x[5m]}")
    error = caught.value
    assert (error.permanent, error.status, error.error_type) == (True, status, error_type)
    assert 'parse error: unexpected "}"' in str(error)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(503, "timeout"), (500, "internal"), (499, "canceled"), (503, "unavailable")],
)
async def test_server_errors_are_retried_twice_then_transient(
    fake: FakePrometheus,
    base_url: str,
    session: aiohttp.ClientSession,
    status: int,
    error_type: str,
) -> None:
    fake.queue(*[Answer(status=status, body=failure(error_type))] * 5)
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, base_url).query("up")
    assert (caught.value.permanent, caught.value.status) == (False, status)
    assert len(fake.requests) == 3


async def test_retry_recovers_after_two_unavailable_answers(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    fake.queue(
        Answer(status=503, body=failure("unavailable")),
        Answer(status=503, body=failure("unavailable")),
        Answer(body=vector(({"job": "api"}, "1"))),
    )
    assert await client_for(session, base_url).query("up") == [Sample({"job": "api"}, 1.0)]
    assert len(fake.requests) == 3


async def test_proxy_html_is_named_by_status_and_excerpt(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    page = "<html>\n<body><h1>502 Bad Gateway</h1>" + "x" * 1000 + "</body></html>"
    fake.queue(*[Answer(status=502, body=page)] * 3)
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, base_url).query("up")
    message = str(caught.value)
    assert "HTTP 502 without JSON" in message
    assert "<h1>502 Bad Gateway</h1>" in message
    assert len(message) < 400
    assert (caught.value.permanent, len(fake.requests)) == (False, 3)


async def test_html_at_a_wrong_path_is_permanent(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    fake.queue(Answer(status=404, body="<html>Not Found</html>"))
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, base_url).query("up")
    assert (caught.value.permanent, caught.value.status, len(fake.requests)) == (True, 404, 1)


async def test_a_slow_prometheus_times_out_within_the_budget(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    fake.queue(*[Answer(hang=True)] * 3)
    started = time.monotonic()
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, base_url, timeout=0.2).query("up")
    assert time.monotonic() - started < 0.6
    assert (caught.value.permanent, caught.value.error_type) == (False, "timeout")
    assert "did not answer within 0.2s" in str(caught.value)


async def test_an_unreachable_prometheus_is_transient(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, f"http://127.0.0.1:{port}", timeout=0.5).query("up")
    assert caught.value.permanent is False
    assert "unreachable" in str(caught.value)


async def test_warnings_are_logged_without_credentials(
    fake: FakePrometheus,
    base_url: str,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.queue(Answer(body=vector(warnings=["PromQL info: metric might not be a counter"])))
    with caplog.at_level(logging.WARNING, logger="firstresponder.prometheus"):
        await client_for(session, base_url, bearer_token=TOKEN).query("rate(x[5m])")
    assert "metric might not be a counter" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_range_answer_is_refused(
    fake: FakePrometheus, base_url: str, session: aiohttp.ClientSession
) -> None:
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    fake.queue(Answer(body=matrix))
    with pytest.raises(PrometheusQueryError, match="'matrix'") as caught:
        await client_for(session, base_url).query("up[5m]")
    assert caught.value.permanent is True


def test_bearer_and_basic_together_are_refused(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError):
        PrometheusClient(session, "http://p", bearer_token=TOKEN, basic_auth=("a", "b"))


def test_ssl_context_options(tmp_path: Path) -> None:
    assert build_ssl_context(insecure_skip_verify=True).verify_mode is ssl.CERT_NONE
    assert build_ssl_context().verify_mode is ssl.CERT_REQUIRED
    with pytest.raises(ValueError, match="cert_file"):
        build_ssl_context(key_file=str(tmp_path / "key.pem"))
    with pytest.raises(FileNotFoundError):
        build_ssl_context(ca_file=str(tmp_path / "missing.pem"))


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_with_a_private_ca(
    aiohttp_server: AiohttpServer,
    fake: FakePrometheus,
    session: aiohttp.ClientSession,
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = await aiohttp_server(fake.app(), ssl=server_side)
    url = str(server.make_url("/")).replace("http://", "https://")
    trusted = client_for(session, url, ssl=build_ssl_context(ca_file=str(cert)))
    assert await trusted.query("up") == []
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, url).query("up")
    assert caught.value.permanent is True
    assert "TLS" in str(caught.value)
    assert [r.form["query"] for r in fake.requests] == ["up"]  # only the trusted one got through
