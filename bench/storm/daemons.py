"""The daemon under test: its config, a fresh database, one or two replica processes.

Each cell gets a temp dir; SQLite lives there, PostgreSQL gets a fresh database
(`fr_storm_<pid>_<random>`) that is dropped afterwards. Replicas start one after the
other (the first runs the migrations) and stop with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import yaml

from tests.fakes import CA_FILE

from ..ingest.servers import REPO, free_port, stop, wait_ready

ROUTING_KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
API_TOKEN = "bench-api-token"
SIGNING_SECRET = "bench-slack-signing-secret"


@dataclass(frozen=True)
class Replica:
    url: str
    pid: int
    log: Path

    @property
    def webhook_url(self) -> str:
        return self.url + "/api/v1/alertmanager"


def config(
    workdir: Path, port: int, store_url: str, fakes: dict[str, Any], token: str, ack_s: float
) -> Path:
    rules = workdir / "rules"
    rules.mkdir(exist_ok=True)
    document = {
        "server": {
            "listen": f"127.0.0.1:{port}",
            "public_url": f"http://127.0.0.1:{port}",
            "shutdown_timeout": "10s",
        },
        "store": {"url": store_url},
        "auth": {
            "webhook": {"bearer_token": token},
            "api_tokens": [{"name": "bench", "token": API_TOKEN}],
        },
        "rules_dir": str(rules),
        "escalation": {"enabled": True, "ack_timeout": f"{ack_s:g}s"},
        "pagerduty": {
            "events_url": fakes["pagerduty_url"],
            "ca_file": str(CA_FILE),
            "routing_keys": ROUTING_KEYS,
        },
        "slack": {
            "api_url": fakes["slack_api_url"],
            "bot_token": fakes["slack_token"],
            "signing_secret": SIGNING_SECRET,
            "announce_channels": [fakes["announce_channel"]],
            "responders": [fakes["responder"]],
        },
        "logging": {"level": "warning", "format": "json"},
    }
    path = workdir / f"firstresponder-{port}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def store_url(store: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """The store URL of one cell: a SQLite file in `workdir`, or a fresh PostgreSQL
    database created on `admin_url`'s server and dropped on exit."""
    if store == "sqlite":
        yield f"sqlite:///{workdir / 'firstresponder.db'}"
        return
    name = f"fr_storm_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def replicas(
    count: int, workdir: Path, store: str, fakes: dict[str, Any], token: str, ack_s: float
) -> Iterator[list[Replica]]:
    """`count` daemon processes on one store, each ready before the next starts."""
    exe = Path(sys.executable).parent / "firstresponder"
    procs: list[subprocess.Popen[bytes]] = []
    started: list[Replica] = []
    try:
        for i in range(count):
            port = free_port()
            path = config(workdir, port, store, fakes, token, ack_s)
            log = workdir / f"daemon-{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [str(exe), "serve", "--config", str(path)],
                    cwd=REPO,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            wait_ready(proc, url + "/readyz", log, timeout=60)
            started.append(Replica(url, proc.pid, log))
        yield started
    finally:
        for proc in procs:
            stop(proc)


def rss_bytes(pid: int) -> int:
    """VmRSS of a process (0 when it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
