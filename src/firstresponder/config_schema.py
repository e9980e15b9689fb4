"""JSON Schema of the configuration file. Every key is documented in config.example.yaml."""

from __future__ import annotations

from typing import Any

from .config_alertmanager import ALERTMANAGER_SCHEMA
from .config_heartbeat import HEARTBEAT_SCHEMA
from .config_retention import RETENTION_SCHEMA
from .config_slack import SLACK_SCHEMA
from .config_store import STORE_SCHEMA
from .config_tickets import TICKETS_SCHEMA
from .durations import DURATION_PATTERN, SIZE_PATTERN

IMPACTS = ["operational", "degraded", "partial_disruption", "outage"]
SEVERITY = {"type": "string", "pattern": "^[SsPp][1-4]$"}
DURATION = {"type": "string", "pattern": DURATION_PATTERN}
SECRET = {"type": "string", "minLength": 1}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        out["required"] = required
    return out


PAGED_ROLES = ["eoc", "imoc", "cmoc"]
TARGET_PATTERN = r"^(pagerduty|grafana_oncall|webhook:[A-Za-z0-9_.-]+)$"
_URL = {"type": "string", "pattern": "^https?://"}
_HTTPS = {
    "type": "string",
    "pattern": "^https://",
    "description": "the pagerduty package needs https",
}
_REPEATS = {"type": "integer", "minimum": 0, "maximum": 10}
_ROLE_LIST = {"type": "array", "uniqueItems": True, "items": {"enum": PAGED_ROLES}}


def _one_of_keys(properties: dict[str, Any]) -> dict[str, Any]:
    return {**_obj(properties), "minProperties": 1, "maxProperties": 1}


def _by_role(value: dict[str, Any]) -> dict[str, Any]:
    return _obj({role: value for role in PAGED_ROLES})


_LEVEL = _obj(
    {
        "page": _ROLE_LIST,
        "escalate_to": _ROLE_LIST,
        "ack_timeout": DURATION,
        "investigating_timeout": DURATION,
        "repeats": _REPEATS,
    }
)
_BY_SEVERITY = {
    "type": "object",
    "propertyNames": {"pattern": "^[SsPp][1-4]$"},
    "additionalProperties": _LEVEL,
}

_BASIC = _obj(
    {"username": {"type": "string", "minLength": 1}, "password": SECRET, "password_file": SECRET},
    ["username"],
)

CONFIG_SCHEMA: dict[str, Any] = _obj(
    {
        "server": _obj(
            {
                "listen": {"type": "string", "pattern": r"^[^\s:]*:\d{1,5}$"},
                "public_url": {"type": "string", "pattern": "^https?://"},
                "max_body_size": {
                    "type": ["integer", "string"],
                    "pattern": SIZE_PATTERN,
                    "minimum": 1024,
                },
                "shutdown_timeout": DURATION,
                "board_refresh": DURATION,
            }
        ),
        "store": STORE_SCHEMA,
        "retention": RETENTION_SCHEMA,
        "auth": _obj(
            {
                "webhook": _obj(
                    {
                        "bearer_token": SECRET,
                        "bearer_token_file": SECRET,
                        "basic_auth": _BASIC,
                        "allow_anonymous": {"type": "boolean"},
                    }
                ),
                "api_tokens": {
                    "type": "array",
                    "items": _obj(
                        {
                            "name": {"type": "string", "minLength": 1},
                            "token": SECRET,
                            "token_file": SECRET,
                        },
                        ["name"],
                    ),
                },
            }
        ),
        "rules_dir": {"type": "string", "minLength": 1},
        "incidents": _obj(
            {
                "group_by": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "service_labels": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "declare_threshold": {"enum": IMPACTS[1:]},
                "declare_after": DURATION,
                "default_impact": {"enum": IMPACTS},
                "severity_map": _obj({name: SEVERITY for name in IMPACTS}),
                "severity_labels": {"type": "object", "additionalProperties": {"enum": IMPACTS}},
            }
        ),
        "prometheus": _obj(
            {
                "url": {"type": "string", "pattern": "^https?://"},
                "timeout": DURATION,
                "evaluation_interval": DURATION,
                "bearer_token": SECRET,
                "bearer_token_file": SECRET,
                "basic_auth": _BASIC,
                "tls": _obj(
                    {
                        "ca_file": {"type": "string", "minLength": 1},
                        "cert_file": {"type": "string", "minLength": 1},
                        "key_file": {"type": "string", "minLength": 1},
                        "insecure_skip_verify": {"type": "boolean"},
                    }
                ),
            }
        ),
        "escalation": _obj(
            {
                "enabled": {"type": "boolean"},
                "ack_timeout": DURATION,
                "investigating_timeout": DURATION,
                "repeats": _REPEATS,
                "targets": _by_role(
                    {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": TARGET_PATTERN},
                    }
                ),
                "severities": _BY_SEVERITY,
                "services": {"type": "object", "additionalProperties": _BY_SEVERITY},
                "delivery": _obj(
                    {
                        "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
                        "max_backoff": DURATION,
                        "lease": DURATION,
                        "interval": DURATION,
                    }
                ),
            }
        ),
        "slack": SLACK_SCHEMA,
        "tickets": TICKETS_SCHEMA,
        "heartbeat": HEARTBEAT_SCHEMA,
        "alertmanager": ALERTMANAGER_SCHEMA,
        "pagerduty": _obj(
            {
                "events_url": _HTTPS,
                "api_url": _HTTPS,
                "ca_file": {"type": "string", "minLength": 1},
                "routing_keys": _by_role(SECRET),
                "api_token": SECRET,
                "api_token_file": SECRET,
                "schedules": _by_role({"type": "string", "minLength": 1}),
                "webhook_secrets": {"type": "array", "items": SECRET},
                "webhook_secret": SECRET,
                "webhook_secret_file": SECRET,
                "timeout": DURATION,
            }
        ),
        "grafana_oncall": _obj(
            {
                "api_url": _URL,
                "api_token": SECRET,
                "api_token_file": SECRET,
                "targets": _by_role(
                    _one_of_keys(
                        {
                            "team": {"type": "string", "minLength": 1},
                            "users": {
                                "type": "array",
                                "items": {"type": "string", "minLength": 1},
                                "minItems": 1,
                            },
                        }
                    )
                ),
                "timeout": DURATION,
            }
        ),
        "webhooks": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"},
            "additionalProperties": _obj(
                {
                    "url": _URL,
                    "bearer_token": SECRET,
                    "bearer_token_file": SECRET,
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "timeout": DURATION,
                },
                ["url"],
            ),
        },
        "logging": _obj(
            {
                "level": {"enum": ["debug", "info", "warning", "error"]},
                "format": {"enum": ["json", "text"]},
            }
        ),
    },
    ["store"],
)

_RATIO = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
_TEMPLATE = {"type": "string", "minLength": 1, "pattern": r"\{\{window\}\}"}
SLO_SCHEMA: dict[str, Any] = _obj(
    {
        "objective": _RATIO,
        "apdex_objective": _RATIO,
        "outage_line": _RATIO,
        "parts_label": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "sustain": DURATION,
        "hysteresis": {"type": "number", "minimum": 0, "maximum": 0.5},
        "burn_windows": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "severity": {"enum": ["page", "ticket"]},
                    "factor": {"type": "number", "exclusiveMinimum": 0},
                    "long": DURATION,
                    "short": DURATION,
                },
                ["severity", "factor", "long", "short"],
            ),
        },
        "source": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "sloth": _obj(
                    {
                        "service": {"type": "string", "minLength": 1},
                        "slo": {"type": "string", "minLength": 1},
                    },
                    ["slo"],
                ),
                "pyrra": _obj(
                    {
                        "slo": {"type": "string", "minLength": 1},
                        "metric": {"type": "string", "minLength": 1},
                    },
                    ["slo", "metric"],
                ),
                "promql": _obj({"error_ratio": _TEMPLATE}, ["error_ratio"]),
            },
        },
        "apdex_query": _TEMPLATE,
    },
    ["objective", "outage_line", "source"],
)

RULES_SCHEMA: dict[str, Any] = _obj(
    {
        "services": {
            "type": "array",
            "items": _obj(
                {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
                    "description": {"type": "string"},
                    "match": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "minItems": 1,
                    },
                    "impacts": {
                        "type": "array",
                        "items": _obj(
                            {
                                "when": {
                                    "type": "array",
                                    "items": {"type": "string", "minLength": 1},
                                    "minItems": 1,
                                },
                                "impact": {"enum": IMPACTS},
                            },
                            ["when", "impact"],
                        ),
                    },
                    "default_impact": {"enum": IMPACTS},
                    "declare_threshold": {"enum": IMPACTS[1:]},
                    "declare_after": DURATION,
                    "slo": SLO_SCHEMA,
                },
                ["name", "match"],
            ),
        },
    },
    ["services"],
)
