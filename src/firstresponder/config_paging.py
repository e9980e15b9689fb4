"""The paging part of the config: escalation policy, pager targets, and whether each paged
role can really be reached (a level nobody can receive is an escalation that silently
never fires, so `check-config` refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from .domain.escalation import DEFAULT_POLICIES, EscalationPolicy, SeverityPolicy
from .domain.vocabulary import Role, Severity
from .durations import parse_duration

PAGED_ROLES = (Role.EOC, Role.IMOC, Role.CMOC)
# A lease is renewed every third of it; shorter than this, a renewal that waits a moment
# for a busy store would lose it.
MIN_LEASE = timedelta(seconds=3)


@dataclass(frozen=True)
class DeliverySettings:
    attempts: int = 4  # quick attempts per claim before giving the claim back
    initial_wait: timedelta = timedelta(seconds=1)
    max_inline_wait: timedelta = timedelta(seconds=30)  # longer waits reschedule instead
    max_backoff: timedelta = timedelta(minutes=5)
    # How long a claim holds a message without renewal: renewed every third of it while
    # the delivery is in progress; what a crashed dispatcher's messages wait to be retaken.
    lease: timedelta = timedelta(seconds=10)
    batch: int = 50
    concurrency: int = 8


@dataclass(frozen=True)
class PagerDutyConfig:
    events_url: str = "https://events.pagerduty.com"
    api_url: str = "https://api.pagerduty.com"
    routing_keys: Mapping[Role, str] = field(default_factory=dict, repr=False)
    api_token: str | None = field(default=None, repr=False)
    schedules: Mapping[Role, str] = field(default_factory=dict)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    timeout: timedelta = timedelta(seconds=10)
    ca_file: str | None = None  # a private CA (an egress proxy, a test double)


@dataclass(frozen=True)
class OnCallTargetConfig:
    team: str | None = None
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class GrafanaOnCallConfig:
    api_url: str = ""
    api_token: str | None = field(default=None, repr=False)
    targets: Mapping[Role, OnCallTargetConfig] = field(default_factory=dict)
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class WebhookTargetConfig:
    name: str
    url: str
    bearer_token: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: timedelta = timedelta(seconds=10)


@dataclass(frozen=True)
class PagingConfig:
    enabled: bool = False
    policy: EscalationPolicy = field(default_factory=EscalationPolicy)
    targets: Mapping[Role, tuple[str, ...]] = field(default_factory=dict)
    pagerduty: PagerDutyConfig = field(default_factory=PagerDutyConfig)
    grafana_oncall: GrafanaOnCallConfig = field(default_factory=GrafanaOnCallConfig)
    webhooks: Mapping[str, WebhookTargetConfig] = field(default_factory=dict)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    interval: timedelta = timedelta(seconds=1)


def build_paging(raw: Mapping[str, Any], base: Path) -> tuple[PagingConfig, list[str]]:
    """The paging config and every reachability problem (key named, secret never shown)."""
    esc = raw.get("escalation", {})
    pd = _pagerduty(raw.get("pagerduty", {}), base)
    oncall = _grafana_oncall(raw.get("grafana_oncall", {}))
    hooks = {
        name: WebhookTargetConfig(
            name,
            item["url"],
            item.get("bearer_token"),
            dict(item.get("headers", {})),
            parse_duration(item.get("timeout", "10s")),
        )
        for name, item in raw.get("webhooks", {}).items()
    }
    targets = {role: ("pagerduty",) for role in PAGED_ROLES}
    targets.update({Role(r): tuple(t) for r, t in esc.get("targets", {}).items()})
    delivery_raw = esc.get("delivery", {})
    defaults = DeliverySettings()
    delivery = replace(
        defaults,
        attempts=delivery_raw.get("attempts", defaults.attempts),
        max_backoff=parse_duration(delivery_raw.get("max_backoff", "5m")),
        lease=parse_duration(delivery_raw.get("lease", "10s")),
    )
    config = PagingConfig(
        enabled=bool(esc.get("enabled", True)),
        policy=_policy(esc),
        targets=targets,
        pagerduty=pd,
        grafana_oncall=oncall,
        webhooks=hooks,
        delivery=delivery,
        interval=parse_duration(delivery_raw.get("interval", "1s")),
    )
    problems = _unreachable(config, esc) if config.enabled else []
    if delivery.lease < MIN_LEASE:
        problems.append(
            f"escalation.delivery.lease: bad value {delivery_raw['lease']!r} (at least "
            f"{MIN_LEASE.seconds}s: it is renewed every third of it while a delivery is in "
            "progress)"
        )
    return config, problems


def _pagerduty(raw: Mapping[str, Any], base: Path) -> PagerDutyConfig:
    secrets = list(raw.get("webhook_secrets", []))
    if raw.get("webhook_secret"):
        secrets.append(raw["webhook_secret"])
    return PagerDutyConfig(
        events_url=raw.get("events_url", "https://events.pagerduty.com").rstrip("/"),
        api_url=raw.get("api_url", "https://api.pagerduty.com").rstrip("/"),
        routing_keys={Role(r): k for r, k in raw.get("routing_keys", {}).items()},
        api_token=raw.get("api_token"),
        schedules={Role(r): s for r, s in raw.get("schedules", {}).items()},
        webhook_secrets=tuple(secrets),
        timeout=parse_duration(raw.get("timeout", "10s")),
        ca_file=str(base / raw["ca_file"]) if "ca_file" in raw else None,
    )


def _grafana_oncall(raw: Mapping[str, Any]) -> GrafanaOnCallConfig:
    return GrafanaOnCallConfig(
        api_url=raw.get("api_url", "").rstrip("/"),
        api_token=raw.get("api_token"),
        targets={
            Role(r): OnCallTargetConfig(t.get("team"), tuple(t.get("users", ())))
            for r, t in raw.get("targets", {}).items()
        },
        timeout=parse_duration(raw.get("timeout", "10s")),
    )


def _policy(esc: Mapping[str, Any]) -> EscalationPolicy:
    base = SeverityPolicy(
        page_on_declare=(),
        ack_timeout=parse_duration(esc.get("ack_timeout", "15m")),
        investigating_timeout=parse_duration(esc.get("investigating_timeout", "30m")),
        repeats=int(esc.get("repeats", 0)),
    )
    by_severity = {
        severity: _level(
            replace(base, page_on_declare=DEFAULT_POLICIES[severity].page_on_declare),
            esc.get("severities", {}).get(severity.value)
            or esc.get("severities", {}).get(severity.value.lower()),
        )
        for severity in Severity
    }
    by_service = {
        service: {
            Severity.parse(sev): _level(by_severity[Severity.parse(sev)], level)
            for sev, level in levels.items()
        }
        for service, levels in esc.get("services", {}).items()
    }
    return EscalationPolicy(by_severity=by_severity, by_service=by_service)


def _level(base: SeverityPolicy, raw: Mapping[str, Any] | None) -> SeverityPolicy:
    if not raw:
        return base
    return SeverityPolicy(
        page_on_declare=tuple(
            Role(r) for r in raw.get("page", [r.value for r in base.page_on_declare])
        ),
        escalate_to=tuple(
            Role(r) for r in raw.get("escalate_to", [r.value for r in base.escalate_to])
        ),
        ack_timeout=parse_duration(raw["ack_timeout"])
        if "ack_timeout" in raw
        else base.ack_timeout,
        investigating_timeout=(
            parse_duration(raw["investigating_timeout"])
            if "investigating_timeout" in raw
            else base.investigating_timeout
        ),
        repeats=int(raw.get("repeats", base.repeats)),
    )


def _unreachable(config: PagingConfig, esc: Mapping[str, Any]) -> list[str]:
    """Every level (page at once or escalate to) must name a role some target can reach."""
    problems: list[str] = []
    used: dict[Role, str] = {}  # role -> the first key that pages it
    levels = [(f"escalation.severities.{s.value}", p) for s, p in config.policy.by_severity.items()]
    levels += [
        (f"escalation.services.{service}.{s.value}", p)
        for service, by_sev in config.policy.by_service.items()
        for s, p in by_sev.items()
    ]
    for key, level in levels:
        for field_name, roles in (
            ("page", level.page_on_declare),
            ("escalate_to", level.escalate_to),
        ):
            for role in roles:
                used.setdefault(role, f"{key}.{field_name}")
    for role, where in sorted(used.items(), key=lambda item: item[0].value):
        names = config.targets.get(role, ())
        reasons = [_why_not(config, role, name) for name in names]
        if not names or all(reasons):
            why = "; ".join(r for r in reasons if r) or "no target"
            problems.append(
                f"{where}: role {role.value} has no reachable pager "
                f"(escalation.targets.{role.value} = {list(names)}: {why})"
            )
    for role, names in config.targets.items():
        for name in names:
            if name.startswith("webhook:") and name[len("webhook:") :] not in config.webhooks:
                problems.append(
                    f"escalation.targets.{role.value}: bad value {name!r} "
                    f"(no webhooks.{name[len('webhook:') :]} is configured)"
                )
    if "enabled" not in esc and problems:
        problems.append(
            "escalation: paging is on by default; configure a pager for every paged role, "
            "or set escalation.enabled: false to run without paging"
        )
    return problems


def _why_not(config: PagingConfig, role: Role, name: str) -> str:
    """Empty when target `name` can page `role`, else the reason it cannot."""
    if name == "pagerduty":
        return (
            ""
            if config.pagerduty.routing_keys.get(role)
            else (f"pagerduty.routing_keys.{role.value} is not set")
        )
    if name == "grafana_oncall":
        oncall = config.grafana_oncall
        if not (oncall.api_url and oncall.api_token):
            return "grafana_oncall.api_url and api_token are required"
        target = oncall.targets.get(role)
        if target is None or not (target.team or target.users):
            return f"grafana_oncall.targets.{role.value} needs a team or users"
        return ""
    hook = name[len("webhook:") :]
    return "" if hook in config.webhooks else f"webhooks.{hook} is not configured"
