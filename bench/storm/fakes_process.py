"""Start `python -m bench.storm.fakes` as a process and read what it records."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes import client_tls

from ..ingest.servers import REPO, stop


@dataclass(frozen=True)
class Fakes:
    ready: dict[str, Any]  # what the process printed: URLs, token, announce channel

    def _get(self, url: str) -> Any:
        with urllib.request.urlopen(url, timeout=30, context=client_tls()) as response:
            return json.loads(response.read())

    def page_counts(self) -> dict[str, int]:
        """Distinct dedup keys PagerDuty accepted a trigger for, per routing key."""
        counts: dict[str, int] = self._get(self.ready["pagerduty_url"] + "/bench/pages?summary=1")
        return counts

    def page_events(self) -> list[list[Any]]:
        """Every Events API call: [at, routing_key, dedup_key, action, status]."""
        events: list[list[Any]] = self._get(self.ready["pagerduty_url"] + "/bench/pages")["events"]
        return events

    def slack_stats(self) -> dict[str, Any]:
        base = self.ready["slack_api_url"].removesuffix("/api/")
        stats: dict[str, Any] = self._get(base + "/bench/slack")
        return stats


@contextlib.contextmanager
def running(slack_rate_scale: float, timeout: float = 30.0) -> Iterator[Fakes]:
    cmd = [sys.executable, "-m", "bench.storm.fakes", str(slack_rate_scale)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if readable else b""
        if not line:
            raise RuntimeError(f"the fakes did not start within {timeout:.0f}s")
        yield Fakes(json.loads(line))
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
