"""The Dockerfile, read instruction by instruction (no Docker engine here to build it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from firstresponder.cli import parser

from .chart import ROOT

BUILD_TOOLS = {"gcc", "g++", "cc", "make", "build-essential", "python3-dev", "libc6-dev"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def instructions() -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, as Docker reads them."""
    out: list[Instruction] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages() -> list[list[Instruction]]:
    out: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            out.append([])
        assert out, "the first instruction must be FROM"
        out[-1].append(instruction)
    return out


def final_stage() -> list[Instruction]:
    return stages()[-1]


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def test_builds_in_one_stage_and_runs_from_slim_python_in_another() -> None:
    froms = [stage[0].args for stage in stages()]
    assert len(froms) >= 2, "multi-stage: a builder and a runtime stage"
    assert froms[-1].split()[0].split("@")[0] == "python:3.11-slim"
    # The venv is copied between stages: the interpreter must be the same one.
    assert {f.split()[0] for f in froms} == {froms[-1].split()[0]}


def test_final_stage_copies_only_the_venv_from_the_builder() -> None:
    copies = [i.args for i in final_stage() if i.keyword in ("COPY", "ADD")]
    assert copies == ["--from=builder /opt/venv /opt/venv"]


def test_final_stage_installs_no_build_tools() -> None:
    runs = " ".join(i.args for i in final_stage() if i.keyword == "RUN")
    words = set(re.split(r"[\s;&|]+", runs))
    assert not words & BUILD_TOOLS
    assert "apt-get install" not in runs and "pip install" not in runs


def test_runs_as_a_fixed_non_root_uid() -> None:
    user = only(final_stage(), "USER").args
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) == 10001, user
    assert "--uid 10001" in " ".join(i.args for i in final_stage() if i.keyword == "RUN")


def test_workdir_port_volume() -> None:
    stage = final_stage()
    assert only(stage, "WORKDIR").args.startswith("/")
    assert only(stage, "EXPOSE").args == "9095"
    assert only(stage, "VOLUME").args == "/var/lib/firstresponder"


def test_healthcheck_asks_healthz_with_python() -> None:
    args = only(final_stage(), "HEALTHCHECK").args
    assert "CMD" in args
    command = json.loads(args.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    assert "urllib" in command[2] and "http://127.0.0.1:9095/healthz" in command[2]
    compile(command[2], "HEALTHCHECK", "exec")


def test_entrypoint_and_cmd_are_what_the_cli_accepts() -> None:
    stage = final_stage()
    assert json.loads(only(stage, "ENTRYPOINT").args) == ["firstresponder"]
    cmd = json.loads(only(stage, "CMD").args)
    assert cmd == ["serve", "--config", "/etc/firstresponder/config.yaml"]
    args = parser().parse_args(cmd)
    assert (args.command, args.config) == ("serve", "/etc/firstresponder/config.yaml")


@pytest.mark.parametrize("pattern", [".venv", ".git", "*.db", ".pytest_cache", "bench/results"])
def test_dockerignore_excludes(pattern: str) -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert pattern in {line.strip() for line in lines}


@pytest.mark.parametrize("needed", ["src", "pyproject.toml", "README.md"])
def test_dockerignore_keeps_what_the_build_copies(needed: str) -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert needed not in patterns and "*" not in patterns
    copied = " ".join(i.args for i in stages()[0] if i.keyword == "COPY")
    assert needed in copied
