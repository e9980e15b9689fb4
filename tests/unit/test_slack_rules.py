"""Slack channel names: lowercase letters, digits, `-` and `_`, at most 80 characters."""

from __future__ import annotations

import pytest

from firstresponder.slack.rules import (
    channel_name,
    check_channel_template,
    is_valid_channel_name,
    numbered,
    truncate,
)


@pytest.mark.parametrize(
    ("incident_id", "service", "template", "expected"),
    [
        (42, "checkout", "inc-{number}-{service}", "inc-42-checkout"),
        (42, "Checkout", "inc-{number}-{service}", "inc-42-checkout"),
        (42, "Checkout API", "inc-{number}-{service}", "inc-42-checkout-api"),
        (42, "  payments  gateway ", "inc-{number}-{service}", "inc-42-payments-gateway"),
        (7, "Zürich Café", "inc-{number}-{service}", "inc-7-zurich-cafe"),
        (7, "Straße", "inc-{number}-{service}", "inc-7-strasse"),
        (7, "東京-web", "inc-{number}-{service}", "inc-7-web"),
        (7, "api.v2/orders", "inc-{number}-{service}", "inc-7-api-v2-orders"),
        (7, "auth_service", "inc-{number}-{service}", "inc-7-auth_service"),
        (7, "--checkout--", "inc-{number}-{service}", "inc-7-checkout"),
        (7, "!!!", "inc-{number}-{service}", "inc-7"),
        (7, "", "inc-{number}-{service}", "inc-7"),
        (7, "🔥🔥", "inc-{number}-{service}", "inc-7"),
        (7, "checkout", "INC{number}_{service}", "inc7_checkout"),
        (7, "checkout", "{service}-incident-{number}", "checkout-incident-7"),
        (7, "Checkout", "#OHSS {number} {service}", "ohss-7-checkout"),
    ],
)
def test_names_follow_slack_rules(
    incident_id: int, service: str, template: str, expected: str
) -> None:
    name = channel_name(incident_id, service, template)
    assert name == expected
    assert is_valid_channel_name(name)


def test_a_long_service_is_cut_to_80_characters_never_the_number() -> None:
    name = channel_name(123456, "very-long-service-name-" * 10)
    assert 75 <= len(name) <= 80  # the cut fell on a "-", which is trimmed
    assert name.startswith("inc-123456-very-long-service-name-")
    assert not name.endswith("-")
    assert is_valid_channel_name(name)


def test_a_long_number_keeps_every_digit() -> None:
    number = 10**60 + 7  # 61 digits
    name = channel_name(number, "checkout-and-payments-and-more")
    assert len(name) <= 80
    assert f"inc-{number}-" in name and name.startswith(f"inc-{number}-check")
    assert channel_name(10**74, "checkout") == f"inc-{10**74}"  # 79 characters: no room


def test_a_number_that_cannot_fit_is_an_error_not_a_cut() -> None:
    with pytest.raises(ValueError, match="within 80 characters"):
        channel_name(10**80, "checkout")


def test_the_service_is_cut_wherever_the_template_puts_it() -> None:
    name = channel_name(99, "x" * 100, "{service}-inc-{number}")
    assert len(name) == 80 and name.endswith("-inc-99")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("inc-{service}", "must contain {number}"),
        ("inc-{number}-{team}", "only {number}, {service} and {ticket}"),
        ("inc-{number}-{0}", "only {number}, {service} and {ticket}"),
        ("inc-{number", "must contain {number}"),
        ("inc-{number}-{service", "only {number}, {service} and {ticket}"),
    ],
)
def test_bad_templates_say_what_is_wrong(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        check_channel_template(template)


@pytest.mark.parametrize(
    ("base", "n", "expected"),
    [
        ("inc-42-checkout", 2, "inc-42-checkout-2"),
        ("inc-42-checkout", 20, "inc-42-checkout-20"),
        ("x" * 80, 2, "x" * 78 + "-2"),
        ("inc-42-" + "a" * 72 + "-b", 3, "inc-42-" + "a" * 71 + "-3"),
    ],
)
def test_numbered_names_stay_within_80(base: str, n: int, expected: str) -> None:
    assert numbered(base, n) == expected
    assert len(expected) <= 80


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("inc-1", True),
        ("a" * 80, True),
        ("a" * 81, False),
        ("Inc-1", False),
        ("inc 1", False),
        ("", False),
        ("---", False),
    ],
)
def test_valid_names(name: str, valid: bool) -> None:
    assert is_valid_channel_name(name) is valid


def test_truncate_marks_the_cut() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("a" * 300, 250) == "a" * 249 + "…"
    assert len(truncate("word " * 100, 250)) <= 250
