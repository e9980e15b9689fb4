"""What every fake third-party server shares: a real aiohttp app on a free local port that
records every request and, when told to, answers from a script instead of normally.

    async with FakeReceiver() as hook:
        hook.fail_next(503, times=2, retry_after=7)   # the next two requests get 503
        hook.delay_next(30)                           # the third answers 30 s late
        ... hook.url ... hook.requests ...

TLS (`tls = True`) uses the certificate in `tls/`: a private CA (`ca.pem`, valid to 2126)
that signed `server.pem` for 127.0.0.1 and localhost; its CA key was thrown away.
`client_tls()` trusts it, or point SSL_CERT_FILE at `CA_FILE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict

TLS_DIR = Path(__file__).parent / "tls"
CA_FILE = TLS_DIR / "ca.pem"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_tls() -> ssl.SSLContext:
    """A client context that trusts the fakes' private CA."""
    return ssl.create_default_context(cafile=str(CA_FILE))


def _server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_DIR / "server.pem", TLS_DIR / "server.key")
    return context


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: CIMultiDict[str]
    text: str
    json: Any  # the parsed body, None when empty or not JSON
    received_at: float  # time.monotonic()


@dataclass(frozen=True)
class _Step:
    status: int | None = None  # None: answer normally (after the delay)
    retry_after: float | str | None = None
    body: Any = None
    delay: float = 0.0


class FakeServer:
    """Subclasses list their routes in `routes()` and may shape `failure_body()`."""

    tls = False

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[_Step] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    def routes(self) -> Iterable[web.RouteDef]:
        raise NotImplementedError

    def failure_body(self, status: int) -> Any:
        """The body of a scripted failure, in the shape of the API being faked."""
        return {"message": HTTPStatus(status).phrase}

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}"

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests with `status` (after any queued steps)."""
        self._script.extend(_Step(status, retry_after, body) for _ in range(times))

    def recover(self) -> None:
        """Forget the scripted failures not yet used: answer normally from now on."""
        self._script.clear()

    def delay_next(self, seconds: float) -> None:
        """Answer the next request normally, but only after `seconds`."""
        self._script.append(_Step(delay=seconds))

    def requests_to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._record_then_script])
        app.add_routes(list(self.routes()))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site_tls = _server_tls() if self.tls else None
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=site_tls)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing.set()  # wakes delayed answers so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record_then_script(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        text = await request.text()  # aiohttp keeps the body, so handlers can read it again
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query={key: request.query.getall(key) for key in request.query},
                headers=CIMultiDict(request.headers),
                text=text,
                json=_parse(request, text),
                received_at=time.monotonic(),
            )
        )
        step = self._script.popleft() if self._script else _Step()
        if step.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), step.delay)
        if step.status is None:
            return await handler(request)
        headers = {} if step.retry_after is None else {"Retry-After": _seconds(step.retry_after)}
        body = self.failure_body(step.status) if step.body is None else step.body
        if isinstance(body, str):
            return web.Response(status=step.status, text=body, headers=headers)
        return web.json_response(body, status=step.status, headers=headers)


class FakeReceiver(FakeServer):
    """A generic webhook receiver: accepts POSTs on any path and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/{tail:.*}", self._receive)]

    async def _receive(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True}, status=self.status)


def _parse(request: web.Request, text: str) -> Any:
    if not text or request.content_type != "application/json":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _seconds(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"
