"""JSON Schema errors as messages a person can act on: the key, written `a.b[0].c`, and the value.

Shared by the config, rule files and rule test files (the HTTP edge has its own: it
reports only the best match).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jsonschema


def key_path(parts: Iterable[Any], top: str = "(top level)") -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or top


def schema_problems(
    validator: jsonschema.protocols.Validator, raw: Any, prefix: str = ""
) -> list[str]:
    """Every violation, sorted by key; unknown keys list what is allowed."""
    problems = []
    for error in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        key = prefix + key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = sorted(schema.get("properties", {}))
            instance: Any = error.instance
            extra = sorted(set(instance) - set(allowed))
            problems.append(
                f"{key}: unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}"
            )
        elif error.validator == "required" or isinstance(error.instance, dict | list):
            problems.append(f"{key}: {error.message}")
        elif error.validator == "pattern":
            problems.append(
                f"{key}: bad value {error.instance!r} (must match {error.validator_value})"
            )
        else:
            problems.append(f"{key}: bad value {error.instance!r}: {error.message}")
    return problems
