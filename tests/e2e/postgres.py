"""A private PostgreSQL server for end-to-end tests that stop and start the database.

`initdb` into a fresh temporary directory, `pg_ctl start` on a free loopback port,
`stop_immediately()` (the postmaster and every backend die at once, as in a crash or a
lost host), `start()` again (crash recovery from the WAL). PostgreSQL refuses to run as
root, so as root (CI, containers) every command runs as the `postgres` user, in a
directory outside pytest's root-only tmp tree.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .harness import free_port

DEBIAN_BIN = Path("/usr/lib/postgresql")
COMMAND_TIMEOUT_S = 60.0


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's newest versioned directory."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = [p.parent for p in DEBIAN_BIN.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def unavailable_reason() -> str | None:
    """Why a private server cannot be run here (None when it can)."""
    if find_bin_dir() is None:
        return f"initdb not found on PATH or under {DEBIAN_BIN}/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


class PrivatePostgres:
    """One throw-away cluster; `url` reaches its `postgres` database with trust auth."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        assert bin_dir is not None, unavailable_reason()
        self._bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fr-postgres-"))
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.dir} -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.running = True

    def stop_immediately(self) -> None:
        """`pg_ctl stop -m immediate`: no checkpoint, connections cut; the WAL keeps commits."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def cleanup(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.SubprocessError, AssertionError):
                self.stop_immediately()
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError as exc:
            return f"<cannot read {self.log}: {exc}>"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if self._user is not None:
            user = self._user
            command = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--init-groups",
                "--",
                *command,
            ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            cwd=self.dir,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        assert done.returncode == 0, (
            f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}\n{self.server_log()}"
        )


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()
