"""Alertmanager matcher syntax: parsing, anchoring, quoting, selectors and errors."""

from __future__ import annotations

import pytest

from firstresponder.domain.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    all_match,
    parse_matcher_list,
    parse_matchers,
)


def _parsed(text: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.type.value, m.value) for m in parse_matchers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('service="checkout"', [("service", "=", "checkout")]),
        ("service=checkout", [("service", "=", "checkout")]),
        ("service='checkout'", [("service", "=", "checkout")]),
        ('  service  =  "checkout"  ', [("service", "=", "checkout")]),
        ('env!="staging"', [("env", "!=", "staging")]),
        ('alertname=~"High.*"', [("alertname", "=~", "High.*")]),
        ('alertname!~"Watchdog|InfoInhibitor"', [("alertname", "!~", "Watchdog|InfoInhibitor")]),
        ("region=~eu-.*", [("region", "=~", "eu-.*")]),
        ('region=""', [("region", "=", "")]),
        ("region=", [("region", "=", "")]),
        ('msg="say \\"hi\\""', [("msg", "=", 'say "hi"')]),
        ('path="a\\\\b"', [("path", "=", "a\\b")]),
        ('msg="line1\\nline2"', [("msg", "=", "line1\nline2")]),
        ('team="a,b"', [("team", "=", "a,b")]),
        ('team="{a}"', [("team", "=", "{a}")]),
        ("_private=x", [("_private", "=", "x")]),
        (
            '{service="checkout",severity!="info"}',
            [("service", "=", "checkout"), ("severity", "!=", "info")],
        ),
        (
            '{ service = "checkout" , region =~ "eu-.*" , }',
            [("service", "=", "checkout"), ("region", "=~", "eu-.*")],
        ),
        ("a=1, b!=2", [("a", "=", "1"), ("b", "!=", "2")]),
        (
            'a="x,y",b=~"p|q",c!~"r"',
            [("a", "=", "x,y"), ("b", "=~", "p|q"), ("c", "!~", "r")],
        ),
    ],
)
def test_parse_matchers(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _parsed(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty matcher"),
        ("   ", "empty matcher"),
        ("{}", "empty matcher"),
        ('{service="checkout"', "unclosed '{'"),
        ("1service=checkout", "cannot parse matcher"),
        ("service", "cannot parse matcher"),
        ('service~"x"', "cannot parse matcher"),
        ('a="x" junk', "cannot parse matcher"),
        ('a="x"b="y"', "cannot parse matcher"),
        ("a=b,,c=d", "cannot parse matcher"),
    ],
)
def test_unparseable_matchers_raise_and_quote_the_text(text: str, fragment: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matchers(text)
    assert fragment in str(caught.value)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        'alertname=~"(unclosed"',
        'alertname!~"[z-a]"',
        '{service="checkout", alertname=~"*bad"}',
        "alertname=~+",
    ],
)
def test_bad_regex_is_a_matcher_error_naming_the_matcher(text: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matchers(text)
    message = str(caught.value)
    assert "bad regular expression" in message
    assert repr(text) in message


def test_a_bad_regex_in_a_plain_equality_is_just_a_string() -> None:
    (matcher,) = parse_matchers('alertname="(unclosed"')
    assert matcher.matches({"alertname": "(unclosed"})


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        # = and != compare the whole value
        ('service="checkout"', {"service": "checkout"}, True),
        ('service="checkout"', {"service": "checkout-api"}, False),
        ('service="checkout"', {"service": "Checkout"}, False),
        ('service="checkout"', {}, False),
        ('service!="checkout"', {"service": "checkout"}, False),
        ('service!="checkout"', {"service": "search"}, True),
        ('service!="checkout"', {}, True),
        # a missing label is the empty string, as in Alertmanager
        ('region=""', {}, True),
        ('region=""', {"region": "eu"}, False),
        ('region!=""', {}, False),
        ('region!=""', {"region": "eu"}, True),
        # regexes are fully anchored at both ends
        ('service=~"check"', {"service": "checkout"}, False),
        ('service=~"out"', {"service": "checkout"}, False),
        ('service=~"check.*"', {"service": "checkout"}, True),
        ('service=~"checkout|search"', {"service": "search"}, True),
        ('service=~"checkout|search"', {"service": "checkout-api"}, False),
        ('service=~"checkout|search"', {"service": "xsearch"}, False),
        ('service=~"checkout"', {"service": "checkout\n"}, False),
        ('service=~".*"', {}, True),
        ('service=~".+"', {}, False),
        ('alertname!~"Watchdog|Info.*"', {"alertname": "Watchdog"}, False),
        ('alertname!~"Watchdog|Info.*"', {"alertname": "InfoInhibitor"}, False),
        ('alertname!~"Watchdog|Info.*"', {"alertname": "MyWatchdogAlert"}, True),
        ('alertname!~"Watchdog"', {}, True),
        # several matchers must all hold
        ('{service="checkout", region=~"eu-.*"}', {"service": "checkout", "region": "eu-1"}, True),
        ('{service="checkout", region=~"eu-.*"}', {"service": "checkout", "region": "us-1"}, False),
        ('{service="checkout", region=~"eu-.*"}', {"region": "eu-1"}, False),
    ],
)
def test_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert all_match(parse_matchers(text), labels) is expected


@pytest.mark.parametrize(
    "text",
    [
        'service="checkout"',
        'msg="say \\"hi\\""',
        'path="a\\\\b"',
        'alertname=~"High.*|Low"',
        'region!~"eu-.*"',
        'region!=""',
    ],
)
def test_str_round_trips(text: str) -> None:
    (matcher,) = parse_matchers(text)
    (again,) = parse_matchers(str(matcher))
    assert again == matcher


def test_str_is_alertmanager_syntax() -> None:
    (matcher,) = parse_matchers("service=~checkout|search")
    assert str(matcher) == 'service=~"checkout|search"'


def test_parse_matcher_list_joins_every_item() -> None:
    matchers = parse_matcher_list(['service="checkout"', '{region=~"eu-.*", env!="dev"}'])
    assert [(m.name, m.type) for m in matchers] == [
        ("service", MatchType.EQUAL),
        ("region", MatchType.REGEX),
        ("env", MatchType.NOT_EQUAL),
    ]


def test_parse_matcher_list_reports_the_bad_item() -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher_list(['service="checkout"', 'region=~"["'])
    assert 'region=~"["' in str(caught.value)
    assert "checkout" not in str(caught.value)


def test_no_matchers_select_everything() -> None:
    no_matchers: tuple[Matcher, ...] = ()
    assert all_match(no_matchers, {"anything": "at all"})
