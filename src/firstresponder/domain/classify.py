"""Classification of an alert from its labels: service, impact, and why.

Order of evidence, first that speaks wins: the service rule's own impact mappings,
an explicit `impact` label, Sloth's `sloth_severity`, Pyrra's burn-rate labels, a plain
`severity` label, then the rule's or the global default. Live PromQL (see `slo`) refines
this when Prometheus answers; labels are what remains when it does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from .alerts import Alert
from .matchers import all_match
from .rules import ClassificationSettings, ServiceRule, find_rule
from .slo_evidence import SloVerdict
from .vocabulary import Impact

UNKNOWN_SERVICE = "unknown"
MAX_GROUP_KEY = 400
# The labels `_from_labels` reads by name (besides the configured ones); keep in step.
BUILT_IN_LABELS = ("impact", "sloth_severity", "slo", "long", "short", "alertname", "severity")
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Classification:
    service: str
    group_key: str
    impact: Impact
    reason: str
    declare_threshold: Impact
    declare_after: timedelta
    evidence: tuple[Mapping[str, Any], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "impact": self.impact.value,
            "reason": self.reason,
            "evidence": [dict(item) for item in self.evidence],
        }


class LabelClassifier:
    """Pure: maps an alert's labels to a classification using the service rules.

    A classification depends only on the labels that the rules' matchers, the settings and
    the built-in label rules name, so it is computed once per combination of those and
    reused: alerts of one kind differ in labels nobody reads (instance, pod, path).
    """

    def __init__(self, rules: Sequence[ServiceRule], settings: ClassificationSettings) -> None:
        self._rules = tuple(rules)
        self._settings = settings
        self._read = _labels_read(self._rules, settings)
        self._known: dict[tuple[str | None, ...], Classification] = {}

    @property
    def rules(self) -> tuple[ServiceRule, ...]:
        return self._rules

    def classify(self, alert: Alert) -> Classification:
        labels = alert.labels
        # None for an absent label: "absent" and "empty" differ for `"slo" in labels`.
        key = tuple(map(labels.get, self._read))
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= _CACHE_SIZE:
                self._known.clear()
            found = self._known[key] = self._classify(labels)
        return found

    def _classify(self, labels: Mapping[str, str]) -> Classification:
        rule = find_rule(self._rules, labels)
        service = rule.service if rule else self._service_from_labels(labels)
        impact, reason = self._impact(rule, labels)
        settings = self._settings
        return Classification(
            service=service,
            group_key=self.group_key(service, labels),
            impact=impact,
            reason=reason,
            declare_threshold=(
                rule.declare_threshold
                if rule and rule.declare_threshold
                else settings.declare_threshold
            ),
            declare_after=(
                rule.declare_after
                if rule and rule.declare_after is not None
                else settings.declare_after
            ),
        )

    def rule_for(self, service: str) -> ServiceRule | None:
        for rule in self._rules:
            if rule.service == service:
                return rule
        return None

    def group_key(self, service: str, labels: Mapping[str, str]) -> str:
        parts = []
        for name in self._settings.group_by:
            value = service if name == "service" else labels.get(name, "")
            parts.append(f"{name}={value}")
        key = ",".join(parts)
        if len(key) <= MAX_GROUP_KEY:
            return key
        # Label values can be long; a database index cannot. Keep it readable and unique.
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return f"{key[: MAX_GROUP_KEY - 17]}#{digest}"

    def _service_from_labels(self, labels: Mapping[str, str]) -> str:
        for name in self._settings.service_labels:
            if labels.get(name):
                return labels[name]
        return UNKNOWN_SERVICE

    def _impact(self, rule: ServiceRule | None, labels: Mapping[str, str]) -> tuple[Impact, str]:
        if rule is not None:
            for mapping in rule.impacts:
                if all_match(mapping.matchers, labels):
                    shown = ", ".join(str(m) for m in mapping.matchers)
                    return mapping.impact, f"rule {rule.service!r}: {shown}"
        found = _from_labels(labels, self._settings.severity_labels)
        if found is not None:
            return found
        if rule is not None and rule.default_impact is not None:
            return rule.default_impact, f"rule {rule.service!r}: default impact"
        return self._settings.default_impact, "default impact (no label said otherwise)"


def _labels_read(rules: Sequence[ServiceRule], settings: ClassificationSettings) -> tuple[str, ...]:
    """Every label name classification can look at."""
    names = {*BUILT_IN_LABELS, *settings.service_labels, *settings.group_by}
    for rule in rules:
        names.update(m.name for m in rule.matchers)
        for mapping in rule.impacts:
            names.update(m.name for m in mapping.matchers)
    return tuple(sorted(names))


def with_slo(c: Classification, verdict: SloVerdict | None, failure: str | None) -> Classification:
    """Let live SLO numbers decide the impact; they never silence a firing alert.

    No verdict (Prometheus failed): keep the labels' impact and say why. A verdict of
    "operational" while an alert fires: keep the labels' impact too, with the numbers.
    """
    if verdict is None:
        return replace(c, reason=f"{c.reason} (live SLO numbers unavailable: {failure})")
    evidence = tuple(e.as_dict() for e in verdict.evidence)
    if verdict.impact is Impact.OPERATIONAL:
        return replace(
            c,
            reason=f"{c.reason} (SLO numbers within objective: {verdict.reason})",
            evidence=evidence,
        )
    return replace(c, impact=verdict.impact, reason=f"SLO: {verdict.reason}", evidence=evidence)


def _from_labels(
    labels: Mapping[str, str], severity_map: Mapping[str, Impact]
) -> tuple[Impact, str] | None:
    explicit = labels.get("impact")
    if explicit:
        try:
            return Impact.parse(explicit), f'label impact="{explicit}"'
        except ValueError:
            pass  # an unknown value falls through to the other labels
    sloth = labels.get("sloth_severity", "").lower()
    if sloth == "page":
        return (
            Impact.PARTIAL_DISRUPTION,
            'Sloth sloth_severity="page": error budget burns at a paging rate',
        )
    if sloth == "ticket":
        return Impact.DEGRADED, 'Sloth sloth_severity="ticket": slow error budget burn'
    if "slo" in labels and ("long" in labels or labels.get("alertname") == "ErrorBudgetBurn"):
        return _pyrra(labels)
    severity = labels.get("severity", "").lower()
    if severity in severity_map:
        return severity_map[severity], f'label severity="{labels["severity"]}"'
    return None


def _pyrra(labels: Mapping[str, str]) -> tuple[Impact, str]:
    window = f"{labels.get('long', '?')}/{labels.get('short', '?')}"
    severity = labels.get("severity", "").lower()
    if severity == "critical" or labels.get("long") in ("1h", "6h"):
        return (
            Impact.PARTIAL_DISRUPTION,
            f'Pyrra slo="{labels["slo"]}" burn over {window}: paging rate',
        )
    return Impact.DEGRADED, f'Pyrra slo="{labels["slo"]}" burn over {window}: slow burn'
