"""Start a target server in a fresh temp dir, pinned to a core; wait until ready; stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("json", "sqlite", "firstresponder")
LABELS = {
    "json": "baseline: JSON only",
    "sqlite": "baseline: durable SQLite",
    "firstresponder": "firstresponder",
}
WEBHOOK = "/api/v1/alertmanager"


@dataclass(frozen=True)
class Running:
    target: str
    base_url: str
    workdir: Path
    pid: int  # the server itself: taskset runs it in its own process (exec)

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def firstresponder_config(workdir: Path, port: int, token: str) -> Path:
    path = workdir / "firstresponder.yaml"
    path.write_text(
        f"""server:
  listen: "127.0.0.1:{port}"
  public_url: "http://127.0.0.1:{port}"
  shutdown_timeout: 10s
store:
  url: "sqlite:///{workdir / "firstresponder.db"}"
auth:
  webhook:
    bearer_token: "{token}"
rules_dir: "{REPO / "rules"}"
# The bench measures ingestion; paging needs pager credentials it does not have.
escalation:
  enabled: false
logging:
  level: warning
  format: json
"""
    )
    return path


def command(target: str, workdir: Path, port: int, token: str) -> list[str]:
    if target == "firstresponder":
        exe = Path(sys.executable).parent / "firstresponder"
        return [str(exe), "serve", "--config", str(firstresponder_config(workdir, port, token))]
    cmd = [sys.executable, "-m", "bench.ingest.baselines", "--kind", target]
    cmd += ["--port", str(port), "--token", token]
    if target == "sqlite":
        cmd += ["--db", str(workdir / "baseline.db")]
    return cmd


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s:\n{log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve(target: str, token: str, core: int | None) -> Iterator[Running]:
    """A fresh server for `target` (its own temp dir and database), stopped on exit."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{target}-") as tmp:
        workdir, port = Path(tmp), free_port()
        cmd = command(target, workdir, port, token)
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]
        log = workdir / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(proc, base + "/readyz", log)
            yield Running(target, base, workdir, proc.pid)
        finally:
            stop(proc)
