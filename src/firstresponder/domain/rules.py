"""Service rules: which alerts belong to a service and how their labels map to an impact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from .matchers import Matcher, all_match
from .slo import SloSpec
from .slo_queries import SloSource
from .vocabulary import Impact


@dataclass(frozen=True)
class ImpactMapping:
    """`when` these matchers match an alert of the service, its impact is `impact`."""

    matchers: tuple[Matcher, ...]
    impact: Impact


@dataclass(frozen=True)
class SloRule:
    """The service's SLO numbers and where Prometheus keeps them."""

    spec: SloSpec
    source: SloSource
    apdex_query: str | None = None  # PromQL template with {{window}}, optional


@dataclass(frozen=True)
class ServiceRule:
    service: str
    matchers: tuple[Matcher, ...]
    impacts: tuple[ImpactMapping, ...] = ()
    default_impact: Impact | None = None
    declare_threshold: Impact | None = None
    declare_after: timedelta | None = None
    source: str = ""
    slo: SloRule | None = None

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.matchers, labels)


@dataclass(frozen=True)
class ClassificationSettings:
    """Defaults that apply where no rule says otherwise."""

    service_labels: tuple[str, ...] = ("service", "sloth_service", "app", "job")
    group_by: tuple[str, ...] = ("service",)
    severity_labels: Mapping[str, Impact] = field(
        default_factory=lambda: {
            "critical": Impact.PARTIAL_DISRUPTION,
            "page": Impact.PARTIAL_DISRUPTION,
            "error": Impact.DEGRADED,
            "warning": Impact.DEGRADED,
            "ticket": Impact.DEGRADED,
            "info": Impact.OPERATIONAL,
            "none": Impact.OPERATIONAL,
        }
    )
    default_impact: Impact = Impact.DEGRADED
    declare_threshold: Impact = Impact.DEGRADED
    declare_after: timedelta = timedelta(0)


def find_rule(rules: Sequence[ServiceRule], labels: Mapping[str, str]) -> ServiceRule | None:
    """The first rule whose matchers select the alert, in file order."""
    for rule in rules:
        if rule.selects(labels):
            return rule
    return None
