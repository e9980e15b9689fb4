"""Who is on call right now, per role, from PagerDuty schedules (REST API v2).

Advisory only (it names people in incident channels and pages): every failure is logged
as a warning and the lookup returns whatever it found, never raising. The `pagerduty`
package is synchronous, so the lookup runs in a worker thread with the package's own
retries off (`one_attempt`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import Any

import pagerduty

from ..domain.vocabulary import Role
from .http import reason, scrub
from .pagerduty import answer_of, one_attempt

DEFAULT_API_URL = "https://api.pagerduty.com"

logger = logging.getLogger(__name__)


class PagerDutyOnCall:
    def __init__(
        self,
        api_url: str,
        api_token: str,
        schedules: Mapping[Role, str],
        timeout_s: float = 10.0,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not api_url.startswith("https://"):
            raise ValueError(f"PagerDuty api_url must be an https:// URL, got {api_url!r}")
        self._token = api_token
        self._schedules = dict(schedules)
        self._client = pagerduty.RestApiV2Client(
            api_token, base_url=api_url.rstrip("/"), verify=tls if tls is not None else True
        )
        one_attempt(self._client, timeout_s)

    async def on_call(self) -> dict[Role, str]:
        """The name of whoever is on call first in each role's schedule."""
        return await asyncio.to_thread(self._look_up)

    def _look_up(self) -> dict[Role, str]:
        found: dict[Role, str] = {}
        for role, schedule in self._schedules.items():
            try:
                name = first_on_call(self._client.jget("/oncalls", params=_query(schedule)))
            except pagerduty.HttpError as exc:  # this schedule's answer; others may still work
                answer = answer_of(exc)
                self._warn(role, schedule, f"HTTP {answer.status}: {reason(answer.text)}")
                continue
            except pagerduty.Error as exc:  # unreachable: asking again right now will not help
                self._warn(role, schedule, f"unreachable: {type(exc.__cause__ or exc).__name__}")
                break
            except Exception as exc:  # advisory: a surprise here must never break paging
                self._warn(role, schedule, f"unexpected {type(exc).__name__}")
                break
            if name is not None:
                found[role] = name
        return found

    def _warn(self, role: Role, schedule: str, problem: str) -> None:
        logger.warning(
            "on-call lookup for %s (schedule %s) failed: %s",
            role.value,
            schedule,
            scrub(problem, (self._token,)),
        )

    async def close(self) -> None:
        self._client.close()


def _query(schedule: str) -> dict[str, Any]:
    # `earliest` keeps one entry per escalation level and user: the current shift.
    return {"schedule_ids[]": [schedule], "earliest": "true"}


def first_on_call(body: Any) -> str | None:
    """`user.summary` of the lowest escalation level's entry in a `GET /oncalls` answer."""
    entries = body.get("oncalls") if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        return None
    ranked = sorted(
        (entry for entry in entries if isinstance(entry, Mapping)),
        key=lambda entry: entry.get("escalation_level") or 0,
    )
    for entry in ranked:
        user = entry.get("user")
        if isinstance(user, Mapping) and isinstance(user.get("summary"), str):
            return str(user["summary"])
    return None
