"""The ticket part of the config: which tracker, where, as whom, and how the ticket follows
the incident (labels, the closing transition, people as the tracker knows them).

Tickets are on when the `tickets` section is present (and `enabled` is not false). Each
tracker needs its own keys: Jira a project key (and, on Cloud, the account's email for
basic auth), GitHub a repository `owner/name`. Problems name the key; the token is never
shown. Whether the token really has the rights is asked of the tracker itself by
`check-config --online` (see `tickets/check.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from yarl import URL

from .durations import DURATION_PATTERN, parse_duration

JIRA_CLOUD, JIRA_DC, GITHUB = "jira_cloud", "jira_dc", "github"
TRACKERS = (JIRA_CLOUD, JIRA_DC, GITHUB)
DEFAULT_URLS = {GITHUB: "https://api.github.com"}
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LABEL = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^\S+$"}

TICKETS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tracker"],
    "properties": {
        "enabled": {"type": "boolean"},
        "tracker": {"enum": list(TRACKERS)},
        "url": {"type": "string", "pattern": "^https?://"},
        "project": {"type": "string", "minLength": 1},
        "repo": {"type": "string", "minLength": 1},
        "email": {"type": "string", "minLength": 1},
        "token": {"type": "string", "minLength": 1},
        "token_file": {"type": "string", "minLength": 1},
        "issue_type": {"type": "string", "minLength": 1},
        "close_transition": {"type": "string", "minLength": 1},
        "labels": {"type": "array", "uniqueItems": True, "items": _LABEL},
        "severity_label": {**_LABEL, "pattern": r"^\S*\{severity\}\S*$"},
        "state_label": {**_LABEL, "pattern": r"^\S*\{state\}\S*$"},
        "users": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "channel_wait": {"type": "string", "pattern": DURATION_PATTERN},
        "timeout": {"type": "string", "pattern": DURATION_PATTERN},
    },
}


@dataclass(frozen=True)
class TicketConfig:
    enabled: bool = False
    tracker: str = ""
    url: str = ""
    project: str = ""  # Jira project key
    repo: str = ""  # GitHub owner/name
    email: str = ""  # Jira Cloud: the account the API token belongs to
    token: str = field(default="", repr=False)
    issue_type: str = "Task"
    close_transition: str = "Done"
    labels: tuple[str, ...] = ("incident",)
    severity_label: str = "severity-{severity}"
    state_label: str = "state-{state}"
    users: Mapping[str, str] = field(default_factory=dict)  # person -> tracker user
    channel_wait: timedelta = timedelta(seconds=30)  # how long Slack waits for {ticket}
    timeout: timedelta = timedelta(seconds=10)

    def severity_tag(self, severity: str) -> str:
        return self.severity_label.replace("{severity}", severity.lower())

    def state_tag(self, state: str) -> str:
        return self.state_label.replace("{state}", state)

    def user_for(self, person: str) -> str:
        """The tracker user of someone named as paged or assigned; "" when unknown."""
        return self.users.get(person.strip(), "")


def build_tickets(raw: Mapping[str, Any] | None) -> tuple[TicketConfig, list[str]]:
    """The ticket config and every problem with it (keys named, the token never shown)."""
    if raw is None or not raw.get("enabled", True):
        return TicketConfig(), []
    tracker = str(raw["tracker"])
    url = str(raw.get("url", DEFAULT_URLS.get(tracker, ""))).rstrip("/")
    config = TicketConfig(
        enabled=True,
        tracker=tracker,
        url=url,
        project=str(raw.get("project", "")),
        repo=str(raw.get("repo", "")),
        email=str(raw.get("email", "")),
        token=str(raw.get("token", "")),
        issue_type=str(raw.get("issue_type", "Task")),
        close_transition=str(raw.get("close_transition", "Done")),
        labels=tuple(raw.get("labels", ("incident",))),
        severity_label=str(raw.get("severity_label", "severity-{severity}")),
        state_label=str(raw.get("state_label", "state-{state}")),
        users={str(k): str(v) for k, v in raw.get("users", {}).items()},
        channel_wait=parse_duration(raw.get("channel_wait", "30s")),
        timeout=parse_duration(raw.get("timeout", "10s")),
    )
    return config, _problems(config, raw)


def _problems(config: TicketConfig, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    if not config.url:
        problems.append(f"tickets.url: required for tracker {config.tracker}")
    else:
        problems += _url_problems(config.url)
    if not config.token:
        problems.append("tickets.token: required (or token_file)")
    if config.tracker in (JIRA_CLOUD, JIRA_DC):
        problems += _jira_problems(config)
    if config.tracker == GITHUB:
        problems += _github_problems(config, raw)
    return problems


def _jira_problems(config: TicketConfig) -> list[str]:
    problems = []
    if not config.project:
        problems.append(f"tickets.project: the Jira project key is required for {config.tracker}")
    elif not _PROJECT_KEY.match(config.project):
        problems.append(
            f"tickets.project: bad value {config.project!r} (a Jira project key, "
            "e.g. IM: capital letters, digits and _)"
        )
    if config.tracker == JIRA_CLOUD and not config.email:
        problems.append(
            "tickets.email: required for jira_cloud (the account the API token belongs to)"
        )
    return problems


def _github_problems(config: TicketConfig, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    if not config.repo:
        problems.append("tickets.repo: the repository (owner/name) is required for github")
    elif not _REPO.match(config.repo):
        problems.append(f"tickets.repo: bad value {config.repo!r} (expected owner/name)")
    problems += [
        f"tickets.users.{person}: bad value {login!r} (a GitHub login)"
        for person, login in config.users.items()
        if not _LOGIN.fullmatch(login)
    ]
    return problems


def _url_problems(url: str) -> list[str]:
    try:
        parsed = URL(url)
    except ValueError:
        return [f"tickets.url: bad value {url!r} (not a URL)"]
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return [f"tickets.url: bad value {url!r} (expected http(s)://host[:port][/path])"]
    if parsed.query_string or parsed.fragment:
        return [f"tickets.url: bad value {url!r} (no query or fragment)"]
    return []
