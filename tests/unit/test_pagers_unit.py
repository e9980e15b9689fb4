"""The pagers' pure parts: event mapping, error classification, request bodies."""

from __future__ import annotations

from typing import Any

import pagerduty
import pytest

from firstresponder.domain.escalation import PageAction
from firstresponder.domain.vocabulary import Role
from firstresponder.pagers.base import PageMessage, PermanentDeliveryError, TransientDeliveryError
from firstresponder.pagers.grafana_oncall import OnCallTarget, escalation
from firstresponder.pagers.http import Answer, failure, reason, scrub
from firstresponder.pagers.oncall_lookup import first_on_call
from firstresponder.pagers.pagerduty import dedup_key, one_attempt, trigger_event
from firstresponder.pagers.webhook import webhook_body


def message(payload: dict[str, Any], role: Role = Role.EOC) -> PageMessage:
    return PageMessage(
        id=1,
        incident_id=42,
        target="primary",
        role=role,
        action=PageAction.TRIGGER,
        dedup_key="firstresponder-42-eoc",
        payload=payload,
    )


def test_a_bare_payload_still_makes_a_valid_trigger() -> None:
    event = trigger_event(message({}))
    assert (event.summary, event.source, event.severity) == (
        "incident 42",
        "firstresponder",
        "critical",
    )
    assert event.payload == {}  # no component/group/class/timestamp rather than empty ones
    assert event.custom_details == {"role": "eoc"}
    assert event.links == []


def test_the_summary_falls_back_on_the_title() -> None:
    assert trigger_event(message({"title": "Checkout errors"})).summary == "Checkout errors"


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ([{"href": "https://a", "text": "A"}], [{"href": "https://a", "text": "A"}]),
        ([{"href": "https://a"}], [{"href": "https://a"}]),
        ([{"text": "no href"}, "https://b", {"href": ""}], []),
        ("https://not-a-list", []),
    ],
)
def test_links_keep_only_well_formed_entries(links: Any, expected: list[dict[str, str]]) -> None:
    assert trigger_event(message({"links": links})).links == expected


def test_details_that_are_not_a_mapping_are_kept_under_details() -> None:
    details = trigger_event(message({"details": ["a", "b"]})).custom_details
    assert details["details"] == ["a", "b"]


@pytest.mark.parametrize("length", [0, 1, 255])
def test_short_dedup_keys_pass_unchanged(length: int) -> None:
    assert dedup_key("k" * length) == "k" * length


def test_long_dedup_keys_shrink_to_255_distinctly_and_repeatably() -> None:
    first, second = "x" * 300 + "1", "x" * 300 + "2"
    assert len(dedup_key(first)) == 255
    assert dedup_key(first) == dedup_key(first)
    assert dedup_key(first) != dedup_key(second)


def test_one_attempt_replaces_the_packages_retry_settings() -> None:
    client = pagerduty.EventsApiV2Client("r" * 32)
    assert client.retry  # EventsApiV2Client retries 5xx by default
    one_attempt(client, 2.5)
    assert client.retry == {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
    assert (client.max_http_attempts, client.max_network_attempts, client.timeout) == (-1, 0, 2.5)
    client.close()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (502, TransientDeliveryError),
        (599, TransientDeliveryError),
        (202, TransientDeliveryError),  # accepted but unusable: PagerDuty dedups a resend
        (301, PermanentDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (403, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (413, PermanentDeliveryError),
    ],
)
def test_statuses_are_classified(status: int, kind: type[Exception]) -> None:
    assert type(failure("t", Answer(status, ""))) is kind


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), ("0.5", 0.5), (None, None), ("soon", None)]
)
def test_retry_after_is_read_from_the_header(header: str | None, expected: float | None) -> None:
    error = failure("t", Answer(503, "", header))
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"status":"invalid event","message":"Event object is invalid","errors":["a","b"]}',
            "Event object is invalid: a; b",
        ),
        (
            '{"error":{"message":"Invalid Input Provided","code":2001,"errors":["x"]}}',
            "Invalid Input Provided: x",
        ),
        ('{"detail":"Not found."}', "Not found."),
        ('{"users":["User U1 does not exist"]}', '{"users":["User U1 does not exist"]}'),
        ("<html>\n  <h1>502 Bad Gateway</h1>\n</html>", "<html> <h1>502 Bad Gateway</h1> </html>"),
        ("", "(empty body)"),
    ],
)
def test_the_reason_is_the_apis_own_message(body: str, expected: str) -> None:
    assert reason(body) == expected


def test_reasons_are_truncated() -> None:
    assert len(reason("x" * 5000)) == 200


def test_scrub_hides_secrets_longest_first_and_spares_short_values() -> None:
    text = "Bearer abcd1234 and abcd1234 and ab"
    assert scrub(text, ["abcd1234", "Bearer abcd1234", "ab"]) == "*** and *** and ab"


def test_a_team_escalation_names_the_team_only() -> None:
    body = escalation(message({"title": "T", "severity": "S1"}), OnCallTarget(team="TEAM1"))
    assert body == {"title": "T", "message": "severity S1", "source_url": None, "team": "TEAM1"}


def test_an_escalation_message_does_not_repeat_the_title() -> None:
    payload = {"summary": "same", "reason": "S3 declared"}
    body = escalation(message(payload), OnCallTarget(users=("U1",)))
    assert (body["title"], body["message"]) == ("same", "S3 declared")
    assert body["users"] == [{"id": "U1", "important": False}]


@pytest.mark.parametrize("target", [{}, {"team": "T", "users": ("U",)}, {"team": ""}])
def test_an_oncall_target_needs_a_team_or_users(target: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="team or users"):
        OnCallTarget(**target)


def test_the_webhook_envelope_wins_a_name_clash() -> None:
    body = webhook_body(message({"action": "spoofed", "summary": "s"}))
    assert (body["action"], body["summary"], body["version"]) == ("trigger", "s", "1")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "oncalls": [
                    {"escalation_level": 2, "user": {"summary": "Second"}},
                    {"escalation_level": 1, "user": {"summary": "First"}},
                ]
            },
            "First",
        ),
        ({"oncalls": [{"escalation_level": 1, "user": None}]}, None),
        ({"oncalls": []}, None),
        ({"unexpected": True}, None),
        (["not", "a", "mapping"], None),
    ],
)
def test_first_on_call_reads_the_lowest_escalation_level(body: Any, expected: str | None) -> None:
    assert first_on_call(body) == expected
