"""Prometheus-style durations (`15m`, `1h30m`, `500ms`) and byte sizes (`1MiB`)."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^(?:\d+(?:ms|s|m|h|d|w|y))+$"
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

SIZE_PATTERN = r"^\d+(?:B|KiB|MiB|GiB|KB|MB|GB)?$"
_SIZE = re.compile(r"^(\d+)(B|KiB|MiB|GiB|KB|MB|GB)?$")
_SIZE_FACTOR = {
    "B": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
}


def parse_duration(text: str) -> timedelta:
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"bad duration {text!r} (expected e.g. 30s, 15m, 1h30m)")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_size(value: int | str) -> int:
    if isinstance(value, int):
        return value
    hit = _SIZE.match(value)
    if hit is None:
        raise ValueError(f"bad size {value!r} (expected e.g. 1048576 or 1MiB)")
    return int(hit.group(1)) * _SIZE_FACTOR[hit.group(2) or "B"]
