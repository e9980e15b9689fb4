"""Who may call: Alertmanager's bearer or basic credentials, and API tokens for changes.

Every comparison is constant-time, and credentials never reach a log or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Sequence

from aiohttp import web

from ..config import ApiToken, WebhookAuth


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _credentials(request: web.Request, scheme: str) -> str | None:
    header = request.headers.get("Authorization", "")
    name, _, value = header.partition(" ")
    if name.lower() != scheme.lower() or not value.strip():
        return None
    return value.strip()


def _basic(request: web.Request) -> tuple[str, str] | None:
    encoded = _credentials(request, "Basic")
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def unauthorized(message: str, scheme: str = "Bearer") -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={"WWW-Authenticate": f'{scheme} realm="firstresponder"'},
    )


def check_webhook(request: web.Request, auth: WebhookAuth) -> None:
    if auth.allow_anonymous:
        return
    ok = False
    if auth.bearer_token:
        token = _credentials(request, "Bearer")
        ok = token is not None and _same(token, auth.bearer_token)
    if not ok and auth.basic_username and auth.basic_password:
        pair = _basic(request)
        if pair is not None:
            # Both compared every time so the answer's timing says nothing about which was wrong.
            user_ok = _same(pair[0], auth.basic_username)
            pass_ok = _same(pair[1], auth.basic_password)
            ok = user_ok and pass_ok
    if not ok:
        scheme = "Bearer" if auth.bearer_token else "Basic"
        raise unauthorized("missing or wrong webhook credentials", scheme)


def check_api_token(request: web.Request, tokens: Sequence[ApiToken]) -> str:
    """Return the name of the caller's token; 401 unless one matches."""
    given = _credentials(request, "Bearer")
    if not tokens:
        raise unauthorized("no API tokens are configured (auth.api_tokens); changes are disabled")
    if given is None:
        raise unauthorized("this endpoint needs an API token: Authorization: Bearer <token>")
    found = None
    for token in tokens:
        if _same(given, token.token) and found is None:
            found = token.name
    if found is None:
        raise unauthorized("unknown API token")
    return found
