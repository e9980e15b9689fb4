"""The config the chart renders is one the daemon accepts: loaded with its own loader."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from firstresponder.config import load_config

from .chart import SECRET_ENV, ci_values_files, default_values, rendered_config, values_with

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

CASES = [("defaults", default_values())] + [(p.name, values_with(p)) for p in ci_values_files()]


def write_chart_config(values: dict[str, Any], directory: Path) -> Path:
    """config.yaml and rules/ as the ConfigMap volume lays them out."""
    directory.mkdir()
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(rendered_config(values)), encoding="utf-8")
    if values["rules"]:
        (directory / "rules").mkdir()
        for name, content in values["rules"].items():
            (directory / "rules" / name).write_text(content, encoding="utf-8")
    return path


def set_secret_env(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly the variables the pod gets: one per secret reference with a name."""
    for key, env in SECRET_ENV.items():
        monkeypatch.delenv(env, raising=False)
        if values["secrets"][key]["name"]:
            value = "postgresql://fr:pw@postgres:5432/fr" if key == "postgresqlUrl" else f"{key}-x"
            monkeypatch.setenv(env, value)


@pytest.mark.parametrize(("name", "values"), CASES, ids=[name for name, _ in CASES])
def test_daemon_loads_the_rendered_config(
    name: str, values: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_secret_env(values, monkeypatch)
    config = load_config(write_chart_config(values, tmp_path / "config"))
    assert (config.server.host, config.server.port) == ("0.0.0.0", values["containerPort"])
    assert len(config.rules) == sum(
        len(yaml.safe_load(c)["services"]) for c in values["rules"].values()
    )
    slack = values["config"].get("slack")
    assert config.slack.enabled == bool(slack), "the chart's slack section turns Slack on"


@pytest.mark.parametrize(("name", "values"), CASES, ids=[name for name, _ in CASES])
def test_config_reads_only_variables_the_pod_gets(name: str, values: dict[str, Any]) -> None:
    """What firstresponder.validate refuses: a ${VAR} no secret reference sets."""
    text = yaml.safe_dump(rendered_config(values))
    provided = {env for key, env in SECRET_ENV.items() if values["secrets"][key]["name"]}
    assert set(_ENV_REF.findall(text)) <= provided


@pytest.mark.parametrize(("name", "values"), CASES, ids=[name for name, _ in CASES])
def test_sqlite_store_is_on_the_data_volume(name: str, values: dict[str, Any]) -> None:
    url = values["config"]["store"]["url"]
    assert not url.startswith("sqlite") or url.startswith("sqlite:////var/lib/firstresponder/")
