"""`firstresponder replay FILE.jsonl`: recorded webhooks through the real engine on a
simulated clock: what a config would have declared, paged and escalated.

SREs replay last week's alerts against a rules or config change before deploying it.
The recording is read and checked whole first (`replay_input`), then fed to the
daemon's own components on a throwaway store (`replay_engine`), and the report is read
back from that store and the recording pagers (`replay_events`, `replay_report`).
Exit status: 0 when the replay ran, whatever it found; 1 for a bad recording or
option; 2 for an internal failure.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from datetime import datetime, timedelta
from pathlib import Path

from .api.payload import parse_time
from .config import Config
from .errors import PayloadError
from .replay_engine import ReplayEngine, replay_engine
from .replay_events import Facts
from .replay_input import Recording, RecordingError, read_recording
from .replay_report import Header, as_json, as_text
from .store.ports import IncidentFilter, StoredEntry

PAGE_SIZE = 500  # incidents read per query when gathering the facts


def run_replay(
    file: str, config: Config, config_path: str, *, json: bool = False, until: str | None = None
) -> int:
    """The command: print the report to stdout, problems to stderr; the exit status."""
    try:
        recording = read_recording(Path(file))
        stop = _until(until, recording, config)
    except RecordingError as exc:
        for problem in exc.problems:
            print(f"replay: {problem}", file=sys.stderr)
        return 1
    try:
        facts = asyncio.run(replay(recording, config, stop))
    except Exception:  # a bug, not the input: say so, with what a bug report needs
        print("replay: internal error (the recording was valid):", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 2
    header = Header(
        file=file,
        config=config_path,
        rules=len(config.rules),
        lines=len(recording.webhooks),
        bare=sum(w.timed_by_alerts for w in recording.webhooks),
        start=recording.start,
        end=recording.end,
        until=stop,
        paging=config.paging.enabled,
    )
    print(as_json(header, facts) if json else as_text(header, facts))
    return 0


def default_until(config: Config, last: datetime) -> datetime:
    """Long enough after the last webhook for its pending escalations to show: the longest
    an unacknowledged page waits for its last escalation (ack_timeout × (1 + repeats))."""
    policy = config.paging.policy
    levels = [*policy.by_severity.values()]
    levels += [
        level for by_severity in policy.by_service.values() for level in by_severity.values()
    ]
    longest = max(
        (level.ack_timeout * (1 + level.repeats) for level in levels), default=timedelta()
    )
    return last + longest


def _until(text: str | None, recording: Recording, config: Config) -> datetime:
    if text is None:
        return default_until(config, recording.end)
    try:
        stop = parse_time(text, "--until")
    except PayloadError as exc:
        raise RecordingError([str(exc)]) from exc
    if stop < recording.end:
        last = recording.webhooks[-1]
        raise RecordingError(
            [
                f"--until: {text} is before the last webhook (line {last.line}, {last.at.isoformat()})"
            ]
        )
    return stop


async def replay(recording: Recording, config: Config, until: datetime) -> Facts:
    """Feed every webhook at its time, run on to `until`, and read back what happened."""
    async with replay_engine(config, recording.start) as engine:
        for webhook in recording.webhooks:
            await engine.feed(webhook)
        await engine.run_until(until)
        return await _gather(engine)


async def _gather(engine: ReplayEngine) -> Facts:
    store = engine.store
    incidents = []
    before: int | None = None
    while page := await store.list_incidents(
        IncidentFilter(limit=PAGE_SIZE, before_id=before, with_alerts=False)
    ):
        incidents += page
        before = page[-1].id
    incidents.reverse()  # the store lists newest first; the report reads oldest first
    entries: list[StoredEntry] = []
    for incident in incidents:
        entries += await store.timeline(incident.id)
    ids = [incident.id for incident in incidents]
    waiting = await store.transact(lambda uow: [d for i in ids for d in uow.deadlines_of(i)])
    near_misses = await store.near_misses(limit=sys.maxsize)
    return Facts(incidents, entries, near_misses[::-1], list(engine.pages), waiting)
