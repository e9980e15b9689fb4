"""values.yaml against values.schema.json, as `helm install` checks it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from .chart import CHART, ci_values_files, default_values, merge_values, values_with

POSTGRES = {
    "replicaCount": 2,
    "config": {"store": {"url": "${FIRSTRESPONDER_STORE_URL}"}},
    "secrets": {"postgresqlUrl": {"name": "firstresponder", "key": "postgresql-url"}},
}


def schema() -> dict[str, Any]:
    loaded = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(key path a.b.c, message) of every violation."""
    validator = jsonschema.Draft7Validator(schema())
    return [
        (".".join(str(p) for p in error.absolute_path), error.message)
        for error in validator.iter_errors(values)
    ]


def test_schema_is_draft_07_as_helm_reads_it() -> None:
    loaded = schema()
    assert loaded["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(loaded)


def test_defaults_are_valid() -> None:
    assert problems(default_values()) == []


@pytest.mark.parametrize("path", ci_values_files(), ids=lambda p: p.name)
def test_example_values_are_valid(path: Path) -> None:
    assert problems(values_with(path)) == []


def test_every_top_level_key_is_in_the_schema_and_unknown_keys_are_refused() -> None:
    assert set(default_values()) == set(schema()["properties"])
    found = problems(merge_values(default_values(), {"replicas": 2}))
    assert found and "'replicas'" in found[0][1]


def test_several_replicas_on_sqlite_are_refused() -> None:
    found = problems(merge_values(default_values(), {"replicaCount": 2}))
    assert [key for key, _ in found] == ["replicaCount"]


def test_one_replica_on_sqlite_and_zero_are_fine() -> None:
    for count in (0, 1):
        assert problems(merge_values(default_values(), {"replicaCount": count})) == []


@pytest.mark.parametrize(
    "url", ["${FIRSTRESPONDER_STORE_URL}", "postgresql://fr:pw@postgres:5432/firstresponder"]
)
def test_several_replicas_on_postgresql_are_fine(url: str) -> None:
    values = merge_values(
        merge_values(default_values(), POSTGRES), {"config": {"store": {"url": url}}}
    )
    assert problems(values) == []


def test_store_url_from_the_environment_needs_its_secret() -> None:
    values = merge_values(
        merge_values(default_values(), POSTGRES), {"secrets": {"postgresqlUrl": {"name": ""}}}
    )
    assert [key for key, _ in problems(values)] == ["secrets.postgresqlUrl.name"]


def test_sqlite_must_live_on_the_data_volume() -> None:
    values = merge_values(default_values(), {"config": {"store": {"url": "sqlite:///fr.db"}}})
    assert [key for key, _ in problems(values)] == ["config.store.url"]


def test_migration_job_is_refused_on_sqlite_and_allowed_on_postgresql() -> None:
    job = {"migrationJob": {"enabled": True}}
    assert [k for k, _ in problems(merge_values(default_values(), job))] == ["migrationJob.enabled"]
    assert problems(merge_values(merge_values(default_values(), POSTGRES), job)) == []


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"replicaCount": "two"}, "replicaCount"),
        ({"service": {"port": "http"}}, "service.port"),
        ({"containerPort": 80}, "containerPort"),
        ({"persistence": {"enabled": "yes"}}, "persistence.enabled"),
        ({"persistence": {"size": "lots"}}, "persistence.size"),
        ({"secrets": {"webhookToken": {"name": 5}}}, "secrets.webhookToken.name"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "podDisruptionBudget.maxUnavailable"),
        ({"serviceMonitor": {"interval": 30}}, "serviceMonitor.interval"),
        ({"config": {"server": {"listen": 9095}}}, "config.server.listen"),
        ({"config": {"rules_dir": "rules"}}, "config.rules_dir"),
        ({"rules": {"checkout.yaml": 3}}, "rules.checkout.yaml"),
    ],
)
def test_wrong_values_are_refused_naming_the_key(override: dict[str, Any], key: str) -> None:
    assert key in [k for k, _ in problems(merge_values(default_values(), override))]


def test_secret_unknown_to_the_chart_is_refused() -> None:
    found = problems(merge_values(default_values(), {"secrets": {"githubToken": {"name": "x"}}}))
    assert found and found[0][0] == "secrets" and "'githubToken'" in found[0][1]


def test_rule_file_names_must_be_yaml() -> None:
    found = problems(merge_values(default_values(), {"rules": {"checkout.json": "services: []"}}))
    assert found and found[0][0] == "rules"


_KEY = re.compile(r"^(\s*)(?:- )?([A-Za-z_][A-Za-z0-9_.-]*|\"[^\"]+\"):(\s|$)")


def test_every_key_in_values_yaml_has_a_comment() -> None:
    """A comment on the line itself or on the line(s) right above, for every key."""
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    bare = []
    block_indent: int | None = None  # inside a `|` block scalar: its lines are not keys
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        hit = _KEY.match(line)
        if not hit or line.lstrip().startswith("#"):
            continue
        if re.search(r":\s*[|>][-+]?\s*(#.*)?$", line):
            block_indent = indent
        commented = "#" in line.split(":", 1)[1] or (i > 0 and lines[i - 1].strip().startswith("#"))
        if not commented:
            bare.append(f"line {i + 1}: {line.strip()}")
    assert bare == []


def test_hardened_security_defaults() -> None:
    values = default_values()
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["runAsNonRoot"] is True and container["runAsUser"] == 10001
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}


def test_grace_period_outlasts_the_daemons_shutdown() -> None:
    values = default_values()
    shutdown = values["config"]["server"]["shutdown_timeout"]
    assert shutdown.endswith("s")
    assert values["terminationGracePeriodSeconds"] > values["preStopSleepSeconds"] + int(
        shutdown[:-1]
    )
