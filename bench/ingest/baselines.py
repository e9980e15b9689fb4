"""The two bare baselines firstresponder is measured against, as one small aiohttp server.

    python -m bench.ingest.baselines --kind json --port 9100
    python -m bench.ingest.baselines --kind sqlite --port 9100 --db /tmp/x/baseline.db

`json`: check the bearer token, parse the body, answer 200. `sqlite`: the same, plus every
alert goes into SQLite (WAL, synchronous=NORMAL) in one transaction per request, committed
before the answer, with INSERT OR IGNORE on (fingerprint, startsAt, status) like the daemon.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY,
    event_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    received_at REAL NOT NULL,
    receiver TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    generator_url TEXT NOT NULL
)
"""
INSERT = (
    "INSERT OR IGNORE INTO alert_events (event_key, fingerprint, status, starts_at, ends_at,"
    " received_at, receiver, labels, annotations, generator_url)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def open_db(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(SCHEMA)
    return conn


def _rows(payload: dict[str, Any], now: float) -> list[tuple[Any, ...]]:
    receiver = payload.get("receiver", "")
    return [
        (
            f"{a['fingerprint']}|{a['startsAt']}|{a['status']}",
            a["fingerprint"],
            a["status"],
            a["startsAt"],
            a.get("endsAt"),
            now,
            receiver,
            json.dumps(a["labels"]),
            json.dumps(a.get("annotations", {})),
            a.get("generatorURL", ""),
        )
        for a in payload["alerts"]
    ]


def make_handler(token: str, conn: sqlite3.Connection | None) -> Handler:
    expected = f"Bearer {token}".encode()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "unauthorized"}, status=401)
        payload = json.loads(await request.read())
        alerts = len(payload["alerts"])
        if conn is not None:
            rows = _rows(payload, time.time())
            conn.execute("BEGIN")
            try:
                conn.executemany(INSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return web.json_response({"status": "accepted", "received": alerts})

    return handle


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def build_app(token: str, conn: sqlite3.Connection | None) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/api/v1/alertmanager", make_handler(token, conn))
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest.baselines")
    parser.add_argument("--kind", choices=("json", "sqlite"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--db", help="SQLite file (required for --kind sqlite)")
    args = parser.parse_args()
    if args.kind == "sqlite" and not args.db:
        parser.error("--kind sqlite needs --db")
    conn = open_db(args.db) if args.kind == "sqlite" else None
    try:
        app = build_app(args.token, conn)
        web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)
    finally:
        if conn is not None:
            conn.close()


if __name__ == "__main__":
    main()
