"""The clock port: loops ask it for the time and to sleep; tests drive a fake one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def utc_iso(value: datetime) -> str:
    """A time as ISO 8601 in UTC with a Z, as reports and pages show it to machines."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
