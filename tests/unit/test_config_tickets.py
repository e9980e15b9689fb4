"""The `tickets` section: what each tracker requires, and the errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from firstresponder.config import load_config
from firstresponder.errors import ConfigError
from firstresponder.slack.rules import channel_name
from firstresponder.tickets.base import Link
from firstresponder.tickets.formats import adf, markdown, wiki

from ..factories import write_config

JIRA = {"tracker": "jira_cloud", "url": "https://acme.atlassian.net", "project": "IM"}


def problems(tmp_path: Path, **config: Any) -> list[str]:
    try:
        load_config(write_config(tmp_path, **config))
    except ConfigError as exc:
        return exc.problems
    return []


def test_a_jira_cloud_section_is_read(tmp_path: Path) -> None:
    tickets = {**JIRA, "email": "bot@acme.example", "token": "t0ken", "users": {"Alice": "a-1"}}
    config = load_config(write_config(tmp_path, tickets=tickets))
    assert config.tickets.enabled and config.tickets.project == "IM"
    assert config.tickets.user_for("Alice") == "a-1"
    assert config.tickets.severity_tag("S1") == "severity-s1"
    assert "t0ken" not in repr(config.tickets)


@pytest.mark.parametrize(
    ("tickets", "expected"),
    [
        ({**JIRA, "email": "e", "token": "t", "project": ""}, "tickets.project"),
        (
            {k: v for k, v in JIRA.items() if k != "project"} | {"email": "e", "token": "t"},
            "tickets.project: the Jira project key is required for jira_cloud",
        ),
        (
            {**JIRA, "email": "e", "token": "t", "project": "im-1"},
            "tickets.project: bad value 'im-1'",
        ),
        ({**JIRA, "token": "t"}, "tickets.email: required for jira_cloud"),
        ({**JIRA, "email": "e"}, "tickets.token: required"),
        ({**JIRA, "email": "e", "token": "t", "url": "jira.example"}, "tickets.url"),
        (
            {**JIRA, "email": "e", "token": "t", "url": "https://"},
            "tickets.url: bad value 'https:'",
        ),
        (
            {"tracker": "github", "token": "t"},
            "tickets.repo: the repository (owner/name) is required",
        ),
        ({"tracker": "github", "token": "t", "repo": "just-a-name"}, "tickets.repo: bad value"),
        ({"tracker": "redmine", "token": "t"}, "tickets.tracker"),
        ({**JIRA, "email": "e", "token": "t", "severity_label": "sev"}, "tickets.severity_label"),
    ],
)
def test_bad_ticket_config_names_the_key(
    tmp_path: Path, tickets: dict[str, Any], expected: str
) -> None:
    found = problems(tmp_path, tickets=tickets)
    assert any(expected in problem for problem in found), found


def test_the_ticket_placeholder_needs_tickets(tmp_path: Path) -> None:
    slack = {"bot_token": "xoxb-1", "channel_template": "{ticket}-{service}"}
    assert "slack.channel_template: {ticket} needs the tickets section" in problems(
        tmp_path, slack=slack
    )


def test_channel_names_carry_the_ticket_key_or_fall_back() -> None:
    assert channel_name(42, "Check Out", "{ticket}-{service}", "IM-123") == "im-123-check-out"
    assert channel_name(42, "Check Out", "{ticket}-{service}") == "inc-42-check-out"
    assert channel_name(42, "x" * 100, "inc-{ticket}-{service}", "IM-7").startswith("inc-im-7-x")


def test_text_goes_in_as_text_in_every_format() -> None:
    lines, links = ["*not bold* [x|y] {code}"], [Link("API", "http://fr/api(1)")]
    document = adf(lines, links)
    assert document["content"][0]["content"][0]["text"] == lines[0]
    assert (
        document["content"][1]["content"][0]["content"][0]["content"][0]["marks"][0]["attrs"][
            "href"
        ]
        == "http://fr/api(1)"
    )
    assert wiki(lines, links) == "\\*not bold\\* \\[x\\|y\\] \\{code\\}\n\n* [API|http://fr/api(1)]"
    assert (
        markdown(lines, links)
        == "\\*not bold\\* \\[x\\|y\\] \\{code\\}\n\n- [API](http://fr/api%281%29)"
    )


def test_a_long_review_is_cut_to_what_jira_holds() -> None:
    document = adf(["x"], document="y" * 100_000)
    block = document["content"][-1]["content"][0]["text"]
    assert len(block) < 32_767 and block.endswith("the full text is in firstresponder)")


def test_the_commented_example_loads_as_documented(tmp_path: Path) -> None:
    """config.example.yaml's tickets section, uncommented, is a valid config."""
    text = (Path(__file__).parents[2] / "config.example.yaml").read_text()
    start, end = text.index("# tickets:"), text.index("\nlogging:")
    lines = [line[2:] for line in text[start:end].splitlines() if not line.startswith("#   #")]
    example = yaml.safe_load("\n".join(lines))["tickets"]
    token = tmp_path / "jira-token"
    token.write_text("jira-api-token\n")
    example["token_file"] = str(token)
    tickets = load_config(write_config(tmp_path, tickets=example)).tickets
    assert (tickets.tracker, tickets.project, tickets.token) == (
        "jira_cloud",
        "IM",
        "jira-api-token",
    )
    assert tickets.close_transition == "Done"
    assert tickets.user_for("Alice Example") == "5b10ac8d82e05b22cc7d4ef5"
