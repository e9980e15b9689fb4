"""Instant queries against the Prometheus HTTP API, errors translated once, here.

`POST /api/v1/query` (form-encoded). A `bad_data` (400) or `execution` (422) answer is
the query's fault and raised at once (`permanent=True`); 5xx, 499, 429, network errors
and timeouts are retried at most twice with short jittered backoff, all within the one
`timeout` budget, then raised with `permanent=False`; a TLS failure is permanent.
Proxies answering HTML are named by status and a body excerpt. Credentials go in
headers only (user:password in the base URL is moved there) and never into a message.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ssl import SSLContext
from typing import Any

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)
from yarl import URL

from .errors import FirstResponderError

logger = logging.getLogger(__name__)

_PERMANENT_TYPES = frozenset({"bad_data", "execution"})
_TRANSIENT_STATUSES = frozenset({429, 499})
_EXCERPT = 200


class PrometheusQueryError(FirstResponderError):
    """A query failed; `permanent` says whether asking again could help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.error_type = error_type


@dataclass(frozen=True)
class Sample:
    """One instant-vector element (a scalar answer has no labels)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = math.nan


class PrometheusClient:
    """Instant queries over a shared session; `timeout` bounds a call, retries included."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 10.0,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ssl: SSLContext | bool | None = None,
        retries: int = 2,
        backoff: float = 0.1,
    ) -> None:
        if bearer_token and basic_auth:
            raise ValueError("use a bearer token or basic auth, not both")
        url = URL(base_url)
        self._session = session
        self._url = url.with_user(None).with_password(None) / "api/v1/query"
        self._where = str(self._url)
        self._timeout = timeout
        self._ssl = True if ssl is None else ssl
        self._retries = retries
        self._backoff = backoff
        self._headers = {"Accept": "application/json"}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        elif basic_auth or url.user:
            user, password = basic_auth or (url.user or "", url.password or "")
            self._headers["Authorization"] = _basic(user, password)

    async def query(self, promql: str, at: datetime | None = None) -> list[Sample]:
        """Evaluate `promql` at `at` (naive means UTC; None means Prometheus's now)."""
        deadline = time.monotonic() + self._timeout
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self._retries + 1) | stop_before_delay(self._timeout),
            wait=wait_exponential(multiplier=self._backoff, max=1.0)
            + wait_random(0, self._backoff / 2),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(promql, at, deadline)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(self, promql: str, at: datetime | None, deadline: float) -> list[Sample]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        form = {"query": promql, "timeout": f"{remaining:.3f}"}
        if at is not None:
            form["time"] = f"{_aware(at).timestamp():.3f}"
        try:
            async with self._session.post(
                self._url,
                data=form,
                headers=self._headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as response:
                status, body = response.status, (await response.read()).decode("utf-8", "replace")
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except aiohttp.ClientSSLError as exc:  # a certificate mismatch does not heal on retry
            message = f"TLS to Prometheus at {self._where} failed: {exc}"
            raise PrometheusQueryError(message, permanent=True) from exc
        except aiohttp.ClientError as exc:
            message = f"Prometheus at {self._where} unreachable: {type(exc).__name__}: {exc}"
            raise PrometheusQueryError(message, permanent=False) from exc
        return self._answer(promql, status, body)

    def _timed_out(self) -> PrometheusQueryError:
        message = f"Prometheus at {self._where} did not answer within {self._timeout:g}s"
        return PrometheusQueryError(message, permanent=False, error_type="timeout")

    def _answer(self, promql: str, status: int, body: str) -> list[Sample]:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            excerpt = " ".join(body.split())[:_EXCERPT]
            message = (
                f"Prometheus at {self._where} answered HTTP {status} without JSON: {excerpt!r}"
            )
            raise PrometheusQueryError(message, permanent=not _retryable(status), status=status)
        for warning in payload.get("warnings") or ():
            logger.warning("Prometheus warning for query %r: %s", promql, warning)
        if payload.get("status") != "success" or status >= 300:
            raise _error(payload, status)
        return _samples(payload.get("data"))


def _error(payload: Mapping[str, Any], status: int) -> PrometheusQueryError:
    error_type = str(payload.get("errorType") or "unknown")
    permanent = error_type in _PERMANENT_TYPES or not _retryable(status)
    message = f"Prometheus query failed (HTTP {status}, {error_type}): {payload.get('error', '')}"
    return PrometheusQueryError(message, permanent=permanent, status=status, error_type=error_type)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _retryable(status: int) -> bool:
    return status >= 500 or status in _TRANSIENT_STATUSES


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, PrometheusQueryError) and not exc.permanent


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _samples(data: Any) -> list[Sample]:
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [Sample({}, float(result[1]))]
        if kind == "vector":
            return [Sample(dict(item["metric"]), float(item["value"][1])) for item in result]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusQueryError(f"malformed Prometheus answer: {exc!r}", permanent=True) from exc
    message = f"Prometheus answered a {kind!r} result; an instant vector or scalar was expected"
    raise PrometheusQueryError(message, permanent=True)


def build_ssl_context(
    ca_file: str | None = None,
    insecure_skip_verify: bool = False,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """A client TLS context: a private CA, a client certificate, or no verification at all."""
    if key_file and not cert_file:
        raise ValueError("a TLS key_file needs its cert_file")
    context = ssl.create_default_context(cafile=ca_file)
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


__all__ = ["PrometheusClient", "PrometheusQueryError", "Sample", "build_ssl_context"]
