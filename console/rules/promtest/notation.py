"""promtool's input notation: series selectors and the expanding values `1+2x10 _x3 stale`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from console.store.selectors import SelectorError, parse_selector

# One item of a values string, as Prometheus 2.x's series-description grammar reads it:
# `_` or `_xN` (N omitted samples), `stale`, `A` or `AxN` (A, N+1 times), `A+BxN` / `A-BxN`
# (A, A+B, ... N+1 values).  A number is decimal or scientific, or Inf / NaN (any case).
_NUMBER = r"(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])"
_ITEM = re.compile(
    rf"^(?:(?P<blank>_)|(?P<start>[+-]?{_NUMBER})(?:(?P<op>[+-])(?P<step>{_NUMBER}))?)"
    r"(?:x(?P<times>\d+))?$"
)
STALE = "stale"

# A sample value: a number, None for a stale marker; OMITTED for no sample at that step.
OMITTED = object()


class NotationError(ValueError):
    """A values string or series selector that does not read; the message says which part."""


@dataclass(frozen=True)
class InputSeries:
    """One `input_series` entry: metric name, labels (no __name__) and a value per step."""

    name: str
    labels: dict[str, str]
    values: list[object]  # float, None (stale) or OMITTED


def _number(text: str) -> float:
    return float(text)  # Python reads inf, nan, 1e3, .5 as Go's ParseFloat does


def expand_values(text: str) -> list[object]:
    """The values of `1+2x3 _x2 stale 4`: [1, 3, 5, 7, OMITTED, OMITTED, None, 4]."""
    values: list[object] = []
    for item in text.split():
        if item == STALE:
            values.append(None)
            continue
        match = _ITEM.match(item)
        if match is None:
            raise NotationError(
                f"cannot read {item!r} in values; write numbers, `1+2x10`, `1-1x5`, `1x3`, `_`, `_x3` or `stale`"
            )
        times = int(match["times"]) if match["times"] is not None else None
        if match["blank"]:
            values.extend([OMITTED] * (times if times is not None else 1))
            continue
        if match["step"] is not None and times is None:
            raise NotationError(f"{item!r} needs a count: write e.g. {item}x10")
        value = _number(match["start"])
        step = _number(match["step"]) if match["step"] is not None else 0.0
        if match["op"] == "-":
            step = -step
        for _ in range((times or 0) + 1):
            values.append(value)
            value += step  # one addition at a time, as Prometheus does (same rounding)
    return values


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """`up{job="a"}` or `{__name__="up", job="a"}` into (name, labels); equality matchers only."""
    if re.fullmatch(r"\s*\{\s*\}\s*", text):
        return "", {}  # no labels at all, as an expression's answer may have
    try:
        selector = parse_selector(text)
    except SelectorError as exc:
        raise NotationError(f"cannot read series {text!r}: {exc}") from None
    labels: dict[str, str] = {}
    for matcher in selector.matchers:
        if matcher.op != "=":
            raise NotationError(
                f"series {text!r}: a series is written with `=` only (got {matcher.label}{matcher.op}…)"
            )
        labels[matcher.label] = matcher.value
    name = selector.name or labels.pop("__name__", "")
    labels.pop("__name__", None)
    return name, labels


def series_name(series: str) -> tuple[str, dict[str, str]]:
    """An input series' (name, labels); it must name its metric."""
    name, labels = parse_series(series)
    if not name:
        raise NotationError(f'series {series!r} has no metric name; write e.g. up{{job="a"}}')
    return name, labels


def parse_labels(text: str) -> dict[str, str]:
    """An exp_samples `labels` string into its labels, __name__ included when it names one."""
    name, labels = parse_series(text) if text.strip() else ("", {})
    return {"__name__": name, **labels} if name else labels


def is_nan(value: float | None) -> bool:
    return value is None or math.isnan(value)
