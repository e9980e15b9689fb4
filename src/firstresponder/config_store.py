"""The `store` section of the config: where the data lives and how long to wait for it.

The timeouts bound what a slow or unreachable database costs one request: it is answered
503 (Alertmanager retries) after seconds, never left hanging. `busy_timeout` is SQLite's;
the other four are PostgreSQL's (SQLite ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .durations import DURATION_PATTERN, parse_duration

_DURATION = {"type": "string", "pattern": DURATION_PATTERN}
# PostgreSQL keeps statement_timeout and lock_timeout as int4 milliseconds.
PG_MAX_TIMEOUT = timedelta(milliseconds=2**31 - 1)

STORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": r"^(sqlite|postgresql)(\+\w+)?://"},
        "pool_size": {"type": "integer", "minimum": 1, "maximum": 100},
        "busy_timeout": _DURATION,
        "statement_timeout": _DURATION,
        "lock_timeout": _DURATION,
        "connect_timeout": _DURATION,
        "pool_timeout": _DURATION,
    },
}

_MUST_BE_POSITIVE = ("connect_timeout", "pool_timeout")
_SERVER_SETTINGS = ("statement_timeout", "lock_timeout")  # 0s turns them off


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///firstresponder.db"
    pool_size: int = 5  # the most connections one replica opens (PostgreSQL)
    busy_timeout: timedelta = timedelta(seconds=5)
    statement_timeout: timedelta = timedelta(seconds=30)
    lock_timeout: timedelta = timedelta(seconds=30)
    connect_timeout: timedelta = timedelta(seconds=5)
    pool_timeout: timedelta = timedelta(seconds=5)


def store_problems(raw: Any) -> list[str]:
    """Ranges the schema cannot check (it checks the shape); named `store.<key>`."""
    if not isinstance(raw, Mapping):
        return []
    problems = []
    for key in (*_MUST_BE_POSITIVE, *_SERVER_SETTINGS):
        value = _duration(raw.get(key))
        if value is None:
            continue
        if key in _MUST_BE_POSITIVE and value <= timedelta(0):
            problems.append(f"store.{key}: bad value {raw[key]!r} (must be more than 0)")
        if key in _SERVER_SETTINGS and value > PG_MAX_TIMEOUT:
            problems.append(
                f"store.{key}: bad value {raw[key]!r} (PostgreSQL allows at most 24d; 0s is off)"
            )
    return problems


def build_store(raw: Mapping[str, Any], base: Path) -> StoreConfig:
    """Call after the schema and `store_problems` passed."""
    statement_timeout = parse_duration(raw.get("statement_timeout", "30s"))
    lock_timeout = raw.get("lock_timeout")
    return StoreConfig(
        url=_store_url(raw["url"], base),
        pool_size=raw.get("pool_size", 5),
        busy_timeout=parse_duration(raw.get("busy_timeout", "5s")),
        statement_timeout=statement_timeout,
        lock_timeout=parse_duration(lock_timeout) if lock_timeout else statement_timeout,
        connect_timeout=parse_duration(raw.get("connect_timeout", "5s")),
        pool_timeout=parse_duration(raw.get("pool_timeout", "5s")),
    )


def _duration(value: Any) -> timedelta | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None  # the schema reports it


def _store_url(url: str, base: Path) -> str:
    """Relative SQLite paths are relative to the config file, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url
