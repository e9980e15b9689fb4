"""The `heartbeat` and `alertmanager` config sections: defaults, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firstresponder.cli import main
from firstresponder.domain.vocabulary import Impact, Severity

from .test_config import MINIMAL, _merge, load, problems, write


def test_both_are_off_by_default(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert not config.heartbeat.enabled
    assert not config.alertmanager.silences


def test_heartbeat_timeout_defaults_to_three_repeat_intervals(tmp_path: Path) -> None:
    config = load(tmp_path, heartbeat={"repeat_interval": "2m"})
    beat = config.heartbeat
    assert beat.enabled and beat.timeout == timedelta(minutes=6)
    assert [str(m) for m in beat.matchers] == ['alertname="Watchdog"']
    assert (beat.service, beat.impact, beat.severity) == (
        "alerting-pipeline",
        Impact.DEGRADED,
        None,
    )


def test_heartbeat_keys(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        heartbeat={
            "matchers": ['alertname="DeadMansSwitch"', 'team="sre"'],
            "timeout": "10m",
            "service": "monitoring",
            "impact": "outage",
            "severity": "P2",
        },
    )
    beat = config.heartbeat
    assert [str(m) for m in beat.matchers] == ['alertname="DeadMansSwitch"', 'team="sre"']
    assert beat.timeout == timedelta(minutes=10)
    assert (beat.service, beat.impact, beat.severity) == ("monitoring", Impact.OUTAGE, Severity.S2)


def test_heartbeat_enabled_false_turns_it_off(tmp_path: Path) -> None:
    assert not load(tmp_path, heartbeat={"enabled": False}).heartbeat.enabled


def test_alertmanager_keys(tmp_path: Path) -> None:
    (tmp_path / "am-token").write_text("s3cret\n")
    config = load(
        tmp_path,
        alertmanager={
            "url": "https://am.example:9093/alertmanager/",
            "silence_duration": "30m",
            "bearer_token_file": "am-token",
            "tls": {"ca_file": "ca.pem"},
        },
    )
    am = config.alertmanager
    assert am.silences and am.url == "https://am.example:9093/alertmanager"
    assert am.silence_duration == timedelta(minutes=30)
    assert am.bearer_token == "s3cret"
    assert am.ca_file == str(tmp_path / "ca.pem")
    assert "s3cret" not in repr(am)


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"heartbeat": {"matchers": ['alertname=~"("']}},
            "heartbeat.matchers: bad regular expression",
        ),
        ({"heartbeat": {"timeout": "1m"}}, "heartbeat.timeout: bad value '1m' (must be longer"),
        ({"heartbeat": {"impact": "operational"}}, "heartbeat.impact: bad value 'operational'"),
        ({"heartbeat": {"timeout": "soon"}}, "heartbeat.timeout: bad value 'soon'"),
        ({"alertmanager": {"url": "am:9093"}}, "alertmanager.url: bad value 'am:9093'"),
        ({"alertmanager": {"silence_duration": "1h"}}, "alertmanager.url: required"),
        (
            {"alertmanager": {"url": "http://am:9093/api/v2"}},
            "alertmanager.url: bad value 'http://am:9093/api/v2' (give Alertmanager's base URL",
        ),
        (
            {"alertmanager": {"url": "http://am:9093/?x=1"}},
            "alertmanager.url: bad value 'http://am:9093/?x=1' (no query string",
        ),
        ({"alertmanager": {"url": "http://:9093"}}, "alertmanager.url: bad value: not a URL"),
        (
            {"alertmanager": {"url": "http://am", "silence_duration": "1s"}},
            "alertmanager.silence_duration: bad value '1s' (at least 2s)",
        ),
        (
            {
                "alertmanager": {
                    "url": "http://am",
                    "bearer_token": "t",
                    "basic_auth": {"username": "u", "password": "p"},
                }
            },
            "alertmanager: give bearer_token or basic_auth, not both",
        ),
        (
            {"alertmanager": {"url": "http://am", "tls": {"cert_file": "c"}}},
            "alertmanager.tls: cert_file and key_file go together",
        ),
        ({"alertmanager": {"uri": "http://am"}}, "alertmanager: unknown key(s) 'uri'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: dict[str, Any], problem: str) -> None:
    found = problems(tmp_path, _merge(MINIMAL, section))
    assert any(p.startswith(problem) for p in found), found


def test_check_config_says_what_is_wrong_with_the_alertmanager_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        _merge(MINIMAL, {"alertmanager": {"url": "http://user:pw@am:9093/api/v2/silences"}}),
    )
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "alertmanager.url: bad value 'http://am:9093/api/v2/silences'" in err
    assert "pw" not in err  # the password in the URL is never shown
