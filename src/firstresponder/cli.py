"""The `firstresponder` command: serve, check-config, test-rules, replay, migrate."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from aiohttp import web

from .config import Config, load_config
from .errors import ConfigError, StoreUnavailable
from .logs import setup_logging


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    if config is None:
        return 1
    if args.online and not _online_ok(args.file, config):
        return 1
    print(
        f"{args.file}: OK ({len(config.rules)} service rule(s) from "
        f"{config.rules_dir or 'no rules_dir'}; store {config.store.url.split(':', 1)[0]})"
    )
    return 0


def _online_ok(path: str, config: Config) -> bool:
    """Ask the services themselves what a config file cannot show (a token's rights)."""
    from .tickets.check import tracker_problems

    problems = asyncio.run(tracker_problems(config.tickets))
    if problems:
        print(f"{path}: {len(problems)} problem(s) online:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    return not problems


def _test_rules(args: argparse.Namespace) -> int:
    from .rule_tests import run_test_files

    return run_test_files(args.files)


def _serve(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    setup_logging(config.log_level, config.log_format)
    from .app import build_app
    from .gc_tuning import tune_for_serving

    app = build_app(config)
    tune_for_serving()
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout.total_seconds(),
        access_log=None,
        print=None,
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    # The report is stdout; only what is wrong reaches stderr.
    setup_logging("warning", config.log_format)
    from .replay import run_replay

    return run_replay(args.file, config, args.config, json=args.json, until=args.until)


def _migrate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    from .store.sql import SqlStore

    async def run() -> None:
        store = SqlStore.from_config(config.store)
        try:
            await store.migrate()
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except StoreUnavailable as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    print("migrate: the store schema is up to date")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="firstresponder", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", "-c", required=True, help="config file (YAML)")
    serve.set_defaults(run=_serve)
    check = sub.add_parser(
        "check-config", help="validate a config file and its rules; exit 1 on errors"
    )
    check.add_argument("file")
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask the issue tracker whether the project exists and the token has the "
        "rights firstresponder uses",
    )
    check.set_defaults(run=_check_config)
    test_rules = sub.add_parser(
        "test-rules", help="run rule unit tests (rules/*_test.yaml); exit 1 on a failure"
    )
    test_rules.add_argument("files", nargs="+", metavar="FILE")
    test_rules.set_defaults(run=_test_rules)
    replay = sub.add_parser(
        "replay",
        help="replay recorded webhooks (JSON Lines) through the engine on a simulated clock: "
        "what would have been declared, paged and escalated",
    )
    replay.add_argument("file", metavar="FILE.jsonl")
    replay.add_argument("--config", "-c", required=True, help="config file (YAML)")
    replay.add_argument("--json", action="store_true", help="one JSON document, not text")
    replay.add_argument(
        "--until",
        metavar="RFC3339",
        help="keep running until then (default: the last webhook plus the longest "
        "escalation timeout)",
    )
    replay.set_defaults(run=_replay)
    migrate = sub.add_parser("migrate", help="bring the store schema up to date")
    migrate.add_argument("--config", "-c", required=True)
    migrate.set_defaults(run=_migrate)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
