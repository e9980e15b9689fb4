"""Load the YAML config once into frozen dataclasses: `${ENV}`, `*_file` secrets, durations.

Every problem is reported with the dotted key and the bad value, all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .config_alertmanager import AlertmanagerConfig, build_alertmanager
from .config_heartbeat import HeartbeatConfig, build_heartbeat
from .config_paging import PagingConfig, build_paging
from .config_retention import RetentionConfig, build_retention, retention_problems
from .config_schema import CONFIG_SCHEMA
from .config_slack import SlackConfig, build_slack
from .config_store import StoreConfig, build_store, store_problems
from .config_tickets import TicketConfig, build_tickets
from .domain.rules import ClassificationSettings, ServiceRule
from .domain.vocabulary import DEFAULT_SEVERITY_MAP, Impact, Severity
from .durations import parse_duration, parse_size
from .errors import ConfigError
from .rules_file import load_rules_dir
from .schema_messages import schema_problems

_VALIDATOR = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class WebhookAuth:
    bearer_token: str | None = field(default=None, repr=False)
    basic_username: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    allow_anonymous: bool = False


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9095
    public_url: str = ""
    max_body_size: int = 1024 * 1024
    shutdown_timeout: timedelta = timedelta(seconds=20)
    board_refresh: timedelta = timedelta(seconds=30)  # how often GET / reloads itself


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = ""
    timeout: timedelta = timedelta(seconds=5)
    evaluation_interval: timedelta = timedelta(seconds=30)
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class Config:
    server: ServerConfig
    store: StoreConfig
    webhook_auth: WebhookAuth
    api_tokens: tuple[ApiToken, ...]
    classification: ClassificationSettings
    severity_map: Mapping[Impact, Severity]
    rules: tuple[ServiceRule, ...]
    rules_dir: Path | None
    prometheus: PrometheusConfig
    paging: PagingConfig = field(default_factory=PagingConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    tickets: TicketConfig = field(default_factory=TicketConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)
    log_level: str = "info"
    log_format: str = "json"


def expand_env(value: Any, path: str, problems: list[str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; a missing VAR is a problem."""
    if isinstance(value, dict):
        return {
            k: expand_env(v, f"{path}.{k}" if path else str(k), problems) for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def swap(hit: re.Match[str]) -> str:
        name, default = hit.group(1), hit.group(2)
        found = os.environ.get(name)
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set")
        return ""

    return _ENV.sub(swap, value)


# Keys ending in _file that name a file to use, not a secret to read into the config.
_PATH_KEYS = frozenset({"ca_file", "cert_file", "key_file"})


def _read_secret_files(value: Any, path: str, base: Path, problems: list[str]) -> Any:
    """`token_file: /run/secrets/x` becomes `token: <contents>`; both at once is an error."""
    if isinstance(value, list):
        return [_read_secret_files(v, f"{path}[{i}]", base, problems) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        here = f"{path}.{key}" if path else str(key)
        secret_file = key not in _PATH_KEYS and key.endswith("_file")
        if isinstance(key, str) and secret_file and isinstance(item, str):
            target = key[: -len("_file")]
            if target in value:
                problems.append(f"{here}: give either {target} or {key}, not both")
                continue
            try:
                out[target] = (base / item).read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(f"{here}: cannot read secret file {item!r}: {exc.strerror}")
            continue
        out[key] = _read_secret_files(item, here, base, problems)
    return out


def load_config(path: str | Path) -> Config:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror}"]) from exc
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of keys"])
    problems: list[str] = []
    raw = expand_env(raw, "", problems)
    raw = _read_secret_files(raw, "", source.parent, problems)
    problems += schema_problems(_VALIDATOR, raw)
    problems += _port_problems(raw)
    problems += store_problems(raw.get("store"))
    problems += retention_problems(raw.get("retention"))
    if problems:
        raise ConfigError(problems)
    return _build(raw, source.parent)


def _port_problems(raw: Mapping[str, Any]) -> list[str]:
    """The schema checks the shape of `listen`; the port's range needs arithmetic."""
    server = raw.get("server")
    listen = server.get("listen") if isinstance(server, dict) else None
    if not isinstance(listen, str):
        return []
    port = listen.rpartition(":")[2]
    if port.isdigit() and len(port) <= 5 and int(port) > 65535:
        return [f"server.listen: bad value {listen!r} (port must be 0-65535)"]
    return []


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)


def _build(raw: Mapping[str, Any], base: Path) -> Config:
    server_raw = raw.get("server", {})
    host, port = _listen(server_raw.get("listen", "127.0.0.1:9095"))
    server = ServerConfig(
        host=host,
        port=port,
        public_url=server_raw.get("public_url", f"http://{host}:{port}").rstrip("/"),
        max_body_size=parse_size(server_raw.get("max_body_size", 1024 * 1024)),
        shutdown_timeout=parse_duration(server_raw.get("shutdown_timeout", "20s")),
        board_refresh=parse_duration(server_raw.get("board_refresh", "30s")),
    )
    store = build_store(raw["store"], base)
    auth = raw.get("auth", {})
    hook = auth.get("webhook", {})
    basic = hook.get("basic_auth", {})
    webhook_auth = WebhookAuth(
        hook.get("bearer_token"),
        basic.get("username"),
        basic.get("password"),
        bool(hook.get("allow_anonymous", False)),
    )
    problems = []
    if basic and not basic.get("password"):
        problems.append("auth.webhook.basic_auth: password (or password_file) is required")
    if not (webhook_auth.bearer_token or basic or webhook_auth.allow_anonymous):
        problems.append("auth.webhook: set bearer_token or basic_auth (or allow_anonymous: true)")
    tokens = []
    for i, item in enumerate(auth.get("api_tokens", [])):
        if not item.get("token"):
            problems.append(f"auth.api_tokens[{i}]: token (or token_file) is required")
        tokens.append(ApiToken(item["name"], item.get("token", "")))
    rules_dir = (base / raw["rules_dir"]) if "rules_dir" in raw else None
    rules: tuple[ServiceRule, ...] = ()
    if rules_dir is not None:
        try:
            rules = load_rules_dir(rules_dir)
        except ConfigError as exc:
            problems += exc.problems
    paging, paging_problems = build_paging(raw, base)
    problems += paging_problems
    slack, slack_problems = build_slack(raw.get("slack"))
    problems += slack_problems
    tickets, ticket_problems = build_tickets(raw.get("tickets"))
    problems += ticket_problems
    if slack.enabled and "{ticket}" in slack.channel_template and not tickets.enabled:
        problems.append("slack.channel_template: {ticket} needs the tickets section")
    heartbeat, heartbeat_problems = build_heartbeat(raw.get("heartbeat"))
    problems += heartbeat_problems
    alertmanager, alertmanager_problems = build_alertmanager(raw.get("alertmanager"), base)
    problems += alertmanager_problems
    if problems:
        raise ConfigError(problems)
    incidents = raw.get("incidents", {})
    severity_map = dict(DEFAULT_SEVERITY_MAP)
    for name, sev in incidents.get("severity_map", {}).items():
        severity_map[Impact(name)] = Severity.parse(sev)
    defaults = ClassificationSettings()
    labels_map = dict(defaults.severity_labels)
    labels_map.update(
        {k.lower(): Impact(v) for k, v in incidents.get("severity_labels", {}).items()}
    )
    settings = ClassificationSettings(
        service_labels=tuple(incidents.get("service_labels", defaults.service_labels)),
        group_by=tuple(incidents.get("group_by", defaults.group_by)),
        severity_labels=labels_map,
        default_impact=Impact(incidents.get("default_impact", defaults.default_impact.value)),
        declare_threshold=Impact(
            incidents.get("declare_threshold", defaults.declare_threshold.value)
        ),
        declare_after=parse_duration(incidents.get("declare_after", "0s")),
    )
    prom = raw.get("prometheus", {})
    logging_raw = raw.get("logging", {})
    return Config(
        server=server,
        store=store,
        webhook_auth=webhook_auth,
        api_tokens=tuple(tokens),
        classification=settings,
        severity_map=severity_map,
        rules=rules,
        rules_dir=rules_dir,
        prometheus=_prometheus(prom, base),
        paging=paging,
        slack=slack,
        tickets=tickets,
        retention=build_retention(raw.get("retention")),
        heartbeat=heartbeat,
        alertmanager=alertmanager,
        log_level=logging_raw.get("level", "info"),
        log_format=logging_raw.get("format", "json"),
    )


def _prometheus(raw: Mapping[str, Any], base: Path) -> PrometheusConfig:
    basic = raw.get("basic_auth")
    tls = raw.get("tls", {})

    def local(name: str) -> str | None:
        return str(base / tls[name]) if name in tls else None

    return PrometheusConfig(
        url=raw.get("url", "").rstrip("/"),
        timeout=parse_duration(raw.get("timeout", "5s")),
        evaluation_interval=parse_duration(raw.get("evaluation_interval", "30s")),
        bearer_token=raw.get("bearer_token"),
        basic_auth=(basic["username"], basic.get("password", "")) if basic else None,
        ca_file=local("ca_file"),
        cert_file=local("cert_file"),
        key_file=local("key_file"),
        insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
    )
