"""HTTP answers turned into delivery errors, once, for every pager.

2xx is success; 429 and 5xx are transient (honouring `Retry-After`); every other status
is permanent. Messages name the target, the status and a short reason taken from the
body, with every secret the pager holds scrubbed out. URLs are left out on purpose: a
webhook URL can carry a token in its path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from .base import DeliveryError, PermanentDeliveryError, TransientDeliveryError, parse_retry_after

REASON_LIMIT = 200


@dataclass(frozen=True)
class Answer:
    """What came back from one request."""

    status: int
    text: str
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The decoded body; None when empty or not JSON."""
        try:
            return json.loads(self.text) if self.text.strip() else None
        except ValueError:
            return None


def failure(target: str, answer: Answer, secrets: Iterable[str] = ()) -> DeliveryError:
    """The error for a non-2xx answer (or a 2xx answer the pager could not use)."""
    message = scrub(f"{target}: HTTP {answer.status}: {reason(answer.text)}", secrets)
    if answer.status == 429 or answer.status >= 500 or answer.ok:
        return TransientDeliveryError(message, retry_after=parse_retry_after(answer.retry_after))
    return PermanentDeliveryError(message)


def timed_out(target: str, timeout_s: float) -> TransientDeliveryError:
    return TransientDeliveryError(f"{target}: no answer within {timeout_s:g}s")


def unreachable(target: str, exc: BaseException) -> TransientDeliveryError:
    """A transport error. Only its type and OS reason are named: some libraries put the
    full URL, and so any token in it, into their messages."""
    detail = type(exc).__name__
    strerror = _os_reason(exc)
    return TransientDeliveryError(
        f"{target}: unreachable: {detail}" + (f" ({strerror})" if strerror else "")
    )


def _os_reason(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    for _ in range(5):  # the OSError sits a few causes down in aiohttp and httpx
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return None


def reason(body: str) -> str:
    """A one-line reason from an error body: the API's own message when it has one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    text = _message_of(parsed) if parsed is not None else body
    text = " ".join(text.split()) or "(empty body)"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def _message_of(parsed: Any) -> str:
    """PagerDuty: `message` + `errors[]` (REST: nested under `error`); Django REST
    framework (Grafana OnCall): `detail` or per-field lists; GitHub: `message` +
    `errors[]`; Jira: `errorMessages[]` + `errors{}`; anything else: compact JSON."""
    if isinstance(parsed, Mapping):
        if "errorMessages" in parsed:  # Jira: a list, and a map of field -> message
            return _jira_message(parsed)
        if isinstance(parsed.get("error"), Mapping):
            return _message_of(parsed["error"])
        for key in ("message", "detail", "error"):
            if isinstance(parsed.get(key), str):
                errors = parsed.get("errors")
                if isinstance(errors, list) and errors:
                    return f"{parsed[key]}: " + "; ".join(str(error) for error in errors)
                return str(parsed[key])
    return json.dumps(parsed, separators=(",", ":"), default=str)


def _jira_message(parsed: Mapping[str, Any]) -> str:
    messages = [str(m) for m in parsed.get("errorMessages") or []]
    fields = parsed.get("errors")
    if isinstance(fields, Mapping):
        messages += [f"{name}: {text}" for name, text in fields.items()]
    return "; ".join(messages) or "(no error message)"


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:  # shorter values would mangle ordinary words
            text = text.replace(secret, "***")
    return text


async def post(
    session: aiohttp.ClientSession,
    url: URL | str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    *,
    target: str,
    timeout_s: float,
) -> Answer:
    """POST once. Timeouts and transport errors raise; any HTTP answer is returned."""
    try:
        async with session.post(
            url,
            json=body,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            text = (await response.read()).decode("utf-8", "replace")
            return Answer(response.status, text, response.headers.get("Retry-After"))
    except TimeoutError:
        raise timed_out(target, timeout_s) from None
    except aiohttp.ClientError as exc:
        raise unreachable(target, exc) from None
