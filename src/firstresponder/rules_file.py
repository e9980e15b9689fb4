"""Read the service rule files (`rules/*.yaml`) into domain rules, reporting every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .config_schema import RULES_SCHEMA
from .domain.matchers import MatcherError, parse_matcher_list
from .domain.rules import ImpactMapping, ServiceRule, SloRule
from .domain.slo import DEFAULT_BURN_WINDOWS, BurnWindow, SloSpec
from .domain.slo_queries import PromqlSource, PyrraSource, SloSource, SlothSource
from .domain.vocabulary import Impact
from .durations import parse_duration
from .errors import ConfigError
from .schema_messages import schema_problems

_VALIDATOR = jsonschema.Draft202012Validator(RULES_SCHEMA)


def rule_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not p.name.endswith(("_test.yaml", "_test.yml"))
    )


def load_rules_dir(directory: Path) -> tuple[ServiceRule, ...]:
    if not directory.is_dir():
        raise ConfigError([f"rules_dir: {str(directory)!r} is not a directory"])
    rules: list[ServiceRule] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in rule_files(directory):
        try:
            for rule in load_rules_file(path):
                if rule.service in seen:
                    problems.append(
                        f"{path.name}: service {rule.service!r} already defined in {seen[rule.service]}"
                    )
                seen[rule.service] = path.name
                rules.append(rule)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return tuple(rules)


def load_rules_file(path: Path) -> list[ServiceRule]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path.name}: cannot load: {exc}"]) from exc
    problems = schema_problems(_VALIDATOR, raw, prefix=f"{path.name}: ")
    if problems:
        raise ConfigError(problems)
    rules = []
    for i, item in enumerate(raw["services"]):
        try:
            rules.append(_rule(item, path.name))
        except (MatcherError, ValueError) as exc:
            problems.append(f"{path.name}: services[{i}] ({item['name']}): {exc}")
    if problems:
        raise ConfigError(problems)
    return rules


def _rule(item: dict[str, Any], source: str) -> ServiceRule:
    return ServiceRule(
        service=item["name"],
        matchers=parse_matcher_list(item["match"]),
        impacts=tuple(
            ImpactMapping(parse_matcher_list(m["when"]), Impact(m["impact"]))
            for m in item.get("impacts", [])
        ),
        default_impact=Impact(item["default_impact"]) if "default_impact" in item else None,
        declare_threshold=Impact(item["declare_threshold"])
        if "declare_threshold" in item
        else None,
        declare_after=parse_duration(item["declare_after"]) if "declare_after" in item else None,
        source=source,
        slo=_slo_rule(item["name"], item["slo"]) if "slo" in item else None,
    )


def _slo_rule(service: str, raw: dict[str, Any]) -> SloRule:
    """The `slo` block; SloSpec's own checks (e.g. outage line above the SLO) raise ValueError."""
    windows = tuple(
        BurnWindow(
            w["severity"], float(w["factor"]), parse_duration(w["long"]), parse_duration(w["short"])
        )
        for w in raw.get("burn_windows", [])
    )
    spec = SloSpec(
        objective=float(raw["objective"]),
        outage_line=float(raw["outage_line"]),
        apdex_objective=raw.get("apdex_objective"),
        parts_label=raw.get("parts_label"),
        sustain=parse_duration(raw.get("sustain", "5m")),
        burn_windows=windows or DEFAULT_BURN_WINDOWS,
        hysteresis=float(raw.get("hysteresis", 0.1)),
    )
    return SloRule(spec, _source(service, raw["source"]), raw.get("apdex_query"))


def _source(service: str, raw: dict[str, Any]) -> SloSource:
    if "sloth" in raw:
        return SlothSource(raw["sloth"].get("service", service), raw["sloth"]["slo"])
    if "pyrra" in raw:
        return PyrraSource(raw["pyrra"]["slo"], raw["pyrra"]["metric"])
    return PromqlSource(raw["promql"]["error_ratio"])
