"""Prometheus-style durations: `90s`, `5m`, `1h30m`, `30d`, `2w`."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from functools import lru_cache

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse `1h30m`-style text (or plain seconds) into a timedelta; ValueError if malformed."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    return timedelta(seconds=_text_seconds(str(text).strip()))


def _text_seconds(raw: str) -> float:
    """The seconds `1h30m`-style text adds up to; ValueError unless it is parts end to end."""
    pos, seconds = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        seconds += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if not raw or pos != len(raw):
        raise ValueError(f"not a duration: {raw!r} (use e.g. 30s, 5m, 1h30m, 7d)")
    return seconds


@lru_cache(maxsize=4096)  # a thousand SLOs ask for the same few windows, many times each
def format_duration(value: timedelta) -> str:
    """The shortest Prometheus-style text for a timedelta, e.g. `1h30m`."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)


def rough_duration(span: float) -> str:
    """Seconds in their largest whole unit, to two figures: `45s`, `1.5h`, `3d`, `57y`, `3.2e+17y`."""
    if not math.isfinite(span):
        return "∞"
    for unit, size, below in (
        ("s", 1, 60),
        ("m", 60, 3600),
        ("h", 3600, 86400),
        ("d", 86400, 365.25 * 86400),
    ):
        if span < below:
            return _figures(span / size) + unit
    years = span / (365.25 * 86400)
    return (_figures(years) if years < 1e6 else f"{years:.2g}") + "y"


def _figures(value: float) -> str:
    text = f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")
    return text or "0"
