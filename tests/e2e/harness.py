"""A small harness for end-to-end tests that run real processes on loopback.

- `free_port()` picks an unused loopback port.
- `Processes` starts commands with stdout+stderr captured to a log file each, fails fast
  (with the logs) when one dies early, and stops everything: SIGTERM, then SIGKILL.
- `wait_until()` polls a probe until it returns a value or a deadline passes; never a
  fixed sleep. On timeout the error names what was awaited, the last observation and the
  tail of every process log.
- `http_get()` / `get_json()` / `scrape()` are tiny urllib clients that never raise for
  connection errors (a server that is not up yet is the normal case while polling).
- `SyntheticTarget` is an in-test HTTP server exposing Prometheus text the test can change.
- `CounterTarget` exposes counters that grow with wall time at rates the test sets, so
  `rate()` in a real Prometheus shows them; `prometheus_query()` reads Prometheus back.
- `http_post()` / `post_json()` send a body (e.g. a webhook) the same never-raising way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

LOG_TAIL_CHARS = 6000


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (the OS picks; closed again before returning)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def missing_binaries(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


class ProcessDied(AssertionError):
    """A managed process exited while the test still needed it."""


@dataclass
class Managed:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def returncode(self) -> int | None:
        return self.popen.poll()

    def log(self, tail: int | None = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        if tail is not None and len(text) > tail:
            return "...\n" + text[-tail:]
        return text

    def describe(self, tail: int | None = LOG_TAIL_CHARS) -> str:
        code = self.returncode()
        status = "running" if code is None else f"exited with {code}"
        header = f"----- {self.name} (pid {self.pid}, {status}) log {self.log_path} -----"
        return f"{header}\n{self.log(tail)}"

    def terminate(self, timeout: float) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.wait()

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
        self.popen.wait()


@dataclass
class Processes:
    """Processes started by one test; `stop_all()` belongs in the fixture's teardown."""

    log_dir: Path
    started: list[Managed] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Managed:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        full_env = {**os.environ, **(env or {})}
        with log_path.open("wb") as log_file:  # the child keeps its own descriptor
            popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=full_env,
                start_new_session=True,  # a stray Ctrl-C in the terminal reaches pytest only
            )
        managed = Managed(name, list(args), log_path, popen)
        self.started.append(managed)
        return managed

    def check_alive(self) -> None:
        """Fail at once, with logs, if any process has exited."""
        dead = [p for p in self.started if p.returncode() is not None]
        if dead:
            names = ", ".join(f"{p.name} (exit {p.returncode()})" for p in dead)
            raise ProcessDied(f"process exited early: {names}\n{self.describe()}")

    def describe(self, tail: int | None = LOG_TAIL_CHARS) -> str:
        return "\n".join(p.describe(tail) for p in self.started)

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop in reverse start order; SIGKILL whatever ignores SIGTERM. Never raises."""
        for managed in reversed(self.started):
            with contextlib.suppress(Exception):
                managed.terminate(timeout)
        for managed in self.started:  # belt and braces: nothing may outlive the test
            with contextlib.suppress(Exception):
                managed.kill()


class Timeout(AssertionError):
    """`wait_until` ran out of time."""


def wait_until(
    probe: Callable[[], T | None],
    *,
    what: str,
    deadline_s: float,
    interval_s: float = 0.5,
    processes: Processes | None = None,
    observe: Callable[[], object] | None = None,
) -> T:
    """Call `probe` every `interval_s` until it returns something other than None/False.

    Fails fast if a managed process dies. On timeout, reports `what`, the last value of
    `observe()` (or of the probe) and the process logs.
    """
    deadline = time.monotonic() + deadline_s
    last: object = None
    while True:
        if processes is not None:
            processes.check_alive()
        started = time.monotonic()
        result = probe()
        if result is not None and result is not False:
            return result
        last = observe() if observe is not None else result
        now = time.monotonic()
        if now >= deadline:
            logs = processes.describe() if processes is not None else ""
            raise Timeout(
                f"timed out after {deadline_s:.0f}s waiting for {what}; "
                f"last observed: {last!r}\n{logs}"
            )
        time.sleep(max(0.0, min(interval_s - (now - started), deadline - now)))


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_get(
    url: str, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> HttpAnswer | None:
    """GET `url`; None when nothing answers (refused, reset, timed out)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(exc.code, exc.read())
    except (urllib.error.URLError, OSError):
        return None


def is_ok(url: str) -> bool:
    answer = http_get(url, timeout=2.0)
    return answer is not None and answer.status == 200


def wait_ready(url: str, *, what: str, deadline_s: float, processes: Processes | None) -> None:
    """Poll `url` until it answers 200 (a readiness endpoint)."""
    wait_until(functools.partial(is_ok, url), what=what, deadline_s=deadline_s, processes=processes)


def get_json(url: str) -> Any | None:
    answer = http_get(url)
    if answer is None or answer.status != 200:
        return None
    return answer.json()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
    """Samples of a Prometheus text endpoint keyed by (name, labels); None if unreachable."""
    answer = http_get(url)
    if answer is None or answer.status != 200:
        return None
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample_values(
    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float],
    name: str,
    **labels: str,
) -> list[float]:
    """Values of every sample called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return [value for (n, have), value in samples.items() if n == name and wanted <= have]


class SyntheticTarget:
    """A scrape target served by the test itself; `set_body()` changes what it exposes."""

    def __init__(self, body: str = "") -> None:
        self._lock = threading.Lock()
        self._body = body.encode()
        self.scrapes = 0
        self._server = _BodyServer(self._render, name="synthetic-target")

    def _render(self) -> bytes:
        with self._lock:
            self.scrapes += 1
            return self._body

    @property
    def address(self) -> str:
        return self._server.address

    def set_body(self, body: str) -> None:
        with self._lock:
            self._body = body.encode()

    def start(self) -> SyntheticTarget:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[SyntheticTarget]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def http_post(
    url: str,
    body: bytes,
    *,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> HttpAnswer | None:
    """POST `body` to `url`; None when nothing answers (refused, reset, timed out)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(exc.code, exc.read())
    except (urllib.error.URLError, OSError):
        return None


def post_json(
    url: str, document: Any, *, headers: Mapping[str, str] | None = None
) -> HttpAnswer | None:
    """POST `document` as JSON (with any extra headers, e.g. Authorization)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return http_post(url, json.dumps(document).encode(), headers=all_headers)


def prometheus_query(base_url: str, promql: str) -> list[tuple[dict[str, str], float]] | None:
    """An instant query against Prometheus's HTTP API: (labels, value) per series.

    None when Prometheus does not answer or answers with an error; a scalar answer is one
    element with no labels. Values are floats (`NaN`, `+Inf` included).
    """
    url = f"{base_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    answer = http_get(url)
    if answer is None or answer.status != 200:
        return None
    data = answer.json().get("data", {})
    if data.get("resultType") == "scalar":
        return [({}, float(data["result"][1]))]
    return [(dict(item["metric"]), float(item["value"][1])) for item in data.get("result", [])]


class CounterTarget:
    """A scrape target whose counters grow with wall time at per-second rates the test sets.

    `set_rate(labels, per_second)` changes how fast one series grows from now on; its value
    so far is kept, so the counter stays monotonic and `rate()` over a window shows a blend
    of old and new rates until the window has passed. Each scrape renders every series at
    the time of the scrape, so Prometheus sees real, smoothly increasing counters.
    """

    def __init__(self, metric: str, *, help_text: str = "Synthetic requests.") -> None:
        self.metric = metric
        self._help = help_text
        self._lock = threading.Lock()
        # labels -> (value at `since`, rate per second, since (monotonic))
        self._series: dict[tuple[tuple[str, str], ...], tuple[float, float, float]] = {}
        self.scrapes = 0
        self._target = _BodyServer(self._render, name="counter-target")

    @property
    def address(self) -> str:
        return self._target.address

    def set_rate(self, labels: Mapping[str, str], per_second: float) -> None:
        if per_second < 0:
            raise ValueError(f"a counter cannot shrink: rate {per_second}")
        key = tuple(sorted(labels.items()))
        now = time.monotonic()
        with self._lock:
            value = self._value(key, now)
            self._series[key] = (value, per_second, now)

    def _value(self, key: tuple[tuple[str, str], ...], now: float) -> float:
        found = self._series.get(key)
        if found is None:
            return 0.0
        value, rate, since = found
        return value + rate * (now - since)

    def _render(self) -> bytes:
        now = time.monotonic()
        lines = [f"# HELP {self.metric} {self._help}", f"# TYPE {self.metric} counter"]
        with self._lock:
            self.scrapes += 1
            for key in sorted(self._series):
                labels = ",".join(f'{name}="{_escape_label(value)}"' for name, value in key)
                lines.append(f"{self.metric}{{{labels}}} {self._value(key, now):.6f}")
        return ("\n".join(lines) + "\n").encode()

    def start(self) -> CounterTarget:
        self._target.start()
        return self

    def stop(self) -> None:
        self._target.stop()


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _BodyServer:
    """Serves `/metrics` from a callable evaluated on every scrape."""

    def __init__(self, render: Callable[[], bytes], name: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Prometheus scrapes every second: keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
