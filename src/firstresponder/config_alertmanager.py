"""The Alertmanager API part of the config: where to create silences, and how to log in.

Silences are on when `alertmanager.url` is set (and `enabled` is not false). Auth and TLS
take the same keys as `prometheus`. `url` is Alertmanager's base URL (what it serves its
UI under, `--web.external-url`), without `/api/v2`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from yarl import URL

from .durations import DURATION_PATTERN, parse_duration

_API_PATH = re.compile(r"/api/v[12](/|$)")
_DURATION = {"type": "string", "pattern": DURATION_PATTERN}
_SECRET = {"type": "string", "minLength": 1}
_PATH = {"type": "string", "minLength": 1}

ALERTMANAGER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "url": {"type": "string", "pattern": "^https?://"},
        "silence_duration": _DURATION,
        "timeout": _DURATION,
        "bearer_token": _SECRET,
        "bearer_token_file": _SECRET,
        "basic_auth": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "username": {"type": "string", "minLength": 1},
                "password": _SECRET,
                "password_file": _SECRET,
            },
            "required": ["username"],
        },
        "tls": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ca_file": _PATH,
                "cert_file": _PATH,
                "key_file": _PATH,
                "insecure_skip_verify": {"type": "boolean"},
            },
        },
    },
}


@dataclass(frozen=True)
class AlertmanagerConfig:
    url: str = ""  # empty: silences are off
    silence_duration: timedelta = timedelta(hours=2)
    timeout: timedelta = timedelta(seconds=10)
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False

    @property
    def silences(self) -> bool:
        return bool(self.url)


def url_problems(key: str, text: str) -> list[str]:
    """What is wrong with a base URL, said so that a person can fix it (no secrets shown)."""
    try:
        url = URL(text)
    except ValueError as exc:
        return [f"{key}: bad value: not a URL ({exc})"]
    shown = str(url.with_user(None)) if url.user else text
    if url.scheme not in ("http", "https") or not url.host:
        return [f"{key}: bad value {shown!r} (give http(s)://host[:port][/prefix])"]
    if url.query_string or url.fragment:
        return [f"{key}: bad value {shown!r} (no query string or fragment)"]
    if _API_PATH.search(url.path):
        return [
            f"{key}: bad value {shown!r} (give Alertmanager's base URL, without /api/v2: "
            "firstresponder adds the API path)"
        ]
    try:
        _ = url.port
    except ValueError:
        return [f"{key}: bad value {shown!r} (bad port)"]
    return []


def build_alertmanager(
    raw: Mapping[str, Any] | None, base: Path
) -> tuple[AlertmanagerConfig, list[str]]:
    if raw is None or not raw.get("enabled", True) or not raw.get("url"):
        problems = []
        if raw and raw.get("enabled", True) and not raw.get("url"):
            problems.append("alertmanager.url: required when the alertmanager section is present")
        return AlertmanagerConfig(), problems
    problems = url_problems("alertmanager.url", raw["url"])
    basic = raw.get("basic_auth")
    if raw.get("bearer_token") and basic:
        problems.append("alertmanager: give bearer_token or basic_auth, not both")
    if basic and not basic.get("password"):
        problems.append("alertmanager.basic_auth: password (or password_file) is required")
    tls = raw.get("tls", {})
    if ("cert_file" in tls) != ("key_file" in tls):
        problems.append("alertmanager.tls: cert_file and key_file go together")
    duration = parse_duration(raw.get("silence_duration", "2h"))
    if duration < timedelta(seconds=2):
        problems.append(
            f"alertmanager.silence_duration: bad value {raw['silence_duration']!r} (at least 2s)"
        )

    def local(name: str) -> str | None:
        return str(base / tls[name]) if name in tls else None

    config = AlertmanagerConfig(
        url=str(raw["url"]).rstrip("/"),
        silence_duration=duration,
        timeout=parse_duration(raw.get("timeout", "10s")),
        bearer_token=raw.get("bearer_token"),
        basic_auth=(basic["username"], basic.get("password", "")) if basic else None,
        ca_file=local("ca_file"),
        cert_file=local("cert_file"),
        key_file=local("key_file"),
        insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
    )
    return config, problems
