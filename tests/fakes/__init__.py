"""Fake third-party servers for tests: real aiohttp apps on free local ports."""

from .oncall import FakeAlertGroup, FakeGrafanaOnCall
from .pagerduty import FakeIncident, FakePagerDuty
from .server import CA_FILE, FakeReceiver, FakeServer, Recorded, client_tls

__all__ = [
    "CA_FILE",
    "FakeAlertGroup",
    "FakeGrafanaOnCall",
    "FakeIncident",
    "FakePagerDuty",
    "FakeReceiver",
    "FakeServer",
    "Recorded",
    "client_tls",
]
