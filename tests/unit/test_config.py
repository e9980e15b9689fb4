"""The config loader and rule files: env expansion, secret files, exact errors, check-config."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from firstresponder.cli import main
from firstresponder.config import Config, load_config
from firstresponder.domain.vocabulary import Impact, Severity
from firstresponder.durations import parse_duration
from firstresponder.errors import ConfigError
from firstresponder.rules_file import load_rules_dir

REPO = Path(__file__).parent.parent.parent

MINIMAL: dict[str, Any] = {
    "store": {"url": "sqlite:///fr.db"},
    "auth": {"webhook": {"bearer_token": "hook-token"}},
    "escalation": {"enabled": False},
}

CHECKOUT_RULE = {"name": "checkout", "match": ['service="checkout"']}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write(directory: Path, content: dict[str, Any] | str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def load(tmp_path: Path, **extra: Any) -> Config:
    return load_config(write(tmp_path, _merge(MINIMAL, extra)))


def problems(tmp_path: Path, content: dict[str, Any] | str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, content))
    return caught.value.problems


def rule_file(directory: Path, name: str, services: list[dict[str, Any]] | str) -> Path:
    content = services if isinstance(services, str) else {"services": services}
    return write(directory, content, name)


# --- a good config ----------------------------------------------------------------------


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 9095)
    assert config.server.public_url == "http://127.0.0.1:9095"
    assert config.server.max_body_size == 1024 * 1024
    assert config.server.shutdown_timeout == timedelta(seconds=20)
    # a relative SQLite path is relative to the config file, not the working directory
    assert config.store.url == f"sqlite:///{(tmp_path / 'fr.db').resolve()}"
    assert config.webhook_auth.bearer_token == "hook-token"
    assert config.rules == () and config.rules_dir is None
    assert config.severity_map[Impact.OUTAGE] is Severity.S1
    assert config.classification.declare_after == timedelta(0)
    assert (config.log_level, config.log_format) == ("info", "json")


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("0.0.0.0:8080", "0.0.0.0", 8080),
        ("localhost:9095", "localhost", 9095),
        (":9095", "0.0.0.0", 9095),
        ("127.0.0.1:0", "127.0.0.1", 0),
        ("0.0.0.0:65535", "0.0.0.0", 65535),
    ],
)
def test_listen(tmp_path: Path, listen: str, host: str, port: int) -> None:
    config = load(tmp_path, server={"listen": listen})
    assert (config.server.host, config.server.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/fr.db", "sqlite:////var/lib/fr.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://fr:pw@db:5432/fr", "postgresql://fr:pw@db:5432/fr"),
        ("postgresql+asyncpg://db/fr", "postgresql+asyncpg://db/fr"),
    ],
)
def test_store_urls_other_than_relative_sqlite_are_kept(
    tmp_path: Path, url: str, expected: str
) -> None:
    assert load(tmp_path, store={"url": url}).store.url == expected


def test_every_setting_is_read(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        server={
            "listen": "0.0.0.0:8080",
            "public_url": "https://fr.example/",
            "max_body_size": "2MiB",
            "shutdown_timeout": "1m",
        },
        store={"pool_size": 10, "busy_timeout": "500ms"},
        incidents={
            "group_by": ["service", "region"],
            "service_labels": ["app"],
            "declare_threshold": "partial_disruption",
            "declare_after": "2m",
            "default_impact": "operational",
            "severity_map": {"partial_disruption": "P1", "degraded": "s2"},
            "severity_labels": {"SEV1": "outage", "warning": "operational"},
        },
        prometheus={"url": "http://prom:9090/", "timeout": "10s"},
        logging={"level": "debug", "format": "text"},
    )
    assert config.server.public_url == "https://fr.example"
    assert config.server.max_body_size == 2 * 1024 * 1024
    assert config.server.shutdown_timeout == timedelta(minutes=1)
    assert (config.store.pool_size, config.store.busy_timeout) == (10, timedelta(seconds=0.5))
    settings = config.classification
    assert settings.group_by == ("service", "region")
    assert settings.service_labels == ("app",)
    assert settings.declare_threshold is Impact.PARTIAL_DISRUPTION
    assert settings.declare_after == timedelta(minutes=2)
    assert settings.default_impact is Impact.OPERATIONAL
    assert settings.severity_labels["sev1"] is Impact.OUTAGE
    assert settings.severity_labels["warning"] is Impact.OPERATIONAL
    assert settings.severity_labels["critical"] is Impact.PARTIAL_DISRUPTION  # default kept
    assert config.severity_map[Impact.PARTIAL_DISRUPTION] is Severity.S1
    assert config.severity_map[Impact.DEGRADED] is Severity.S2
    assert config.severity_map[Impact.OUTAGE] is Severity.S1
    assert config.prometheus.url == "http://prom:9090"
    assert config.prometheus.timeout == timedelta(seconds=10)
    assert (config.log_level, config.log_format) == ("debug", "text")


# --- ${ENV} -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("${FR_TOKEN}", {"FR_TOKEN": "from-env"}, "from-env"),
        ("${FR_TOKEN:-fallback}", {}, "fallback"),
        ("${FR_TOKEN:-fallback}", {"FR_TOKEN": "from-env"}, "from-env"),
        ("${FR_TOKEN:-fallback}", {"FR_TOKEN": ""}, "fallback"),
        ("Bearer-${FR_A}-${FR_B:-b}", {"FR_A": "a"}, "Bearer-a-b"),
        ("no-expansion-$FR_TOKEN", {"FR_TOKEN": "x"}, "no-expansion-$FR_TOKEN"),
    ],
)
def test_env_expansion(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    template: str,
    env: dict[str, str],
    expected: str,
) -> None:
    for name in ("FR_TOKEN", "FR_A", "FR_B"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = load(tmp_path, auth={"webhook": {"bearer_token": template}})
    assert config.webhook_auth.bearer_token == expected


def test_env_expansion_reaches_lists_and_nested_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FR_API_TOKEN", "api-secret")
    monkeypatch.setenv("FR_DB", "postgresql://db/fr")
    config = load(
        tmp_path,
        store={"url": "${FR_DB}"},
        auth={"api_tokens": [{"name": "ops", "token": "${FR_API_TOKEN}"}]},
    )
    assert config.store.url == "postgresql://db/fr"
    assert [(t.name, t.token) for t in config.api_tokens] == [("ops", "api-secret")]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {"store": {"url": "${FR_MISSING_DB}"}},
            "store.url: environment variable FR_MISSING_DB is not set",
        ),
        (
            {"auth": {"api_tokens": [{"name": "ops", "token": "${FR_MISSING_TOKEN}"}]}},
            "auth.api_tokens[0].token: environment variable FR_MISSING_TOKEN is not set",
        ),
    ],
)
def test_a_missing_env_var_names_the_key_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], problem: str
) -> None:
    monkeypatch.delenv("FR_MISSING_DB", raising=False)
    monkeypatch.delenv("FR_MISSING_TOKEN", raising=False)
    assert problem in problems(tmp_path, _merge(MINIMAL, extra))


# --- *_file secrets ---------------------------------------------------------------------


def test_secret_files_are_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "hook").write_text("hook-secret\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "am").write_text("  am-secret \n")
    absolute = tmp_path / "api"
    absolute.write_text("api-secret\r\n")
    content = {
        "store": MINIMAL["store"],
        "escalation": MINIMAL["escalation"],
        "auth": {
            "webhook": {
                "bearer_token_file": "hook",  # relative to the config file
                "basic_auth": {"username": "am", "password_file": "secrets/am"},
            },
            "api_tokens": [{"name": "ops", "token_file": str(absolute)}],
        },
    }
    config = load_config(write(tmp_path, content))
    assert config.webhook_auth.bearer_token == "hook-secret"
    assert config.webhook_auth.basic_password == "am-secret"
    assert config.api_tokens[0].token == "api-secret"


def test_secret_file_path_may_come_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("t0ken")
    monkeypatch.setenv("FR_SECRETS", str(tmp_path))
    content = {
        "store": MINIMAL["store"],
        "escalation": MINIMAL["escalation"],
        "auth": {"webhook": {"bearer_token_file": "${FR_SECRETS}/token"}},
    }
    config = load_config(write(tmp_path, content))
    assert config.webhook_auth.bearer_token == "t0ken"


def test_secrets_are_not_shown_in_repr(tmp_path: Path) -> None:
    config = load(tmp_path, auth={"api_tokens": [{"name": "ops", "token": "api-s3cret"}]})
    assert "hook-token" not in repr(config)
    assert "api-s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("webhook", "problem"),
    [
        (
            {"bearer_token": "x", "bearer_token_file": "hook"},
            "auth.webhook.bearer_token_file: give either bearer_token or bearer_token_file, not both",
        ),
        (
            {"basic_auth": {"username": "u", "password": "p", "password_file": "hook"}},
            "auth.webhook.basic_auth.password_file: give either password or password_file, not both",
        ),
        (
            {"bearer_token_file": "nowhere/token"},
            "auth.webhook.bearer_token_file: cannot read secret file 'nowhere/token': No such file or directory",
        ),
    ],
)
def test_secret_file_problems_name_the_key(
    tmp_path: Path, webhook: dict[str, Any], problem: str
) -> None:
    (tmp_path / "hook").write_text("secret")
    content = {
        "store": MINIMAL["store"],
        "escalation": MINIMAL["escalation"],
        "auth": {"webhook": webhook},
    }
    assert problem in problems(tmp_path, content)


def test_secret_file_problems_inside_lists_name_the_item(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret")
    tokens = [{"name": "a", "token": "t"}, {"name": "b", "token": "t", "token_file": "token"}]
    assert problems(tmp_path, _merge(MINIMAL, {"auth": {"api_tokens": tokens}})) == [
        "auth.api_tokens[1].token_file: give either token or token_file, not both"
    ]


# --- errors name the key and the bad value ----------------------------------------------


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {"serverr": {}},
            "(top level): unknown key(s) 'serverr'; allowed: alertmanager, auth, escalation, "
            "grafana_oncall, heartbeat, incidents, logging, pagerduty, prometheus, retention, "
            "rules_dir, server, slack, store, tickets, webhooks",
        ),
        (
            {"server": {"lisen": "0.0.0.0:80"}},
            "server: unknown key(s) 'lisen'; allowed: board_refresh, listen, max_body_size, public_url, "
            "shutdown_timeout",
        ),
        (
            {"auth": {"webhook": {"token": "x"}}},
            "auth.webhook: unknown key(s) 'token'; allowed: allow_anonymous, basic_auth, "
            "bearer_token, bearer_token_file",
        ),
        (
            {"store": {"busy_timeout": "5 seconds"}},
            "store.busy_timeout: bad value '5 seconds'",
        ),
        ({"server": {"shutdown_timeout": "20"}}, "server.shutdown_timeout: bad value '20'"),
        ({"prometheus": {"timeout": "1.5s"}}, "prometheus.timeout: bad value '1.5s'"),
        ({"incidents": {"declare_after": "5min"}}, "incidents.declare_after: bad value '5min'"),
        ({"server": {"listen": "localhost"}}, "server.listen: bad value 'localhost'"),
        ({"server": {"listen": "0.0.0.0:http"}}, "server.listen: bad value '0.0.0.0:http'"),
        ({"server": {"listen": "0.0.0.0:123456"}}, "server.listen: bad value '0.0.0.0:123456'"),
        (
            {"server": {"listen": "0.0.0.0:99999"}},
            "server.listen: bad value '0.0.0.0:99999' (port must be 0-65535)",
        ),
        ({"server": {"listen": 9095}}, "server.listen: bad value 9095"),
        ({"server": {"public_url": "fr.example"}}, "server.public_url: bad value 'fr.example'"),
        ({"server": {"max_body_size": "1 MiB"}}, "server.max_body_size: bad value '1 MiB'"),
        ({"server": {"max_body_size": 100}}, "server.max_body_size: bad value 100"),
        ({"store": {"url": "mysql://db/fr"}}, "store.url: bad value 'mysql://db/fr'"),
        ({"store": {"pool_size": "five"}}, "store.pool_size: bad value 'five'"),
        ({"store": {"pool_size": 0}}, "store.pool_size: bad value 0"),
        ({"logging": {"level": "verbose"}}, "logging.level: bad value 'verbose'"),
        (
            {"incidents": {"declare_threshold": "operational"}},
            "incidents.declare_threshold: bad value 'operational'",
        ),
        ({"incidents": {"default_impact": "bad"}}, "incidents.default_impact: bad value 'bad'"),
        (
            {"incidents": {"severity_map": {"outage": "S5"}}},
            "incidents.severity_map.outage: bad value 'S5'",
        ),
        (
            {"incidents": {"severity_map": {"meltdown": "S1"}}},
            "incidents.severity_map: unknown key(s) 'meltdown'",
        ),
        (
            {"incidents": {"severity_labels": {"sev1": "kaput"}}},
            "incidents.severity_labels.sev1: bad value 'kaput'",
        ),
        (
            {"incidents": {"group_by": ["bad-label"]}},
            "incidents.group_by[0]: bad value 'bad-label'",
        ),
        (
            {"auth": {"api_tokens": [{"token": "t"}]}},
            "auth.api_tokens[0]: 'name' is a required property",
        ),
    ],
)
def test_schema_errors_name_the_dotted_key_and_the_bad_value(
    tmp_path: Path, extra: dict[str, Any], problem: str
) -> None:
    found = problems(tmp_path, _merge(MINIMAL, extra))
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize("listen", ["0.0.0.0:123456", "0.0.0.0:70000", "host name:80"])
def test_a_bad_listen_is_reported_once(tmp_path: Path, listen: str) -> None:
    found = problems(tmp_path, _merge(MINIMAL, {"server": {"listen": listen}}))
    assert [p for p in found if p.startswith("server.listen")] == found
    assert len(found) == 1


def test_store_is_required(tmp_path: Path) -> None:
    assert problems(tmp_path, {"auth": MINIMAL["auth"]}) == [
        "(top level): 'store' is a required property"
    ]


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        ({}, "auth.webhook: set bearer_token or basic_auth (or allow_anonymous: true)"),
        (
            {"webhook": {"basic_auth": {"username": "am"}}},
            "auth.webhook.basic_auth: password (or password_file) is required",
        ),
        (
            {"webhook": {"allow_anonymous": True}, "api_tokens": [{"name": "ops"}]},
            "auth.api_tokens[0]: token (or token_file) is required",
        ),
    ],
)
def test_auth_problems(tmp_path: Path, auth: dict[str, Any], problem: str) -> None:
    assert problems(
        tmp_path, {"store": MINIMAL["store"], "escalation": MINIMAL["escalation"], "auth": auth}
    ) == [problem]


def test_anonymous_webhooks_must_be_asked_for(tmp_path: Path) -> None:
    content = {
        "store": MINIMAL["store"],
        "escalation": MINIMAL["escalation"],
        "auth": {"webhook": {"allow_anonymous": True}},
    }
    assert load_config(write(tmp_path, content)).webhook_auth.allow_anonymous


def test_several_problems_are_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FR_NOPE", raising=False)
    content = _merge(
        MINIMAL,
        {
            "server": {"listen": "nowhere", "colour": "blue"},
            "store": {"busy_timeout": "soon"},
            "logging": {"level": "${FR_NOPE}"},
        },
    )
    found = problems(tmp_path, content)
    for expected in (
        "logging.level: environment variable FR_NOPE is not set",
        "server: unknown key(s) 'colour'",
        "server.listen: bad value 'nowhere'",
        "store.busy_timeout: bad value 'soon'",
    ):
        assert any(p.startswith(expected) for p in found), (expected, found)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("store: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "the top level must be a mapping of keys"),
        ("42\n", "the top level must be a mapping of keys"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, text: str, problem: str) -> None:
    (found,) = problems(tmp_path, text)
    assert found.startswith(str(tmp_path / "config.yaml"))
    assert problem in found


def test_a_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert caught.value.problems == [
        f"{tmp_path / 'absent.yaml'}: cannot read: No such file or directory"
    ]


# --- rule files -------------------------------------------------------------------------


def test_rules_dir_is_relative_to_the_config_and_read_in_file_order(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rule_file(
        rules,
        "b.yml",
        [
            {
                "name": "search",
                "match": ['slo=~"search-.*"'],
                "declare_threshold": "partial_disruption",
                "declare_after": "5m",
            }
        ],
    )
    rule_file(
        rules,
        "a.yaml",
        [
            {
                **CHECKOUT_RULE,
                "impacts": [{"when": ['alertname="CheckoutDown"'], "impact": "outage"}],
                "default_impact": "degraded",
            }
        ],
    )
    rule_file(rules, "a_test.yaml", "rule_files: [a.yaml]\ntests: []\n")  # rule unit tests
    write(rules, "not yaml at all", "README.md")
    config = load(tmp_path, rules_dir="rules")
    assert config.rules_dir == tmp_path / "rules"
    checkout, search = config.rules
    assert (checkout.service, checkout.source, search.service, search.source) == (
        "checkout",
        "a.yaml",
        "search",
        "b.yml",
    )
    assert checkout.selects({"service": "checkout"})
    assert checkout.impacts[0].impact is Impact.OUTAGE
    assert checkout.default_impact is Impact.DEGRADED
    assert search.declare_threshold is Impact.PARTIAL_DISRUPTION
    assert search.declare_after == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        ([{"name": "checkout"}], "checkout.yaml: services[0]: 'match' is a required property"),
        ([{"name": "checkout"}], "'match' is a required property"),
        ([{**CHECKOUT_RULE, "matchh": ["x"]}], "unknown key(s) 'matchh'"),
        (
            [{**CHECKOUT_RULE, "match": []}],
            "checkout.yaml: services[0].match: [] should be non-empty",
        ),
        (
            [{**CHECKOUT_RULE, "default_impact": "meltdown"}],
            "checkout.yaml: services[0].default_impact: bad value 'meltdown'",
        ),
        (
            [{**CHECKOUT_RULE, "declare_after": "5 min"}],
            "checkout.yaml: services[0].declare_after: bad value '5 min'",
        ),
        (
            [{**CHECKOUT_RULE, "impacts": [{"when": ['a="b"'], "impact": "bad"}]}],
            "checkout.yaml: services[0].impacts[0].impact: bad value 'bad'",
        ),
        (
            [{"name": "check out", "match": ['a="b"']}],
            "checkout.yaml: services[0].name: bad value 'check out'",
        ),
        ("servces: []\n", "checkout.yaml: (top level): unknown key(s) 'servces'"),
        ("", "checkout.yaml: (top level): bad value None"),
        ("services: [unclosed\n", "checkout.yaml: cannot load"),
    ],
)
def test_rule_file_schema_errors_name_the_file_and_key(
    tmp_path: Path, services: list[dict[str, Any]] | str, problem: str
) -> None:
    rule_file(tmp_path / "rules", "checkout.yaml", services)
    found = problems(tmp_path, _merge(MINIMAL, {"rules_dir": "rules"}))
    assert any(problem in p for p in found), found


@pytest.mark.parametrize(
    ("service", "matcher"),
    [
        ({**CHECKOUT_RULE, "match": ['service=~"(checkout"']}, 'service=~"(checkout"'),
        (
            {**CHECKOUT_RULE, "impacts": [{"when": ["severity=~*"], "impact": "outage"}]},
            "severity=~*",
        ),
        ({**CHECKOUT_RULE, "match": ["not a matcher"]}, "not a matcher"),
    ],
)
def test_a_bad_matcher_names_file_service_and_matcher(
    tmp_path: Path, service: dict[str, Any], matcher: str
) -> None:
    rule_file(tmp_path, "checkout.yaml", [{"name": "ok", "match": ['a="b"']}, service])
    with pytest.raises(ConfigError) as caught:
        load_rules_dir(tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith("checkout.yaml: services[1] (checkout): ")
    assert repr(matcher) in problem


def test_every_bad_matcher_of_a_file_is_reported(tmp_path: Path) -> None:
    rule_file(
        tmp_path,
        "a.yaml",
        [{"name": "one", "match": ['a=~"("']}, {"name": "two", "match": ['b=~"["']}],
    )
    with pytest.raises(ConfigError) as caught:
        load_rules_dir(tmp_path)
    assert [p.split(": bad regular")[0] for p in caught.value.problems] == [
        "a.yaml: services[0] (one)",
        "a.yaml: services[1] (two)",
    ]


def test_duplicate_service_names_name_both_files(tmp_path: Path) -> None:
    rule_file(tmp_path, "a.yaml", [CHECKOUT_RULE])
    rule_file(tmp_path, "b.yaml", [{"name": "checkout", "match": ['app="checkout"']}])
    with pytest.raises(ConfigError) as caught:
        load_rules_dir(tmp_path)
    assert caught.value.problems == ["b.yaml: service 'checkout' already defined in a.yaml"]


def test_duplicate_service_names_within_one_file(tmp_path: Path) -> None:
    rule_file(tmp_path, "a.yaml", [CHECKOUT_RULE, CHECKOUT_RULE])
    with pytest.raises(ConfigError) as caught:
        load_rules_dir(tmp_path)
    assert caught.value.problems == ["a.yaml: service 'checkout' already defined in a.yaml"]


def test_problems_of_every_rule_file_and_the_config_come_together(tmp_path: Path) -> None:
    rule_file(tmp_path / "rules", "a.yaml", [{"name": "a", "match": ['x=~"("']}])
    rule_file(tmp_path / "rules", "b.yaml", [{"name": "b"}])
    found = problems(
        tmp_path,
        {
            "store": MINIMAL["store"],
            "escalation": MINIMAL["escalation"],
            "auth": {"webhook": {}},
            "rules_dir": "rules",
        },
    )
    assert found[0] == "auth.webhook: set bearer_token or basic_auth (or allow_anonymous: true)"
    assert any(p.startswith("a.yaml: services[0] (a): bad regular expression") for p in found)
    assert any(p.startswith("b.yaml: services[0]: ") for p in found)


def test_rules_dir_that_is_not_a_directory(tmp_path: Path) -> None:
    assert problems(tmp_path, _merge(MINIMAL, {"rules_dir": "missing"})) == [
        f"rules_dir: {str(tmp_path / 'missing')!r} is not a directory"
    ]


# --- the store section ------------------------------------------------------------------


def test_store_timeouts_default_so_existing_configs_still_load(tmp_path: Path) -> None:
    store = load(tmp_path).store
    assert (store.pool_size, store.busy_timeout) == (5, timedelta(seconds=5))
    assert (store.statement_timeout, store.lock_timeout) == (timedelta(seconds=30),) * 2
    assert (store.connect_timeout, store.pool_timeout) == (timedelta(seconds=5),) * 2


def test_every_store_timeout_is_read(tmp_path: Path) -> None:
    store = load(
        tmp_path,
        store={
            "statement_timeout": "10s",
            "lock_timeout": "2s",
            "connect_timeout": "1500ms",
            "pool_timeout": "3s",
        },
    ).store
    assert store.statement_timeout == timedelta(seconds=10)
    assert store.lock_timeout == timedelta(seconds=2)
    assert store.connect_timeout == timedelta(seconds=1.5)
    assert store.pool_timeout == timedelta(seconds=3)


@pytest.mark.parametrize(("statement", "lock"), [("45s", "45s"), ("0s", "0s")])
def test_lock_timeout_follows_statement_timeout_unless_given(
    tmp_path: Path, statement: str, lock: str
) -> None:
    store = load(tmp_path, store={"statement_timeout": statement}).store
    assert store.lock_timeout == store.statement_timeout == parse_duration(lock)


@pytest.mark.parametrize(
    ("store", "problem"),
    [
        ({"statement_timeout": "30"}, "store.statement_timeout: bad value '30'"),
        ({"statement_timeout": 30}, "store.statement_timeout: bad value 30"),
        (
            {"statement_timeout": "25d"},
            "store.statement_timeout: bad value '25d' (PostgreSQL allows at most 24d; 0s is off)",
        ),
        (
            {"lock_timeout": "1y"},
            "store.lock_timeout: bad value '1y' (PostgreSQL allows at most 24d; 0s is off)",
        ),
        ({"connect_timeout": "0s"}, "store.connect_timeout: bad value '0s' (must be more than 0)"),
        ({"connect_timeout": "5 s"}, "store.connect_timeout: bad value '5 s'"),
        ({"pool_timeout": "0ms"}, "store.pool_timeout: bad value '0ms' (must be more than 0)"),
        ({"pool_timeout": "soon"}, "store.pool_timeout: bad value 'soon'"),
        (
            {"statment_timeout": "5s"},
            "store: unknown key(s) 'statment_timeout'; allowed: busy_timeout, connect_timeout, "
            "lock_timeout, pool_size, pool_timeout, statement_timeout, url",
        ),
    ],
)
def test_check_config_names_the_bad_store_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: dict[str, Any], problem: str
) -> None:
    path = write(tmp_path, _merge(MINIMAL, {"store": store}))
    assert main(["check-config", str(path)]) == 1
    assert f"  - {problem}" in capsys.readouterr().err.splitlines()[1]


# --- firstresponder check-config --------------------------------------------------------


def test_check_config_ok_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule_file(tmp_path / "rules", "a.yaml", [CHECKOUT_RULE])
    path = write(tmp_path, _merge(MINIMAL, {"rules_dir": "rules"}))
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: OK (1 service rule(s) from {tmp_path / 'rules'}; store sqlite)")
    assert err == ""


def test_check_config_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, _merge(MINIMAL, {"server": {"listen": "x"}, "logging": {"level": "?"}}))
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: 2 problem(s):"
    assert lines[1].startswith("  - logging.level: bad value '?'")
    assert lines[2].startswith("  - server.listen: bad value 'x'")


def test_check_config_of_a_missing_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_the_shipped_example_config_and_rules_pass_check_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FIRSTRESPONDER_WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("FIRSTRESPONDER_API_TOKEN", raising=False)
    shutil.copy(REPO / "config.example.yaml", tmp_path / "config.yaml")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    assert main(["check-config", str(tmp_path / "config.yaml")]) == 0, capsys.readouterr().err
    assert ": OK (" in capsys.readouterr().out
