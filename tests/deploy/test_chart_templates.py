"""The chart's templates, read as text: no helm binary here to render them."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from firstresponder.cli import parser

from .chart import (
    ALERT_RULES,
    CHART,
    DASHBOARD,
    ROOT,
    SECRET_ENV,
    TEMPLATES,
    actions,
    block_problems,
    default_values,
    define_body,
    defines,
    files_got,
    includes,
    lookup,
    values_refs,
)

TEMPLATE_FILES = sorted(p for p in TEMPLATES.iterdir() if p.is_file())
MANIFESTS = [p for p in TEMPLATE_FILES if p.suffix == ".yaml"]
HELPERS = TEMPLATES / "_helpers.tpl"


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_chart_yaml() -> None:
    chart = yaml.safe_load(text(CHART / "Chart.yaml"))
    project = tomllib.loads(text(ROOT / "pyproject.toml"))["project"]
    assert chart["apiVersion"] == "v2" and chart["type"] == "application"
    assert chart["name"] == "firstresponder" and chart["version"] == "0.1.0"
    assert chart["appVersion"] == project["version"]


def test_the_expected_templates_exist() -> None:
    names = {p.name for p in TEMPLATE_FILES}
    assert {
        "_helpers.tpl",
        "deployment.yaml",
        "service.yaml",
        "configmap.yaml",
        "pdb.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
        "dashboard-configmap.yaml",
        "NOTES.txt",
    } <= names


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_delimiters_and_blocks_balance(path: Path) -> None:
    content = text(path)
    assert content.count("{{") == content.count("}}") == len(actions(content))
    assert block_problems(content) == []


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_every_values_reference_exists_in_values_yaml(path: Path) -> None:
    values = default_values()
    missing = sorted(
        where
        for ref in values_refs(text(path))
        for found, where in [lookup(values, ref)]
        if not found
    )
    assert missing == []


def test_every_include_is_defined() -> None:
    defined = set().union(*(defines(text(p)) for p in TEMPLATE_FILES))
    used = set().union(*(includes(text(p)) for p in TEMPLATE_FILES))
    assert used - defined == set()
    assert used, "the templates share their names and labels through _helpers.tpl"


def test_files_the_templates_read_exist_and_are_packaged() -> None:
    ignored = [
        line.strip()
        for line in text(CHART / ".helmignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    got = set().union(*(files_got(text(p)) for p in TEMPLATE_FILES))
    assert got == {"rules/firstresponder-alerts.yaml", "dashboards/firstresponder.json"}
    for name in got:
        assert (CHART / name).is_file()
        assert not any(Path(name).match(pattern) for pattern in ignored), name


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifests_name_api_version_kind_and_labels(path: Path) -> None:
    content = text(path)
    assert re.search(r"^apiVersion: \S+", content, re.M)
    assert re.search(r"^kind: [A-Z]\w+", content, re.M)
    assert 'include "firstresponder.labels"' in content


def test_secret_references_become_the_documented_variables() -> None:
    names = yaml.safe_load(define_body(text(HELPERS), "firstresponder.secretEnvNames"))
    assert names == SECRET_ENV
    assert set(default_values()["secrets"]) == set(SECRET_ENV)
    schema = json.loads(text(CHART / "values.schema.json"))
    assert set(schema["properties"]["secrets"]["properties"]) == set(SECRET_ENV)
    env = define_body(text(HELPERS), "firstresponder.env")
    assert "secretKeyRef" in env and "if $ref.name" in env


def test_the_templates_refuse_several_replicas_on_sqlite_too() -> None:
    validate = define_body(text(HELPERS), "firstresponder.validate")
    assert 'include "firstresponder.isSqlite"' in validate
    assert re.search(
        r"if and \$sqlite \(gt \(int \.Values\.replicaCount\) 1\) \}\}\s*\{\{- fail", validate
    )
    assert 'hasPrefix "sqlite"' in define_body(text(HELPERS), "firstresponder.isSqlite")
    for name in ("deployment.yaml", "configmap.yaml", "migration-job.yaml"):
        assert '{{- include "firstresponder.validate" . }}' in text(TEMPLATES / name)


def test_deployment_probes_mounts_and_rollout() -> None:
    content = text(TEMPLATES / "deployment.yaml")
    probes = re.findall(r"(\w+Probe):\s*httpGet:\s*path: (\S+)\s*port: http", content)
    assert dict(probes) == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert 'checksum/config: {{ include "firstresponder.configData" . | sha256sum }}' in content
    assert re.search(r"- name: tmp\s+mountPath: /tmp", content)
    assert re.search(r"- name: tmp\s+emptyDir:", content)
    assert re.search(r"- name: config\s+mountPath: /etc/firstresponder\s+readOnly: true", content)
    assert re.search(r"- name: data\s+mountPath: /var/lib/firstresponder", content)
    assert "persistentVolumeClaim:" in content and "emptyDir: {}" in content
    assert "type: Recreate" in content and "type: RollingUpdate" in content
    for key in ("podSecurityContext", "securityContext", "resources"):
        assert f"toYaml .Values.{key} " in content


@pytest.mark.parametrize("name", ["deployment.yaml", "migration-job.yaml"])
def test_container_args_are_what_the_cli_accepts(name: str) -> None:
    found = re.findall(r"args: (\[.*\])", text(TEMPLATES / name))
    assert len(found) == 1
    args = parser().parse_args(json.loads(found[0]))
    assert args.config == "/etc/firstresponder/config.yaml"
    assert args.command == ("serve" if name == "deployment.yaml" else "migrate")


def test_migration_job_is_a_hook_that_brings_its_own_config() -> None:
    content = text(TEMPLATES / "migration-job.yaml")
    assert content.count("helm.sh/hook: pre-install,pre-upgrade") == 2
    assert 'helm.sh/hook-weight: "-10"' in content and 'helm.sh/hook-weight: "-5"' in content
    assert "restartPolicy: Never" in content
    # The Service selects component=server: the Job's pod must not be one of its endpoints.
    assert "app.kubernetes.io/component: migrate" in content
    assert "selectorLabels" not in content


def test_rules_are_mounted_under_rules_dir() -> None:
    helpers = text(HELPERS)
    assert '$_ := set $config "rules_dir" "rules"' in define_body(
        helpers, "firstresponder.configYaml"
    )
    items = define_body(helpers, "firstresponder.configItems")
    assert "key: rules.{{ $file }}" in items and "path: rules/{{ $file }}" in items
    assert "rules.{{ $file }}:" in define_body(helpers, "firstresponder.configData")


def test_prometheusrule_embeds_the_checked_rule_file() -> None:
    content = text(TEMPLATES / "prometheusrule.yaml")
    assert '.Files.Get "rules/firstresponder-alerts.yaml"' in content
    rule_file = text(ALERT_RULES)
    replaced = [m.replace('\\"', '"') for m in re.findall(r'replace "((?:[^"\\]|\\.)*)"', content)]
    assert len(replaced) == 2
    for old in replaced:
        assert old in rule_file, f"the template replaces {old!r}, which the rule file lacks"
    assert default_values()["prometheusRule"]["runbookBaseUrl"] in replaced


def test_servicemonitor_sets_the_job_the_rules_select() -> None:
    content = text(TEMPLATES / "servicemonitor.yaml")
    assert "jobLabel: app.kubernetes.io/name" in content
    assert "path: /metrics" in content and "port: http" in content


def test_dashboard_configmap_carries_the_sidecar_label() -> None:
    content = text(TEMPLATES / "dashboard-configmap.yaml")
    assert '.Files.Get "dashboards/firstresponder.json"' in content
    assert "{{ .Values.dashboard.label }}: {{ .Values.dashboard.labelValue | quote }}" in content
    values = default_values()["dashboard"]
    assert (values["label"], values["labelValue"]) == ("grafana_dashboard", "1")
    assert DASHBOARD.is_file()


def test_notes_give_a_complete_webhook_config() -> None:
    notes = text(TEMPLATES / "NOTES.txt")
    for needed in (
        "webhook_configs:",
        "- url: {{ $url }}",
        "/api/v1/alertmanager",
        "send_resolved: true",
        "type: Bearer",
        "credentials_file:",
    ):
        assert needed in notes
