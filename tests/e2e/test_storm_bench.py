"""The storm benchmark's harness runs end to end: a 5-service storm on SQLite.

Not a performance test: it proves the instrument works (the fakes start, the daemon pages
them, the figures and the JSON file come out). No figure is asserted but the page counts,
and the waits end as soon as every page has arrived.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.storm.__main__ import main

pytestmark = pytest.mark.e2e


def test_a_tiny_storm_is_measured_and_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--sizes", "5", "--stores", "sqlite", "--ack-timeout", "2"]
    argv += ["--storm-timeout", "60", "--eoc-wait", "60", "--imoc-grace", "60"]
    assert main([*argv, "--results-dir", str(tmp_path)]) == 0

    [path] = tmp_path.glob("storm-*.json")
    [cell] = json.loads(path.read_text())["cells"]
    assert cell["error"] is None
    assert cell["load"]["notifications"] == 10
    assert cell["load"]["answered_2xx"] == 10
    assert (cell["expected_pages"], cell["eoc_pages"], cell["imoc_pages"]) == (5, 5, 5)
    assert cell["extra_triggers"] == 0
    assert cell["backlog"], "the /metrics sampler recorded nothing"
    assert "sqlite        1      5" in capsys.readouterr().out
