"""Classification from an alert's labels: service, impact and why, group key, thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firstresponder.domain.alerts import Alert, AlertStatus
from firstresponder.domain.classify import UNKNOWN_SERVICE, LabelClassifier
from firstresponder.domain.matchers import parse_matcher_list
from firstresponder.domain.rules import ClassificationSettings, ImpactMapping, ServiceRule
from firstresponder.domain.vocabulary import Impact
from tests.factories import T0


def _alert(**labels: str) -> Alert:
    return Alert(
        status=AlertStatus.FIRING,
        labels=labels,
        annotations={},
        starts_at=T0,
        ends_at=None,
        generator_url="",
        fingerprint="fp",
    )


def _rule(
    service: str,
    match: list[str],
    impacts: list[tuple[list[str], Impact]] | None = None,
    *,
    default_impact: Impact | None = None,
    declare_threshold: Impact | None = None,
    declare_after: timedelta | None = None,
) -> ServiceRule:
    return ServiceRule(
        service=service,
        matchers=parse_matcher_list(match),
        impacts=tuple(
            ImpactMapping(parse_matcher_list(when), impact) for when, impact in impacts or []
        ),
        default_impact=default_impact,
        declare_threshold=declare_threshold,
        declare_after=declare_after,
    )


CHECKOUT = _rule(
    "checkout",
    ['service=~"checkout|checkout-api"'],
    [
        (['alertname="CheckoutDown"'], Impact.OUTAGE),
        (['severity="critical"', 'region!=""'], Impact.PARTIAL_DISRUPTION),
        (['alertname=~"Checkout.*"'], Impact.DEGRADED),
    ],
    default_impact=Impact.DEGRADED,
)
PAYMENTS = _rule("payments", ['sloth_service="payments"'])
SEARCH = _rule(
    "search",
    ['slo=~"search-.*"'],
    declare_threshold=Impact.PARTIAL_DISRUPTION,
    declare_after=timedelta(minutes=10),
)
BATCH = _rule("batch", ['job="batch"'], default_impact=Impact.OUTAGE)
RULES = (CHECKOUT, PAYMENTS, SEARCH, BATCH)


def classify(rules: tuple[ServiceRule, ...] = RULES, /, **labels: str) -> tuple[str, Impact, str]:
    found = LabelClassifier(rules, ClassificationSettings()).classify(_alert(**labels))
    return found.service, found.impact, found.reason


@pytest.mark.parametrize(
    ("value", "impact"),
    [
        ("outage", Impact.OUTAGE),
        ("OUTAGE", Impact.OUTAGE),
        ("major-outage", Impact.OUTAGE),
        ("service disruption", Impact.OUTAGE),
        ("disruption", Impact.OUTAGE),
        ("partial", Impact.PARTIAL_DISRUPTION),
        ("partial_disruption", Impact.PARTIAL_DISRUPTION),
        ("Partial Service Disruption", Impact.PARTIAL_DISRUPTION),
        ("degraded", Impact.DEGRADED),
        ("degraded-performance", Impact.DEGRADED),
        (" degraded ", Impact.DEGRADED),
        ("operational", Impact.OPERATIONAL),
        ("none", Impact.OPERATIONAL),
    ],
)
def test_explicit_impact_label_and_its_aliases(value: str, impact: Impact) -> None:
    # The impact label beats a severity label that says something else.
    service, found, reason = classify(service="web", impact=value, severity="info")
    assert (service, found) == ("web", impact)
    assert reason == f'label impact="{value}"'


def test_an_unknown_impact_label_falls_through_to_severity() -> None:
    _, impact, reason = classify(service="web", impact="catastrophic", severity="critical")
    assert impact is Impact.PARTIAL_DISRUPTION
    assert reason == 'label severity="critical"'


@pytest.mark.parametrize(
    ("sloth_severity", "impact", "reason_part"),
    [
        ("page", Impact.PARTIAL_DISRUPTION, "paging rate"),
        ("PAGE", Impact.PARTIAL_DISRUPTION, "paging rate"),
        ("ticket", Impact.DEGRADED, "slow error budget burn"),
    ],
)
def test_sloth_severity(sloth_severity: str, impact: Impact, reason_part: str) -> None:
    labels = {
        "alertname": "OrdersAvailabilityHighErrorRate",
        "sloth_service": "orders",
        "sloth_slo": "requests-availability",
        "sloth_severity": sloth_severity,
        "severity": "info",  # Sloth's labels speak first
    }
    service, found, reason = classify((), **labels)
    assert service == "orders"
    assert found is impact
    assert "Sloth" in reason and reason_part in reason


def test_sloth_alert_claimed_by_a_rule_takes_the_rule_service() -> None:
    service, impact, _ = classify(sloth_service="payments", sloth_severity="page")
    assert (service, impact) == ("payments", Impact.PARTIAL_DISRUPTION)


@pytest.mark.parametrize(
    ("labels", "impact", "reason_part"),
    [
        (
            {"severity": "critical", "long": "1h", "short": "5m"},
            Impact.PARTIAL_DISRUPTION,
            "burn over 1h/5m: paging rate",
        ),
        (
            {"severity": "critical", "long": "6h", "short": "30m"},
            Impact.PARTIAL_DISRUPTION,
            "burn over 6h/30m: paging rate",
        ),
        (
            {"severity": "warning", "long": "1d", "short": "2h"},
            Impact.DEGRADED,
            "burn over 1d/2h: slow burn",
        ),
        (
            {"severity": "warning", "long": "4d", "short": "6h"},
            Impact.DEGRADED,
            "burn over 4d/6h: slow burn",
        ),
        # the window alone says "paging" even without Pyrra's severity label
        ({"long": "1h", "short": "5m"}, Impact.PARTIAL_DISRUPTION, "paging rate"),
        ({"long": "3d", "short": "6h"}, Impact.DEGRADED, "slow burn"),
        # ErrorBudgetBurn with no windows at all is still Pyrra's
        ({"severity": "critical"}, Impact.PARTIAL_DISRUPTION, "burn over ?/?: paging rate"),
    ],
)
def test_pyrra_error_budget_burn(labels: dict[str, str], impact: Impact, reason_part: str) -> None:
    service, found, reason = classify(
        alertname="ErrorBudgetBurn", slo="search-availability", **labels
    )
    assert service == "search"
    assert found is impact
    assert reason.startswith('Pyrra slo="search-availability"')
    assert reason_part in reason


def test_slo_label_alone_is_not_pyrra() -> None:
    _, impact, reason = classify(alertname="Other", slo="search-latency", severity="warning")
    assert impact is Impact.DEGRADED
    assert reason == 'label severity="warning"'


@pytest.mark.parametrize(
    ("severity", "impact"),
    [
        ("critical", Impact.PARTIAL_DISRUPTION),
        ("Critical", Impact.PARTIAL_DISRUPTION),
        ("page", Impact.PARTIAL_DISRUPTION),
        ("error", Impact.DEGRADED),
        ("warning", Impact.DEGRADED),
        ("ticket", Impact.DEGRADED),
        ("info", Impact.OPERATIONAL),
        ("none", Impact.OPERATIONAL),
    ],
)
def test_plain_severity_label(severity: str, impact: Impact) -> None:
    service, found, reason = classify(alertname="DiskFull", service="web", severity=severity)
    assert (service, found) == ("web", impact)
    assert reason == f'label severity="{severity}"'


def test_configured_severity_labels_extend_the_map() -> None:
    settings = ClassificationSettings(severity_labels={"sev1": Impact.OUTAGE})
    found = LabelClassifier((), settings).classify(_alert(service="web", severity="SEV1"))
    assert found.impact is Impact.OUTAGE


@pytest.mark.parametrize(
    ("labels", "impact", "reason"),
    [
        # first mapping whose matchers all hold wins, before any label
        (
            {"alertname": "CheckoutDown", "severity": "info", "impact": "degraded"},
            Impact.OUTAGE,
            "rule 'checkout': alertname=\"CheckoutDown\"",
        ),
        (
            {"alertname": "HighErrorRate", "severity": "critical", "region": "eu"},
            Impact.PARTIAL_DISRUPTION,
            'rule \'checkout\': severity="critical", region!=""',
        ),
        (
            {"alertname": "CheckoutSlow", "severity": "critical", "region": "eu"},
            Impact.PARTIAL_DISRUPTION,
            'rule \'checkout\': severity="critical", region!=""',
        ),
        (
            {"alertname": "CheckoutSlow", "severity": "critical"},
            Impact.DEGRADED,
            "rule 'checkout': alertname=~\"Checkout.*\"",
        ),
        # no mapping holds: the labels speak before the rule's default
        (
            {"alertname": "HighErrorRate", "severity": "critical"},
            Impact.PARTIAL_DISRUPTION,
            'label severity="critical"',
        ),
        (
            {"alertname": "HighErrorRate", "impact": "outage"},
            Impact.OUTAGE,
            'label impact="outage"',
        ),
        # nothing speaks: the rule's default impact
        (
            {"alertname": "HighErrorRate"},
            Impact.DEGRADED,
            "rule 'checkout': default impact",
        ),
        (
            {"alertname": "HighErrorRate", "severity": "unheard-of"},
            Impact.DEGRADED,
            "rule 'checkout': default impact",
        ),
    ],
)
def test_rule_impacts_then_labels_then_rule_default(
    labels: dict[str, str], impact: Impact, reason: str
) -> None:
    service, found, why = classify(service="checkout-api", **labels)
    assert (service, found, why) == ("checkout", impact, reason)


def test_rule_default_impact_can_be_worse_than_the_global_default() -> None:
    assert classify(job="batch", alertname="BatchLate")[:2] == ("batch", Impact.OUTAGE)


@pytest.mark.parametrize(
    ("default", "labels"),
    [
        (Impact.DEGRADED, {"service": "web"}),
        (Impact.OUTAGE, {"service": "web", "severity": "weird"}),
        (Impact.OPERATIONAL, {"slo": "search-x"}),  # a rule without default_impact
    ],
)
def test_global_default_impact(default: Impact, labels: dict[str, str]) -> None:
    classifier = LabelClassifier(RULES, ClassificationSettings(default_impact=default))
    found = classifier.classify(_alert(**labels))
    assert found.impact is default
    assert found.reason == "default impact (no label said otherwise)"


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service": "web", "sloth_service": "s", "app": "a", "job": "j"}, "web"),
        ({"sloth_service": "s", "app": "a", "job": "j"}, "s"),
        ({"app": "a", "job": "j"}, "a"),
        ({"job": "j"}, "j"),
        ({"service": "", "app": "a"}, "a"),
        ({"alertname": "Lonely"}, UNKNOWN_SERVICE),
        # a rule's service wins over every label
        ({"service": "checkout-api", "app": "a"}, "checkout"),
        ({"job": "batch", "service": "web"}, "batch"),
    ],
)
def test_service_resolution_order(labels: dict[str, str], service: str) -> None:
    assert classify(**labels)[0] == service


def test_configured_service_labels_change_the_order() -> None:
    settings = ClassificationSettings(service_labels=("app", "service"))
    found = LabelClassifier((), settings).classify(_alert(service="web", app="frontend"))
    assert found.service == "frontend"


def test_first_matching_rule_wins_in_file_order() -> None:
    broad = _rule("everything", ['alertname=~".+"'])
    assert classify((broad, CHECKOUT), service="checkout", alertname="X")[0] == "everything"
    assert classify((CHECKOUT, broad), service="checkout", alertname="X")[0] == "checkout"


@pytest.mark.parametrize(
    ("group_by", "labels", "key"),
    [
        (("service",), {"service": "web", "region": "eu"}, "service=web"),
        (("service",), {"service": "checkout-api"}, "service=checkout"),
        (("service",), {"alertname": "Lonely"}, "service=unknown"),
        (("service", "region"), {"service": "web", "region": "eu"}, "service=web,region=eu"),
        (("service", "region"), {"service": "web"}, "service=web,region="),
        (("region", "service"), {"service": "web", "region": "eu"}, "region=eu,service=web"),
        (
            ("service", "cluster", "shard"),
            {"app": "db", "cluster": "c1", "shard": "7"},
            "service=db,cluster=c1,shard=7",
        ),
        (("cluster",), {"service": "web", "cluster": "c1"}, "cluster=c1"),
    ],
)
def test_group_key(group_by: tuple[str, ...], labels: dict[str, str], key: str) -> None:
    classifier = LabelClassifier(RULES, ClassificationSettings(group_by=group_by))
    assert classifier.classify(_alert(**labels)).group_key == key


def test_alerts_of_one_service_in_different_parts_group_apart_with_extra_labels() -> None:
    classifier = LabelClassifier(RULES, ClassificationSettings(group_by=("service", "region")))
    eu = classifier.classify(_alert(service="checkout", region="eu"))
    us = classifier.classify(_alert(service="checkout", region="us"))
    assert eu.service == us.service == "checkout"
    assert eu.group_key != us.group_key


@pytest.mark.parametrize(
    ("labels", "threshold", "after"),
    [
        ({"slo": "search-x"}, Impact.PARTIAL_DISRUPTION, timedelta(minutes=10)),
        ({"service": "checkout"}, Impact.DEGRADED, timedelta(minutes=2)),
        ({"service": "web"}, Impact.DEGRADED, timedelta(minutes=2)),
    ],
)
def test_declare_threshold_and_delay_come_from_the_rule_else_settings(
    labels: dict[str, str], threshold: Impact, after: timedelta
) -> None:
    settings = ClassificationSettings(declare_after=timedelta(minutes=2))
    found = LabelClassifier(RULES, settings).classify(_alert(**labels))
    assert (found.declare_threshold, found.declare_after) == (threshold, after)


def test_a_rule_declare_after_of_zero_overrides_the_global_delay() -> None:
    now = _rule("now", ['service="now"'], declare_after=timedelta(0))
    settings = ClassificationSettings(declare_after=timedelta(minutes=5))
    found = LabelClassifier((now,), settings).classify(_alert(service="now"))
    assert found.declare_after == timedelta(0)


def test_as_dict_carries_impact_and_reason() -> None:
    found = LabelClassifier(RULES, ClassificationSettings()).classify(
        _alert(service="checkout", alertname="CheckoutDown")
    )
    assert found.as_dict() == {
        "impact": "outage",
        "reason": "rule 'checkout': alertname=\"CheckoutDown\"",
        "evidence": [],
    }


def test_a_very_long_group_key_is_shortened_but_stays_unique() -> None:
    classifier = LabelClassifier((), ClassificationSettings(group_by=("service", "path")))
    one = classifier.group_key("checkout", {"path": "/a" * 500})
    two = classifier.group_key("checkout", {"path": "/b" * 500})
    assert len(one) <= 400 and len(two) <= 400
    assert one != two and one.startswith("service=checkout,path=/a/a")
    assert one == classifier.group_key("checkout", {"path": "/a" * 500})


LABEL_SETS = [
    {"service": "checkout", "alertname": "CheckoutDown"},
    {"service": "checkout", "severity": "critical", "region": "eu"},
    {"service": "checkout", "severity": "critical", "region": ""},
    {"service": "checkout", "severity": "critical"},
    {"sloth_service": "payments", "sloth_severity": "page"},
    {"slo": "search-latency", "long": "1h", "short": "5m", "severity": "warning"},
    {"slo": "search-latency", "severity": "warning", "alertname": "Other"},
    {"alertname": "Other", "severity": "warning"},
    {"alertname": "Other", "severity": "warning", "slo": ""},
    {"job": "batch", "alertname": "BatchLate"},
    {"service": "web", "impact": "outage", "severity": "info"},
    {"app": "frontend"},
]


def test_a_classifier_that_has_seen_other_alerts_answers_as_a_fresh_one() -> None:
    settings = ClassificationSettings(group_by=("service", "region"))
    shared = LabelClassifier(RULES, settings)
    for labels in [*LABEL_SETS, *reversed(LABEL_SETS), *LABEL_SETS]:
        fresh = LabelClassifier(RULES, settings).classify(_alert(**labels))
        assert shared.classify(_alert(**labels)) == fresh, labels


def test_labels_no_rule_reads_do_not_change_the_classification() -> None:
    classifier = LabelClassifier(RULES, ClassificationSettings())
    one = classifier.classify(_alert(service="checkout", severity="critical", instance="a:1"))
    other = classifier.classify(_alert(service="checkout", severity="critical", instance="b:2"))
    assert one == other
    down = classifier.classify(
        _alert(service="checkout", severity="critical", instance="a:1", alertname="CheckoutDown")
    )
    assert (one.impact, down.impact) == (Impact.PARTIAL_DISRUPTION, Impact.OUTAGE)
