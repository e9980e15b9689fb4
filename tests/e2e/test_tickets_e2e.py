"""Tickets through the real daemon process, per tracker: a ticket opened on declaration,
commented and relabelled as the incident changes, assigned to the owner, closed on
resolution, against a fake tracker (a real HTTP server in a thread of this test). And
`check-config --online` telling a token without rights from a good one.

Waits poll until something is observed; there is no fixed sleep.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload
from ..fakes.github import REPO, FakeGitHub, FakeGitHubIssue
from ..fakes.github import TOKEN as GH_TOKEN
from ..fakes.jira import EMAIL, FakeIssue, FakeJira, adf_text
from ..fakes.jira import TOKEN as JIRA_TOKEN
from .daemons import EXECUTABLE, Threaded
from .harness import Processes, free_port, get_json, post_json, wait_ready, wait_until

DEADLINE_S = 30.0


def tickets_section(tracker: str, url: str, **extra: Any) -> dict[str, Any]:
    people = {"Alice Oncall": "alice", "Bob Manager": "bob"}
    if tracker == "github":
        return {
            "tracker": tracker,
            "url": url,
            "repo": REPO,
            "token": GH_TOKEN,
            "users": people,
            **extra,
        }
    section = {"tracker": tracker, "url": url, "project": "IM", "token": JIRA_TOKEN, **extra}
    if tracker == "jira_cloud":
        section |= {
            "email": EMAIL,
            "users": {"Alice Oncall": "acct-alice", "Bob Manager": "acct-bob"},
        }
    else:
        section |= {"users": people}
    return section


def write_config(tmp_path: Path, port: int, tickets: dict[str, Any]) -> Path:
    config = tmp_path / "firstresponder.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
                "store": {"url": f"sqlite:///{tmp_path / 'fr.db'}"},
                "auth": {
                    "webhook": {"bearer_token": WEBHOOK_TOKEN},
                    "api_tokens": [{"name": "e2e", "token": API_TOKEN}],
                },
                "escalation": {"enabled": False},
                "tickets": tickets,
                "logging": {"level": "info", "format": "json"},
            }
        )
    )
    return config


def fake_for(tracker: str) -> FakeJira | FakeGitHub:
    if tracker == "github":
        return FakeGitHub()
    return FakeJira(cloud=tracker == "jira_cloud")


class TicketView:
    """What a person sees of the one ticket in the fake tracker, whichever it is."""

    def __init__(self, fake: FakeJira | FakeGitHub) -> None:
        self.fake = fake

    def opened(self) -> bool:
        return bool(self.fake.issues)

    def _jira(self) -> FakeIssue | None:
        return next(iter(self.fake.issues.values())) if isinstance(self.fake, FakeJira) else None

    def _github(self) -> FakeGitHubIssue | None:
        found = self.fake.issues.get(1) if isinstance(self.fake, FakeGitHub) else None
        return found

    def comments(self) -> list[str]:
        jira, gh = self._jira(), self._github()
        return [adf_text(c) for c in jira.comments] if jira else list(gh.comments if gh else [])

    def assignees(self) -> list[str]:
        jira, gh = self._jira(), self._github()
        if jira is not None:
            return [jira.assignee] if jira.assignee else []
        return list(gh.assignees) if gh else []

    def closed(self) -> bool:
        jira, gh = self._jira(), self._github()
        return jira.status == "Done" if jira else bool(gh and gh.state == "closed")

    def labels(self) -> set[str]:
        jira, gh = self._jira(), self._github()
        return set(jira.labels if jira else gh.labels if gh else [])


@pytest.mark.parametrize("tracker", ["jira_cloud", "jira_dc", "github"])
def test_a_ticket_is_opened_updated_assigned_and_closed(tmp_path: Path, tracker: str) -> None:
    with Threaded(fake_for(tracker)) as fake:
        port = free_port()
        config = write_config(tmp_path, port, tickets_section(tracker, fake.url))
        url = f"http://127.0.0.1:{port}"
        processes = Processes(tmp_path / "logs")
        try:
            processes.start("firstresponder", [EXECUTABLE, "serve", "--config", str(config)])
            wait_ready(
                f"{url}/readyz", what="daemon ready", deadline_s=DEADLINE_S, processes=processes
            )
            view = TicketView(fake)
            fake.fail_next(429, times=1, retry_after=1)  # the tracker's rate limit, first
            alert = make_alert(
                labels={"service": "cart", "impact": "degraded", "alertname": "CartErrors"}
            )
            hook = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
            answer = post_json(f"{url}/api/v1/alertmanager", make_payload(alert), headers=hook)
            assert answer is not None and answer.status == 200, answer
            [incident_id] = answer.json()["incidents"]
            base = f"{url}/api/v1/incidents/{incident_id}"
            wait_until(
                view.opened, what="ticket opened", deadline_s=DEADLINE_S, processes=processes
            )

            api = {"Authorization": f"Bearer {API_TOKEN}"}
            post_json(f"{base}/ack", {"by": "Alice Oncall"}, headers=api)
            wait_until(
                lambda: view.assignees() != [] or None,
                what="assigned to the EOC",
                deadline_s=DEADLINE_S,
                processes=processes,
            )
            post_json(f"{base}/roles", {"role": "imoc", "person": "Bob Manager"}, headers=api)
            post_json(f"{base}/severity", {"severity": "S1"}, headers=api)
            bob = "acct-bob" if tracker == "jira_cloud" else "bob"
            wait_until(
                lambda: (view.assignees() or [""])[0] == bob or None,
                what="assigned to the IMOC",
                deadline_s=DEADLINE_S,
                processes=processes,
            )
            post_json(f"{base}/resolve", {}, headers=api)
            wait_until(
                view.closed, what="ticket closed", deadline_s=DEADLINE_S, processes=processes
            )

            said = " | ".join(view.comments())
            assert "Acknowledged by Alice Oncall" in said
            assert "Bob Manager" in said
            assert "post-incident review draft" in said or "post\\-incident review draft" in said
            assert "state-resolved" in view.labels()
            body = get_json(f"{base}/timeline")
            kinds = [entry["kind"] for entry in body["entries"]] if body else []
            assert kinds.count("ticket_opened") == 1
            creates = [
                r
                for r in fake.requests
                if r.method == "POST" and r.path.endswith("/issue") or r.path.endswith("/issues")
            ]
            assert len(creates) == 2, "the 429 was retried, once"
            assert "ticket_failed" not in kinds
        finally:
            processes.stop_all()
            print(processes.describe(tail=None))


def check_online(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXECUTABLE, "check-config", "--online", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("tracker", ["jira_cloud", "jira_dc"])
def test_check_config_online_names_the_missing_jira_permission(
    tmp_path: Path, tracker: str
) -> None:
    rights = ("BROWSE_PROJECTS", "CREATE_ISSUES", "ADD_COMMENTS")
    with Threaded(FakeJira(cloud=tracker == "jira_cloud", permissions=rights)) as jira:
        config = write_config(tmp_path, free_port(), tickets_section(tracker, jira.url))
        done = check_online(config)
        assert done.returncode == 1, done
        assert "lacks the Jira permission 'Transition Issues' (TRANSITION_ISSUES)" in done.stderr
        assert JIRA_TOKEN not in done.stderr + done.stdout
        jira.permissions.update({"EDIT_ISSUES", "ASSIGN_ISSUES", "TRANSITION_ISSUES"})
        done = check_online(config)
        assert done.returncode == 0, done.stderr


def test_check_config_online_refuses_a_bad_github_token(tmp_path: Path) -> None:
    with Threaded(FakeGitHub(token="the-real-one")) as gh:
        config = write_config(tmp_path, free_port(), tickets_section("github", gh.url))
        done = check_online(config)
        assert done.returncode == 1
        assert "tickets.token: GitHub refused the token (HTTP 401)" in done.stderr
