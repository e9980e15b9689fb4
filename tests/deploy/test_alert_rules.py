"""The alerts on firstresponder itself (helm/firstresponder/rules/), checked and unit-tested
with promtool when it is installed (Debian package `prometheus`)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from .chart import (
    ALERT_RULES,
    ALERT_RULES_TEST,
    DEPLOY_DOC,
    default_values,
    doc_anchors,
    load_yaml,
    metric_names,
    selectors,
)
from .metric_names import BY_NAME, FROM_PROMETHEUS, metric_of

MUST_BE_TESTED_FIRING = {
    "FirstresponderWebhookErrors",
    "FirstresponderOutboxStuck",
    "FirstresponderNoWebhooks",
}


def alert_rules() -> list[dict[str, Any]]:
    doc = load_yaml(ALERT_RULES)
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool is not on PATH (Debian package `prometheus`; `make test` installs it)"
        )
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=ALERT_RULES.parent, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_rules() -> None:
    result = run("check", "rules", ALERT_RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests() -> None:
    result = run("test", "rules", ALERT_RULES_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_show_every_alert_firing() -> None:
    tests = load_yaml(ALERT_RULES_TEST)
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert MUST_BE_TESTED_FIRING <= fired
    assert {rule["alert"] for rule in alert_rules()} == fired


def test_the_alerts_the_brief_asks_for() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert 'code=~"5.."' in exprs["FirstresponderWebhookErrors"]
    assert "firstresponder_outbox_backlog" in exprs["FirstresponderOutboxBacklog"]
    assert "firstresponder_outbox_oldest_pending_seconds" in exprs["FirstresponderOutboxStuck"]
    assert 'result="failed"' in exprs["FirstresponderPageDeliveryFailed"]
    assert "firstresponder_escalation_lag_seconds_bucket" in exprs["FirstresponderEscalationLag"]
    assert (
        "firstresponder_prometheus_query_errors_total"
        in exprs["FirstresponderPrometheusQueryErrors"]
    )
    assert "firstresponder_last_webhook_timestamp_seconds" in exprs["FirstresponderNoWebhooks"]
    assert "up{" in exprs["FirstresponderDown"]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: str(r["alert"]))
def test_alert_has_for_severity_summary_description_runbook(rule: dict[str, Any]) -> None:
    assert "for" in rule
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    base = default_values()["prometheusRule"]["runbookBaseUrl"]
    assert rule["annotations"]["runbook_url"] == f"{base}#{rule['alert'].lower()}"


def test_runbook_anchors_exist_in_the_deploy_doc() -> None:
    anchors = doc_anchors(DEPLOY_DOC)
    missing = [r["alert"] for r in alert_rules() if r["alert"].lower() not in anchors]
    assert missing == []


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: str(r["alert"]))
def test_alert_uses_known_metrics_scoped_to_the_job(rule: dict[str, Any]) -> None:
    used = metric_names(rule["expr"])
    assert {metric_of(n) for n in used} <= set(BY_NAME) | FROM_PROMETHEUS
    # The PrometheusRule template rewrites job="firstresponder" to the ServiceMonitor's job.
    for name, matchers in selectors(rule["expr"], used):
        assert 'job="firstresponder"' in matchers, f"{name} without the job matcher"
