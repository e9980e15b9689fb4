"""The escalation policy and pager targets in config, and the reachability check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firstresponder.cli import main
from firstresponder.config import Config
from firstresponder.domain.vocabulary import Role, Severity

from .test_config import MINIMAL, _merge, load, problems, write

KEYS = {"eoc": "eoc-key-1234", "imoc": "imoc-key-5678", "cmoc": "cmoc-key-9012"}
ON: dict[str, Any] = {"escalation": {"enabled": True}, "pagerduty": {"routing_keys": KEYS}}


def paging(tmp_path: Path, **extra: Any) -> Config:
    return load(tmp_path, **_merge(ON, extra))


def test_defaults_follow_the_handbook(tmp_path: Path) -> None:
    config = paging(tmp_path).paging
    assert config.enabled
    policy = config.policy.by_severity
    assert policy[Severity.S1].page_on_declare == (Role.EOC, Role.IMOC, Role.CMOC)
    assert policy[Severity.S2].page_on_declare == (Role.EOC, Role.IMOC)
    assert policy[Severity.S3].page_on_declare == (Role.EOC,)
    assert policy[Severity.S4].page_on_declare == ()
    for level in policy.values():
        assert level.escalate_to == (Role.IMOC,)
        assert level.ack_timeout == timedelta(minutes=15)
        assert level.investigating_timeout == timedelta(minutes=30)
    assert config.targets == {role: ("pagerduty",) for role in (Role.EOC, Role.IMOC, Role.CMOC)}
    assert config.pagerduty.routing_keys[Role.IMOC] == "imoc-key-5678"
    assert config.pagerduty.events_url == "https://events.pagerduty.com"


def test_global_timeouts_apply_to_every_severity_and_levels_override(tmp_path: Path) -> None:
    config = paging(
        tmp_path,
        escalation={
            "enabled": True,
            "ack_timeout": "5m",
            "investigating_timeout": "1h",
            "repeats": 2,
            "severities": {"S3": {"page": ["eoc", "imoc"], "ack_timeout": "2m"}},
            "services": {"checkout": {"S3": {"escalate_to": ["imoc", "cmoc"]}}},
        },
    ).paging
    s1, s3 = config.policy.by_severity[Severity.S1], config.policy.by_severity[Severity.S3]
    assert (s1.ack_timeout, s1.investigating_timeout, s1.repeats) == (
        timedelta(minutes=5),
        timedelta(hours=1),
        2,
    )
    assert s3.page_on_declare == (Role.EOC, Role.IMOC) and s3.ack_timeout == timedelta(minutes=2)
    checkout = config.policy.by_service["checkout"][Severity.S3]
    # a service override starts from its severity's level and changes only what it names
    assert checkout.page_on_declare == (Role.EOC, Role.IMOC)
    assert checkout.ack_timeout == timedelta(minutes=2)
    assert checkout.escalate_to == (Role.IMOC, Role.CMOC)


def test_paging_on_by_default_without_a_pager_is_refused_with_the_way_out(tmp_path: Path) -> None:
    content = {k: v for k, v in MINIMAL.items() if k != "escalation"}
    found = problems(tmp_path, content)
    assert any("role eoc has no reachable pager" in p for p in found)
    assert any("set escalation.enabled: false" in p for p in found)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {"pagerduty": {"routing_keys": {"eoc": "k", "cmoc": "k"}}},
            "escalation.severities.S1.page: role imoc has no reachable pager "
            "(escalation.targets.imoc = ['pagerduty']: pagerduty.routing_keys.imoc is not set)",
        ),
        (
            {"escalation": {"targets": {"cmoc": ["webhook:bridge"]}}},
            "escalation.targets.cmoc: bad value 'webhook:bridge' (no webhooks.bridge is configured)",
        ),
        (
            {"escalation": {"targets": {"imoc": ["grafana_oncall"]}}},
            "grafana_oncall.api_url and api_token are required",
        ),
        (
            {
                "escalation": {"targets": {"imoc": ["grafana_oncall"]}},
                "grafana_oncall": {"api_url": "http://oncall", "api_token": "t"},
            },
            "grafana_oncall.targets.imoc needs a team or users",
        ),
        (
            {
                "escalation": {"severities": {"S3": {"escalate_to": ["cmoc"]}}},
                "pagerduty": {"routing_keys": {"eoc": "k", "imoc": "k"}},
            },
            "role cmoc has no reachable pager",
        ),
    ],
    ids=[
        "missing-key",
        "unknown-webhook",
        "oncall-no-credentials",
        "oncall-no-team",
        "escalate-to",
    ],
)
def test_unreachable_levels_are_refused(
    tmp_path: Path, extra: dict[str, Any], problem: str
) -> None:
    base = _merge(MINIMAL, {"escalation": {"enabled": True}})
    if "pagerduty" not in extra:
        base = _merge(base, {"pagerduty": {"routing_keys": KEYS}})
    found = problems(tmp_path, _merge(base, extra))
    assert any(problem in p for p in found), found


def test_other_targets_make_a_role_reachable(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        escalation={
            "enabled": True,
            "targets": {
                "eoc": ["webhook:bridge"],
                "imoc": ["grafana_oncall"],
                "cmoc": ["webhook:bridge"],
            },
        },
        webhooks={"bridge": {"url": "http://bridge/hook", "bearer_token": "b"}},
        grafana_oncall={
            "api_url": "http://oncall",
            "api_token": "t",
            "targets": {"imoc": {"team": "managers"}},
        },
    ).paging
    assert config.targets[Role.EOC] == ("webhook:bridge",)
    assert config.webhooks["bridge"].url == "http://bridge/hook"
    assert config.grafana_oncall.targets[Role.IMOC].team == "managers"


def test_schema_rejects_bad_paging_values(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        _merge(
            MINIMAL,
            {
                "escalation": {
                    "ack_timeout": "soon",
                    "targets": {"eoc": ["sms"]},
                    "severities": {"S9": {}},
                    "repeats": -1,
                },
            },
        ),
    )
    text = "\n".join(found)
    for key in (
        "escalation.ack_timeout",
        "escalation.targets.eoc[0]",
        "escalation.severities",
        "escalation.repeats",
    ):
        assert key in text, text


def test_secrets_never_appear_in_problems_or_repr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = paging(
        tmp_path, pagerduty={"webhook_secrets": ["whsec-abcdef"], "api_token": "pd-api-token"}
    )
    shown = repr(config)
    for secret in [*KEYS.values(), "whsec-abcdef", "pd-api-token"]:
        assert secret not in shown
    path = write(
        tmp_path,
        _merge(
            MINIMAL,
            {
                "escalation": {"enabled": True},
                "pagerduty": {"routing_keys": {"eoc": "secret-eoc-key"}},
            },
        ),
    )
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr()
    assert "role imoc has no reachable pager" in out.out + out.err
    assert "secret-eoc-key" not in out.out + out.err


def test_tls_file_keys_are_paths_not_secrets(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not read at load time")
    config = load(
        tmp_path,
        pagerduty={"ca_file": "ca.pem"},
        prometheus={
            "url": "https://prom",
            "tls": {"ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "k.pem"},
        },
    )
    assert config.paging.pagerduty.ca_file == str(tmp_path / "ca.pem")
    assert config.prometheus.ca_file == str(tmp_path / "ca.pem")
    assert config.prometheus.key_file == str(tmp_path / "k.pem")


def test_the_outbox_lease_is_short_by_default_and_configurable(tmp_path: Path) -> None:
    assert paging(tmp_path).paging.delivery.lease == timedelta(seconds=10)
    # An older config's 5m is still accepted (a crashed replica's pages wait that long).
    longer = paging(tmp_path, escalation={"enabled": True, "delivery": {"lease": "5m"}})
    assert longer.paging.delivery.lease == timedelta(minutes=5)


@pytest.mark.parametrize("lease", ["1s", "2500ms", "0s"])
def test_a_lease_too_short_to_renew_is_refused_naming_the_key(tmp_path: Path, lease: str) -> None:
    found = problems(tmp_path, _merge(MINIMAL, {"escalation": {"delivery": {"lease": lease}}}))
    assert any(
        p.startswith("escalation.delivery.lease: bad value") and "at least 3s" in p for p in found
    ), found
