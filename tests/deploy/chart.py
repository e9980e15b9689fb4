"""Shared by the deployment checks: paths, the chart's values, Helm template tokens, PromQL.

No Helm and no Docker here, so the checks are structural: they read the files as text
and as YAML/JSON, and check them against the daemon's own code where they meet it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "firstresponder"
TEMPLATES = CHART / "templates"
ALERT_RULES = CHART / "rules" / "firstresponder-alerts.yaml"
ALERT_RULES_TEST = CHART / "rules" / "firstresponder-alerts_test.yaml"
DASHBOARD = CHART / "dashboards" / "firstresponder.json"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# secrets.<key> -> the environment variable the chart sets from it (the brief's list).
SECRET_ENV = {
    "webhookToken": "FIRSTRESPONDER_WEBHOOK_TOKEN",
    "apiToken": "FIRSTRESPONDER_API_TOKEN",
    "postgresqlUrl": "FIRSTRESPONDER_STORE_URL",
    "pagerdutyRoutingKeyEoc": "FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_EOC",
    "pagerdutyRoutingKeyImoc": "FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_IMOC",
    "pagerdutyRoutingKeyCmoc": "FIRSTRESPONDER_PAGERDUTY_ROUTING_KEY_CMOC",
    "pagerdutyApiToken": "FIRSTRESPONDER_PAGERDUTY_API_TOKEN",
    "pagerdutyWebhookSecret": "FIRSTRESPONDER_PAGERDUTY_WEBHOOK_SECRET",
    "slackBotToken": "FIRSTRESPONDER_SLACK_BOT_TOKEN",
    "slackSigningSecret": "FIRSTRESPONDER_SLACK_SIGNING_SECRET",
    "grafanaOncallToken": "FIRSTRESPONDER_GRAFANA_ONCALL_TOKEN",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def default_values() -> dict[str, Any]:
    values = load_yaml(CHART / "values.yaml")
    assert isinstance(values, dict)
    return values


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing: maps merge key by key, anything else replaces, null deletes."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def ci_values_files() -> list[Path]:
    return sorted((CHART / "ci").glob("*-values.yaml"))


def values_with(path: Path) -> dict[str, Any]:
    override = load_yaml(path) or {}
    assert isinstance(override, dict)
    return merge_values(default_values(), override)


def rendered_config(values: dict[str, Any]) -> dict[str, Any]:
    """What templates/_helpers.tpl's firstresponder.configYaml renders, as data."""
    config = copy.deepcopy(values["config"])
    assert isinstance(config, dict)
    if values.get("rules"):
        config["rules_dir"] = "rules"
    return config


def is_sqlite(values: dict[str, Any]) -> bool:
    return str(values["config"]["store"]["url"]).startswith("sqlite")


# ---- Helm templates ---------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


@dataclass(frozen=True)
class Action:
    body: str  # without delimiters and trim markers
    raw: str
    line: int


def actions(text: str) -> list[Action]:
    out = []
    for hit in _ACTION.finditer(text):
        raw = hit.group(1)
        body = raw.removeprefix("-").removesuffix("-").strip()
        out.append(Action(body, raw, text.count("\n", 0, hit.start()) + 1))
    return out


def _marker_problems(action: Action) -> list[str]:
    """Go reads `{{-3}}` as a number: a trim marker needs a space on its inner side."""
    problems = []
    if action.raw.startswith("-") and not action.raw[1:2].isspace():
        problems.append(f"line {action.line}: '{{{{-' must be followed by a space")
    if action.raw.endswith("-") and not action.raw[-2:-1].isspace():
        problems.append(f"line {action.line}: '-}}}}' must follow a space")
    if action.body.startswith("/*") and not action.body.endswith("*/"):
        problems.append(f"line {action.line}: unterminated comment")
    return problems


def block_problems(text: str) -> list[str]:
    """Unbalanced if/range/with/define/block ... end, stray else, malformed trim markers."""
    problems: list[str] = []
    stack: list[tuple[str, int]] = []
    for action in actions(text):
        problems += _marker_problems(action)
        word = action.body.split(None, 1)[0] if action.body else ""
        if word in ("if", "range", "with", "define", "block"):
            stack.append((word, action.line))
        elif word == "else" and (not stack or stack[-1][0] not in ("if", "range", "with")):
            problems.append(f"line {action.line}: else outside if/range/with")
        elif word == "end" and not stack:
            problems.append(f"line {action.line}: end without a block")
        elif word == "end":
            stack.pop()
    problems += [f"line {line}: {word} never ended" for word, line in stack]
    return problems


_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_INCLUDE = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_DEFINE = re.compile(r"\bdefine\s+\"([^\"]+)\"")
_FILES_GET = re.compile(r"\.Files\.Get\s+\"([^\"]+)\"")


def values_refs(text: str) -> set[str]:
    return {hit.group(1).lstrip(".") for a in actions(text) for hit in _VALUES_REF.finditer(a.body)}


def includes(text: str) -> set[str]:
    return {hit.group(1) for a in actions(text) for hit in _INCLUDE.finditer(a.body)}


def defines(text: str) -> set[str]:
    return {hit.group(1) for a in actions(text) for hit in _DEFINE.finditer(a.body)}


def files_got(text: str) -> set[str]:
    return {hit.group(1) for a in actions(text) for hit in _FILES_GET.finditer(a.body)}


def define_body(text: str, name: str) -> str:
    """The text between {{- define "name" -}} and its {{- end }} (no nested blocks inside)."""
    hit = re.search(
        r"\{\{-?\s*define\s+\"" + re.escape(name) + r"\"\s*-?\}\}(.*?)\{\{-?\s*end", text, re.S
    )
    assert hit, f"define {name!r} not found"
    return hit.group(1)


def lookup(values: Any, dotted: str) -> tuple[bool, str]:
    """Whether values has the path a.b.c, and where it stops if not."""
    node = values
    walked: list[str] = []
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, ".".join([*walked, part])
        node = node[part]
        walked.append(part)
    return True, dotted


# ---- PromQL -------------------------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w$.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan", "by", "without"}
_SELECTOR = re.compile(r"(?<![\w$.:])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^{}]*\})?")


def metric_names(expr: str) -> set[str]:
    """Series names an expression selects (functions, keywords and label names left out)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for hit in _IDENT.finditer(text):
        if hit.group(2) is None and hit.group(1) not in _KEYWORDS:
            names.add(hit.group(1))
    return names


def selectors(expr: str, names: set[str]) -> list[tuple[str, str]]:
    """(series name, label matchers or "") for each selection of one of `names`."""
    text = _RANGES.sub(" ", expr)
    text = _GROUPING.sub(" ", text)
    out = []
    for hit in _SELECTOR.finditer(text):
        if hit.group(1) in names:
            out.append((hit.group(1), hit.group(2) or ""))
    return out


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def doc_anchors(path: Path) -> set[str]:
    return {
        github_anchor(line.lstrip("#"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
