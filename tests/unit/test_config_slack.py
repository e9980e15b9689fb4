"""The `slack` section: when Slack is on, what each key becomes, and errors that name the key."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from firstresponder.config import load_config
from firstresponder.domain.vocabulary import Severity
from firstresponder.errors import ConfigError
from firstresponder.slack.limits import HOLD_LIMIT
from firstresponder.slack.wiring import slack_delivery

from ..factories import write_config

REPO = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, slack: Any) -> Any:
    return load_config(write_config(tmp_path, slack=slack))


def problems(tmp_path: Path, slack: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, slack)
    return caught.value.problems


def test_without_a_slack_section_slack_is_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    assert not config.slack.enabled


def test_enabled_false_turns_it_off_even_without_a_token(tmp_path: Path) -> None:
    assert not load(tmp_path, {"enabled": False}).slack.enabled


def test_the_commented_example_loads_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.example.yaml's slack section, uncommented, is a valid config."""
    text = (REPO / "config.example.yaml").read_text()
    start, end = text.index("# slack:"), text.index("\n# Tickets:")
    lines = [line[2:] for line in text[start:end].splitlines() if not line.startswith("#   #")]
    example = yaml.safe_load("\n".join(lines))["slack"]
    token = tmp_path / "bot-token"
    token.write_text("xoxb-example\n")
    example["bot_token_file"] = str(token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    slack = load(tmp_path, example).slack
    assert slack.enabled
    assert (slack.bot_token, slack.signing_secret) == ("xoxb-example", "signing")
    assert slack.announce_channels == ("C0123456789",)
    assert slack.users == {"Alice Example": "U0123456789"}
    assert slack.bridge_for(42) == "https://meet.example.com/incident-42"
    assert slack.status_update_intervals[Severity.S1] == timedelta(minutes=15)
    assert slack.status_update_intervals[Severity.S4] is None
    assert slack.handoff_times == (time(8, 0), time(20, 0))
    assert (slack.delivery.concurrency, slack.delivery.batch) == (8, 50)
    assert slack.delivery.max_wait == HOLD_LIMIT
    assert slack.api_url == "https://slack.com/api/"


def test_defaults_follow_the_handbook_cadence(tmp_path: Path) -> None:
    slack = load(tmp_path, {"bot_token": "xoxb-1", "api_url": "http://127.0.0.1:9/api"}).slack
    assert slack.api_url == "http://127.0.0.1:9/api/", "slack_sdk needs the trailing slash"
    assert slack.channel_template == "inc-{number}-{service}"
    assert [slack.status_update_intervals[s] for s in Severity] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(minutes=60),
        None,
    ]
    assert slack.handoff_times == ()
    assert "xoxb-1" not in repr(slack)


@pytest.mark.parametrize(
    ("slack", "problem"),
    [
        ({}, "slack.bot_token: required when the slack section is present"),
        (
            {"bot_token": "x", "channel_template": "incident-{service}"},
            "slack.channel_template: channel template 'incident-{service}' must contain {number}",
        ),
        (
            {"bot_token": "x", "channel_template": "inc-{number}-{team}"},
            "slack.channel_template: channel template 'inc-{number}-{team}' may use only",
        ),
        (
            {"bot_token": "x", "status_update_intervals": {"S2": "30s"}},
            "slack.status_update_intervals.S2: bad value 0:00:30 (at least 1m, or off)",
        ),
        (
            {"bot_token": "x", "handoff_times": ["25:00"]},
            "slack.handoff_times[0]: bad value '25:00'",
        ),
        ({"bot_token": "x", "announce_channels": ["#incidents"]}, "slack.announce_channels[0]"),
        ({"bot_token": "x", "responders": ["alice"]}, "slack.responders[0]: bad value 'alice'"),
        (
            {"bot_token": "x", "status_update_intervals": {"S9": "5m"}},
            "slack.status_update_intervals",
        ),
        ({"bot_token": "x", "bridge": "https://x"}, "slack: unknown key(s) 'bridge'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, slack: dict[str, Any], problem: str) -> None:
    found = problems(tmp_path, slack)
    assert any(p.startswith(problem) for p in found), found
    assert not any("xoxb" in p for p in found)


def test_the_slack_dispatcher_has_its_own_concurrency_and_batch(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            escalation={"delivery": {"attempts": 6}},
            slack={"bot_token": "xoxb-1", "delivery": {"concurrency": 16, "batch": 200}},
        )
    )
    settings = slack_delivery(config)
    assert (settings.concurrency, settings.batch) == (16, 200)
    assert settings.attempts == 6, "the rest as pages are delivered"
    assert settings.max_inline_wait == HOLD_LIMIT, "longer waits go back to the outbox"
    assert config.paging.delivery.concurrency == 8, "pages keep theirs"


def test_slack_delivery_defaults(tmp_path: Path) -> None:
    slack = load(tmp_path, {"bot_token": "xoxb-1"}).slack
    assert (slack.delivery.concurrency, slack.delivery.batch) == (8, 50)


@pytest.mark.parametrize(
    ("delivery", "key"),
    [
        ({"concurrency": 0}, "slack.delivery.concurrency"),
        ({"batch": "many"}, "slack.delivery.batch"),
        ({"batch": 0}, "slack.delivery.batch"),
        ({"rate": 5}, "slack.delivery"),
        ({"max_wait": "2m"}, "slack.delivery.max_wait"),
        ({"max_wait": "soon"}, "slack.delivery.max_wait"),
    ],
)
def test_bad_slack_delivery_settings_name_the_key(
    tmp_path: Path, delivery: dict[str, Any], key: str
) -> None:
    found = problems(tmp_path, {"bot_token": "xoxb-1", "delivery": delivery})
    assert any(key in problem for problem in found), found


def test_max_wait_zero_sends_every_call_not_due_back_to_the_outbox(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, slack={"bot_token": "xoxb-1", "delivery": {"max_wait": "0s"}})
    )
    assert config.slack.delivery.max_wait == timedelta(0)
    assert slack_delivery(config).max_inline_wait == timedelta(0)
