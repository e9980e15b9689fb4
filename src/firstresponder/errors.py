"""Errors of firstresponder, translated once at each boundary.

FirstResponderError
├── ConfigError            the config or a rule file is wrong (lists every problem)
├── PayloadError           a request body is malformed (names the field) -> 400
├── NotFoundError          no such incident -> 404
├── ConflictError          the change collides with the current state -> 409
└── StoreUnavailable       the database cannot be reached -> 503 (Alertmanager retries)
"""

from __future__ import annotations

from collections.abc import Sequence


class FirstResponderError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(FirstResponderError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PayloadError(FirstResponderError):
    """The message names the offending field: `alerts[2].startsAt: ...`."""


class NotFoundError(FirstResponderError):
    pass


class ConflictError(FirstResponderError):
    pass


class StoreUnavailable(FirstResponderError):
    """The store cannot take writes right now; a retry may succeed."""
