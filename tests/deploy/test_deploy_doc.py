"""docs/deploy.md agrees with the chart and the CLI it tells people to use."""

from __future__ import annotations

import re
import shlex

import pytest

from firstresponder.cli import parser

from .chart import DEPLOY_DOC, SECRET_ENV, default_values

_COMMAND = re.compile(r"\bfirstresponder ((?:serve|migrate|check-config|test-rules)\b[^`\n]*)")


def doc() -> str:
    return DEPLOY_DOC.read_text(encoding="utf-8")


def code_blocks() -> list[str]:
    return re.findall(r"```\w*\n(.*?)```", doc(), re.S)


def inline_code() -> list[str]:
    prose = re.sub(r"```\w*\n.*?```", "", doc(), flags=re.S)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def commands() -> list[str]:
    """Invocations with arguments (a bare `firstresponder serve` is a mention, not a command)."""
    found = [m for text in code_blocks() + inline_code() for m in _COMMAND.findall(text)]
    return sorted({c.strip() for c in found if len(c.split()) > 1})


def test_the_doc_runs_migrate() -> None:
    assert any(c.startswith("migrate --config") for c in commands())


@pytest.mark.parametrize("command", commands())
def test_cli_invocations_parse(command: str) -> None:
    words = shlex.split(command.split("|")[0].split("&&")[0])
    args = parser().parse_args(words)
    assert args.command == words[0]


def test_secrets_table_matches_the_chart() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `(FIRSTRESPONDER_\w+)` \|", doc(), re.M))
    assert rows == SECRET_ENV
    assert set(default_values()["secrets"]) == set(rows)


def test_webhook_snippet_is_complete() -> None:
    snippet = next(b for b in code_blocks() if "webhook_configs:" in b)
    for needed in (
        "/api/v1/alertmanager",
        "send_resolved: true",
        "type: Bearer",
        "credentials_file:",
    ):
        assert needed in snippet
