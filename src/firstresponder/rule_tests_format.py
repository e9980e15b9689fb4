"""The rule unit-test file format: its JSON Schema and promtool's series notation.

A series is what Prometheus answers to one query over time, one value per evaluation
step, in promtool's expanding notation: `a+bxn` is `a a+b … a+n*b` (n + 1 values), `axn`
is `a+0xn`, `_` (or `stale`) is no answer, `_xn` is n of them, `NaN` and `+Inf` are values.
Value i is the answer at i × evaluation_interval; after the last one there is no answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from .config_schema import DURATION, IMPACTS
from .prometheus import Sample
from .schema_messages import schema_problems as check_schema

NO_DATA = "no_data"  # the expected "impact" when Prometheus gives the evaluator nothing
DEFAULT_KEY = "default"  # input.error_ratio.default: every queried window not listed

_SERIES = {"type": "string", "minLength": 1}
_STRICT = {"type": "object", "additionalProperties": False}
TEST_FILE_SCHEMA: dict[str, Any] = {
    **_STRICT,
    "required": ["rule_files", "tests"],
    "properties": {
        "rule_files": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "evaluation_interval": DURATION,
        "tests": {
            "type": "array",
            "items": {
                **_STRICT,
                "required": ["name", "service", "input", "expect"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "service": {"type": "string", "minLength": 1},
                    "input": {
                        **_STRICT,
                        "properties": {
                            "error_ratio": {"type": "object", "additionalProperties": _SERIES},
                            "error_ratio_by_part": {
                                "type": "object",
                                "additionalProperties": _SERIES,
                            },
                            "apdex": _SERIES,
                        },
                    },
                    "expect": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            **_STRICT,
                            "required": ["at", "impact"],
                            "properties": {
                                "at": DURATION,
                                "impact": {"enum": [*IMPACTS, NO_DATA]},
                                "reason_contains": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                },
            },
        },
    },
}

Series = tuple[float | None, ...]
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?[Ii]nf|NaN|nan"
_VALUE = re.compile(rf"(?:{_NUM})")
_EXPAND = re.compile(
    rf"(?P<a>{_NUM})(?:(?P<op>[-+])(?P<b>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))?x(?P<n>\d+)"
)
_MISSING = re.compile(r"(?:_|stale)(?:x(?P<n>\d+))?")


def parse_series(text: str) -> Series:
    """promtool's notation: '0 0.08x2 _ NaN' -> (0.0, 0.08, 0.08, 0.08, None, nan)."""
    out: list[float | None] = []
    for token in text.split():
        if hit := _MISSING.fullmatch(token):
            out += [None] * (int(hit["n"]) if hit["n"] else 1)
        elif hit := _EXPAND.fullmatch(token):
            start, count = float(hit["a"]), int(hit["n"])
            step = float(hit["b"] or 0) * (-1 if hit["op"] == "-" else 1)
            out += [start + i * step for i in range(count + 1)]
        elif _VALUE.fullmatch(token):
            out.append(float(token))
        else:
            raise ValueError(
                f"cannot read {token!r} (expected e.g. 0.01, 0.01x10, 0+0.01x5, _, NaN)"
            )
    return tuple(out)


@dataclass(frozen=True)
class Feed:
    """The answer to one rendered query: one unlabelled series, or one series per part."""

    key: str
    series: Series = ()
    parts: Mapping[str, Series] = field(default_factory=dict)
    label: str = ""

    def samples(self, step: int) -> list[Sample]:
        if self.label:
            found = {name: _at(values, step) for name, values in self.parts.items()}
            return [Sample({self.label: n}, v) for n, v in found.items() if v is not None]
        value = _at(self.series, step)
        return [] if value is None else [Sample({}, value)]


def _at(series: Series, step: int) -> float | None:
    return series[step] if step < len(series) else None


_VALIDATOR = jsonschema.Draft202012Validator(TEST_FILE_SCHEMA)


def schema_problems(raw: Any) -> list[str]:
    return check_schema(_VALIDATOR, raw)


__all__ = [
    "DEFAULT_KEY",
    "NO_DATA",
    "TEST_FILE_SCHEMA",
    "Feed",
    "Series",
    "parse_series",
    "schema_problems",
]
