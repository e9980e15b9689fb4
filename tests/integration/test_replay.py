"""`firstresponder replay`: a recording through the real engine on a simulated clock.

The config pages through PagerDuty at an address where nothing listens: a replay that
reached for the network could not report the pages these tests expect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firstresponder.cli import main
from firstresponder.replay_engine import ReplayEngine
from firstresponder.replay_input import read_recording

from ..factories import T0, iso, make_alert, make_payload, write_config

KEYS = {"eoc": "e" * 32, "imoc": "i" * 32, "cmoc": "c" * 32}
DECLARE_AFTER = timedelta(minutes=2)
ACK_TIMEOUT = timedelta(minutes=10)
Run = tuple[int, str, str]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The command sets up logging on the root logger; later tests must not inherit it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Paging on, S2 pages the EOC only (so the IMOC is an escalation), a 2m declare_after."""
    return write_config(
        tmp_path,
        incidents={"declare_after": "2m"},
        escalation={
            "enabled": True,
            "ack_timeout": "10m",
            "severities": {"S2": {"page": ["eoc"], "escalate_to": ["imoc"]}},
        },
        pagerduty={"events_url": "https://127.0.0.1:9", "routing_keys": KEYS},
    )


def checkout(
    status: str = "firing", starts_at: datetime = T0, ends_at: datetime | None = None, **raw: Any
) -> dict[str, Any]:
    """Checkout errors in one region: `rules/checkout.yaml` makes it a partial disruption."""
    labels = {"alertname": "CheckoutHighErrorRate", "service": "checkout", "region": "eu"}
    return make_alert(status, labels=labels, starts_at=starts_at, ends_at=ends_at, **raw)


def flap(
    status: str = "firing", starts_at: datetime = T0, ends_at: datetime | None = None
) -> dict[str, Any]:
    """A cart warning (degraded) that will not last `declare_after`."""
    labels = {"alertname": "CartLatency", "service": "cart", "severity": "warning"}
    return make_alert(status, labels=labels, starts_at=starts_at, ends_at=ends_at)


def wrapped(at: datetime, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"at": iso(at), "payload": make_payload(*alerts)}


def write_lines(tmp_path: Path, *lines: dict[str, Any] | str) -> Path:
    path = tmp_path / "recording.jsonl"
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n")
    return path


def outage(tmp_path: Path) -> Path:
    """Checkout fires at T0 and recovers at +29m; a cart alert flaps in between (bare)."""
    return write_lines(
        tmp_path,
        "# a recorded outage",
        wrapped(T0, checkout(starts_at=T0)),
        "",
        make_payload(flap(starts_at=T0 + timedelta(minutes=5))),
        make_payload(
            flap("resolved", starts_at=T0 + timedelta(minutes=5), ends_at=T0 + timedelta(minutes=6))
        ),
        wrapped(
            T0 + timedelta(minutes=30),
            checkout("resolved", starts_at=T0, ends_at=T0 + timedelta(minutes=29)),
        ),
    )


def replay(capsys: pytest.CaptureFixture[str], recording: Path, config: Path, *options: str) -> Run:
    code = main(["replay", str(recording), "--config", str(config), *options])
    out, err = capsys.readouterr()
    return code, out, err


def replay_json(
    capsys: pytest.CaptureFixture[str], recording: Path, config: Path, *options: str
) -> Any:
    code, out, err = replay(capsys, recording, config, "--json", *options)
    assert code == 0, err
    return json.loads(out)


def at(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


def test_declares_pages_escalates_and_recovers_on_recorded_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    report = replay_json(capsys, outage(tmp_path), config)

    shown = [(e["at"], e["kind"], e.get("role")) for e in report["events"]]
    declared_at = T0 + DECLARE_AFTER  # promoted by the scheduler, between two webhooks
    assert shown == [
        (iso(declared_at), "declared", None),
        (iso(declared_at), "paged", "eoc"),  # the EOC at once
        (at(6), "near_miss", None),
        (iso(declared_at + ACK_TIMEOUT), "escalated", None),
        (iso(declared_at + ACK_TIMEOUT), "paged", "imoc"),  # exactly at the timeout
        (at(30), "monitoring", None),
    ]
    declared = report["events"][0]
    assert declared["incident"] == 1
    assert (declared["service"], declared["impact"], declared["severity"]) == (
        "checkout",
        "partial_disruption",
        "S2",
    )
    assert declared["alert"] == "CheckoutHighErrorRate"
    near_miss = report["events"][2]
    assert (near_miss["service"], near_miss["alert"]) == ("cart", "CartLatency")
    assert near_miss["reason"] == "recovered before declaration"
    assert report["summary"] == {
        "incidents_declared": 1,
        "declared_by_severity": {"S2": 1},
        "severity_raised": 0,
        "pages": 2,
        "pages_by_role": {"eoc": 1, "imoc": 1},
        "escalations": 1,
        "escalations_skipped": 0,
        "near_misses": 1,
        "states_at_end": {"monitoring": 1},
        "escalations_waiting": [],
    }
    assert (report["lines"], report["bare_payloads"]) == (4, 2)
    assert (report["start"], report["end"]) == (at(0), at(30))
    assert report["until"] == at(30 + 10)  # the last webhook + the ack timeout
    assert report["incidents"][0]["state"] == "monitoring"
    assert not (tmp_path / "fr.db").exists()  # the configured store is never touched


def test_nothing_escalates_before_the_timeout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    recording = write_lines(tmp_path, wrapped(T0, checkout(starts_at=T0)))
    due = T0 + DECLARE_AFTER + ACK_TIMEOUT

    report = replay_json(capsys, recording, config, "--until", iso(due - timedelta(seconds=1)))

    assert report["summary"]["pages_by_role"] == {"eoc": 1}
    assert report["summary"]["escalations_waiting"] == [
        {"incident": 1, "reason": "ack_timeout", "due_at": iso(due)}
    ]
    report = replay_json(capsys, recording, config, "--until", iso(due))
    assert report["summary"]["pages_by_role"] == {"eoc": 1, "imoc": 1}


def test_text_report_says_what_happened_and_what_it_assumed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    code, out, err = replay(capsys, outage(tmp_path), config)

    assert code == 0, err
    assert "classification from alert labels only" in out
    assert "nobody acknowledges" in out
    lines = out.splitlines()
    assert any(
        line.startswith(at(2)) and "#1" in line and "declared" in line and "(S2)" in line
        for line in lines
    )
    assert any(line.startswith(at(12)) and "IMOC via pagerduty" in line for line in lines)
    assert any("near miss" in line and "CartLatency" in line for line in lines)
    assert "  pages               2 (EOC 1, IMOC 1)" in lines
    assert "  escalations         1" in lines
    assert "Traceback" not in err


def test_a_bare_payload_is_timed_by_its_alerts_never_before_the_line_above(
    tmp_path: Path,
) -> None:
    recording = write_lines(
        tmp_path,
        make_payload(checkout(starts_at=T0 + timedelta(minutes=3)), flap(starts_at=T0)),
        wrapped(T0 + timedelta(minutes=10), checkout(starts_at=T0)),
        make_payload(flap("resolved", starts_at=T0, ends_at=T0 + timedelta(minutes=4))),
    )

    webhooks = read_recording(recording).webhooks

    assert [w.at for w in webhooks] == [T0 + timedelta(minutes=m) for m in (3, 10, 10)]
    assert [w.timed_by_alerts for w in webhooks] == [True, False, True]


def test_a_bad_line_is_named_and_nothing_is_replayed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    bad = wrapped(T0, checkout(startsAt="yesterday"))
    recording = write_lines(tmp_path, wrapped(T0, checkout()), "# fine", bad)

    code, out, err = replay(capsys, recording, config)

    assert code == 1
    assert out == ""
    assert "line 3: payload: alerts[0].startsAt: 'yesterday' is not an RFC 3339" in err
    assert "Traceback" not in err


def test_a_line_earlier_than_the_one_before_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    recording = write_lines(
        tmp_path,
        wrapped(T0, checkout()),
        wrapped(T0 - timedelta(minutes=1), checkout("resolved")),
    )

    code, out, err = replay(capsys, recording, config)

    assert code == 1
    assert out == ""
    assert "line 2: at: " in err and "earlier than line 1" in err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", "line 1: malformed JSON"),
        ('{"payload": {}}', "line 1: at: missing"),
        ('{"at": "2026-11-23T03:00:00Z", "payload": {"status": "firing"}}', "line 1: payload: "),
    ],
)
def test_malformed_lines_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, line: str, expected: str
) -> None:
    code, _, err = replay(capsys, write_lines(tmp_path, line), config)

    assert code == 1
    assert expected in err


def test_a_missing_recording_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    code, out, err = replay(capsys, tmp_path / "absent.jsonl", config)

    assert (code, out) == (1, "")
    assert "absent.jsonl: cannot read: No such file or directory" in err


def test_until_before_the_last_webhook_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    code, _, err = replay(capsys, outage(tmp_path), config, "--until", at(10))

    assert code == 1
    assert "--until" in err and "before the last webhook (line 6" in err


def test_the_example_recording_replays_against_the_example_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(__file__).parents[2]
    example = root / "examples" / "replay" / "checkout-outage.jsonl"

    report = replay_json(capsys, example, root / "config.example.yaml")

    assert report["paging"] is False  # the example config pages nobody until it has keys
    assert [e["kind"] for e in report["events"]] == [
        "declared",
        "near_miss",
        "impact_raised",
        "severity_raised",
        "monitoring",
    ]
    assert report["summary"]["declared_by_severity"] == {"S3": 1}
    assert report["incidents"][0]["severity"] == "S1"
    assert report["summary"]["pages"] == 0


def test_with_paging_off_the_header_says_nobody_is_paged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = replay(capsys, outage(tmp_path), write_config(tmp_path))

    assert code == 0, err
    assert "paging off (escalation.enabled: false): nobody would be paged" in out
    assert "  pages               0" in out.splitlines()


def test_an_internal_failure_exits_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ReplayEngine, "feed", broken)

    code, out, err = replay(capsys, outage(tmp_path), config)

    assert (code, out) == (2, "")
    assert "internal error" in err and "RuntimeError: a bug" in err
