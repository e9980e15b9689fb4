"""The Grafana dashboard: valid, wired to the datasource variable, and made of metrics the
daemon exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart import DASHBOARD, metric_names, selectors
from .metric_names import BY_NAME, metric_of

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def all_panels() -> list[dict[str, Any]]:
    out = []
    for panel in dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def data_panels() -> list[dict[str, Any]]:
    return [p for p in all_panels() if p["type"] != "row"]


def expressions() -> list[str]:
    return [t["expr"] for p in data_panels() for t in p["targets"]]


def variable_queries() -> list[str]:
    """The selectors of the query variables: label_values(SELECTOR, label) -> SELECTOR."""
    out = []
    for var in dashboard()["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]
            text = query["query"] if isinstance(query, dict) else query
            hit = re.fullmatch(r"label_values\((.*),\s*\w+\)", text)
            assert hit, f"variable {var['name']}: {text}"
            out.append(hit.group(1))
    return out


def test_identity_and_schema_version() -> None:
    board = dashboard()
    assert board["uid"] == "firstresponder" and board["title"]
    assert board["schemaVersion"] >= 36


def test_datasource_variable_of_type_prometheus() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE


def test_panel_ids_are_unique() -> None:
    ids = [p["id"] for p in all_panels()]
    assert len(ids) == len(set(ids))


def test_panels_are_time_series_or_stat() -> None:
    assert {p["type"] for p in data_panels()} <= {"timeseries", "stat"}


@pytest.mark.parametrize("panel", data_panels(), ids=lambda p: str(p["title"]))
def test_every_panel_and_query_uses_the_datasource_variable(panel: dict[str, Any]) -> None:
    assert panel["datasource"] == DATASOURCE
    assert panel["targets"]
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE


def test_panels_fit_the_grid_and_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in all_panels():
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_every_metric_is_one_the_daemon_exports() -> None:
    used = set().union(*(metric_names(e) for e in expressions() + variable_queries()))
    assert {metric_of(n) for n in used} - set(BY_NAME) == set()


def test_every_query_is_scoped_by_the_namespace_and_job_variables() -> None:
    for expr in expressions():
        for name, matchers in selectors(expr, metric_names(expr)):
            assert 'namespace=~"$namespace"' in matchers and 'job=~"$job"' in matchers, (
                f"{name} in {expr}"
            )


def test_the_panels_the_brief_asks_for() -> None:
    text = "\n".join(expressions())
    needed = [
        r"by \(severity\) \(max by \(namespace, job, severity\) \(firstresponder_open_incidents",
        r"sum by \(impact\) \(increase\(firstresponder_incidents_declared_total",
        r"sum by \(service\) \(increase\(firstresponder_incidents_declared_total",
        r"sum by \(target, result\) \(increase\(firstresponder_pages_total",
        r"sum by \(reason\) \(increase\(firstresponder_escalations_total",
        r"histogram_quantile\(0\.9, sum by \(le\) \(rate\(firstresponder_escalation_lag_seconds_bucket",
        r"firstresponder_outbox_backlog\{",
        r"firstresponder_outbox_oldest_pending_seconds\{",
        r"sum by \(code\) \(rate\(firstresponder_webhook_requests_total",
        r'firstresponder_webhook_requests_total\{[^}]*code=~"5\.\."[^}]*\}.*\) / sum\(rate\(firstresponder_webhook_requests_total',
        r"histogram_quantile\(0\.5, sum by \(le\) \(rate\(firstresponder_webhook_duration_seconds_bucket",
        r"histogram_quantile\(0\.99, sum by \(le\) \(rate\(firstresponder_webhook_duration_seconds_bucket",
        r"sum by \(service\) \(increase\(firstresponder_near_misses_total",
        r"sum by \(kind\) \(rate\(firstresponder_prometheus_query_errors_total",
    ]
    for metric in ("time_to_acknowledge", "time_to_resolve"):
        for quantile in ("0.5", "0.9"):
            needed.append(
                rf"histogram_quantile\({re.escape(quantile)}, sum by \(le, severity\) "
                rf"\(rate\(firstresponder_{metric}_seconds_bucket\{{[^}}]*\}}\[\$__rate_interval\]\)\)\)"
            )
    missing = [pattern for pattern in needed if not re.search(pattern, text)]
    assert missing == []


def test_quantiles_are_over_bucket_rates_by_le() -> None:
    for expr in expressions():
        if "histogram_quantile" in expr:
            assert "_bucket{" in expr and "[$__rate_interval]" in expr
            assert re.search(r"by \(le\b", expr), expr


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool is not on PATH (Debian package `prometheus`; `make test` installs it)"
        )
    exprs = expressions() + variable_queries()
    rules = [
        {
            "record": f"dashboard_check:query_{i}",
            "expr": e.replace("$__rate_interval", "5m")
            .replace("$namespace", ".*")
            .replace("$job", ".*"),
        }
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
