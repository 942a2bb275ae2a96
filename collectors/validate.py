"""Sample validation: rows whose timestamp falls outside the source's window, or whose value
does not parse, are refused and counted by reason; nothing out of range reaches an `int()`.

A source that ingests timestamps from outside takes `accept: {past: 30d, future: 10m}`. The
past bound defaults to the store's retention for what the source writes (`FALLBACK_PAST`
when the store keeps that forever), the future bound to ten minutes. NaN and ±Inf are valid
Prometheus values and are kept. The checks are Arrow compute over the whole batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from console.config.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
EPOCH = datetime(1970, 1, 1)
DEFAULT_FUTURE = timedelta(minutes=10)
FALLBACK_PAST = timedelta(days=3650)  # when the store keeps the rows forever
# Numeric text Arrow's cast reads, and no more (Prometheus' grammar: NaN, Inf, +Inf, 1e-3, …).
NUMBER = r"(?i)^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|nan|inf|infinity)$"
_NUMBER = re.compile(NUMBER)


class Accept(BaseModel):
    """The window a source's timestamps must fall in, around the time of the run."""

    model_config = ConfigDict(extra="forbid")

    past: Duration | None = None  # None: the store's retention (FALLBACK_PAST if none)
    future: Duration = DEFAULT_FUTURE


@dataclass(frozen=True)
class Window:
    """Epoch seconds a timestamp may take: `now - past` to `now + future`, both included."""

    now: float
    past: float
    future: float

    @classmethod
    def of(cls, accept: Accept, now: datetime, retention_days: float | None) -> Window:
        past = (
            accept.past
            if accept.past is not None
            else (timedelta(days=retention_days) if retention_days else FALLBACK_PAST)
        )
        return cls(seconds(now), past.total_seconds(), accept.future.total_seconds())

    @property
    def lo(self) -> float:
        return self.now - self.past

    @property
    def hi(self) -> float:
        return self.now + self.future


def seconds(moment: datetime) -> float:
    """Epoch seconds of a naive UTC datetime."""
    return (moment - EPOCH).total_seconds()


@dataclass
class Refusals:
    """What one run refused, by (what, why): how many, and the nearest and farthest offset."""

    found: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add(
        self,
        what: str,
        why: str,
        count: int,
        least: float | None = None,
        most: float | None = None,
        limit: float | None = None,
    ) -> None:
        if count <= 0:
            return
        entry = self.found.setdefault((what, why), {"what": what, "why": why, "count": 0})
        entry["count"] += count
        if least is not None and most is not None:
            entry["least"] = min(least, entry.get("least", least))
            entry["most"] = max(most, entry.get("most", most))
        if limit is not None:
            entry["limit"] = limit

    @property
    def total(self) -> int:
        return sum(entry["count"] for entry in self.found.values())

    def entries(self) -> list[dict[str, Any]]:
        """JSON-ready entries, each with the one line a user reads (`text`)."""
        from console.store.refused import entry_text

        order = {"future": 0, "past": 1, "unparsed": 2}
        return [
            {**entry, "text": entry_text(entry)}
            for entry in sorted(self.found.values(), key=lambda e: order[e["why"]])
        ]


def numbers(raw: Sequence[Any] | Any) -> Any:
    """Numbers (or numeric text) as a float64 Arrow array, null where an item is neither."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = _as_arrow(raw)
    kind = raw.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return pc.cast(raw, pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text_numbers(raw)
    if pa.types.is_decimal(kind):
        return pc.cast(raw, pa.float64(), safe=False)
    return pa.nulls(len(raw), pa.float64())


def _as_arrow(raw: Sequence[Any] | Any) -> Any:
    import pyarrow as pa

    if isinstance(raw, (pa.Array, pa.ChunkedArray)):
        return raw
    try:
        return pa.array(raw)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):  # mixed kinds, huge ints
        return pa.array([_as_text(item) for item in raw], pa.string())


def _text_numbers(raw: Any) -> Any:
    """Numeric text as floats; null where a text is not a number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    readable = pc.if_else(pc.match_substring_regex(raw, NUMBER), raw, pa.scalar(None, raw.type))
    try:
        return pc.cast(readable, pa.float64())
    except pa.ArrowInvalid:  # a text the pattern let through and Arrow will not read
        return pa.array([number(item) for item in readable.to_pylist()], pa.float64())


def _as_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return repr(item)
    return None


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond any float reads as Arrow reads its text
        return math.inf if value > 0 else -math.inf


def number(text: Any) -> float | None:
    """One number or numeric text as a float; None when it is neither (no exception)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _as_float(text)
    if isinstance(text, str) and _NUMBER.match(text):
        try:
            return float(text)
        except ValueError:
            return None
    return None


def check(
    stamps: Any,
    values: Any,
    window: Window,
    refused: Refusals,
    *,
    what: str = "timestamp",
    value: str = "value",
) -> Any:
    """The mask of rows to keep: a timestamp (epoch seconds) inside the window and, where
    `values` is given, a value that parsed (null marks one that did not; NaN is a value).

    Each refused row is counted once in `refused`, timestamp reasons first.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    stamps = pc.cast(stamps, pa.float64())
    unread = pc.fill_null(pc.is_nan(stamps), True)
    ahead = pc.fill_null(pc.greater(stamps, window.hi), False)
    behind = pc.fill_null(pc.less(stamps, window.lo), False)
    timed = pc.invert(pc.or_(unread, pc.or_(ahead, behind)))
    _count(refused, what, "future", stamps, ahead, window.now, window.future, sign=1)
    _count(refused, what, "past", stamps, behind, window.now, window.past, sign=-1)
    refused.add(what, "unparsed", pc.sum(unread).as_py() or 0)
    if values is None:
        return timed
    unparsed = pc.and_(timed, pc.is_null(values))
    refused.add(value, "unparsed", pc.sum(unparsed).as_py() or 0)
    return pc.and_(timed, pc.invert(unparsed))


def _count(
    refused: Refusals, what: str, why: str, stamps: Any, mask: Any, now: float, limit: float, sign: int
) -> None:
    import pyarrow.compute as pc

    count = pc.sum(mask).as_py() or 0
    if count:
        offsets = pc.multiply(pc.subtract(pc.filter(stamps, mask), now), float(sign))
        span = pc.min_max(offsets).as_py()
        refused.add(what, why, count, span["min"], span["max"], limit)


def timestamps(stamps: Any) -> Any:
    """Epoch seconds (inside a window, so in range) as an Arrow timestamp[us] array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    micros = pc.round(pc.multiply(pc.cast(stamps, pa.float64()), 1e6))
    return pc.cast(pc.cast(micros, pa.int64()), pa.timestamp("us"))


def sample_table(names: Any, labels: Any, stamps: Any, values: Any, window: Window, refused: Refusals) -> Any:
    """Samples as the store's (name, labels, ts, value) rows, only those with a timestamp
    (epoch seconds) inside the window and a value that parses; the rest counted in `refused`."""
    import pyarrow as pa

    stamps, values = numbers(stamps), numbers(values)
    keep = check(stamps, values, window, refused)
    rows = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "labels": pa.array(labels, pa.string()),
            "stamp": stamps,
            "value": values,
        }
    ).filter(keep)
    return pa.table(
        {
            "name": rows["name"],
            "labels": rows["labels"],
            "ts": timestamps(rows["stamp"]),
            "value": rows["value"],
        }
    )
