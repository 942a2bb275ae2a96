"""What the Logs view and `oncall logs` read: the filter language, windows, counts, one line.

A filter is words.  `service=`, `level=`, `since=`, `until=` set those filters; any other
`key=value` matches the line's attribute of that name (`version=3`).  The other words
must each appear, case-insensitively, in the line's level, service or message (a
"quoted phrase" is one word).  `re:PATTERN` (to the end of the filter) or `/PATTERN/`
matches the message with a regular expression, RE2 syntax as DuckDB's `regexp_matches`
runs it: linear time, case-sensitive unless it starts with `(?i)`, over the first
`MATCHED_CHARS` characters of the message (a line megabytes long costs no more).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.config.durations import parse_duration

if TYPE_CHECKING:
    from collections.abc import Iterator

    from console.store import Store

MATCHED_CHARS = 4096
LOG_COLUMNS = ("time", "level", "service", "message")
LINE_FIELDS = ("ts", "level", "service", "message", "attributes", "source", "origin", "line_offset")
ALL_FIELDS = (*LINE_FIELDS, "parse_error", "raw")
_NEWEST = "ts DESC, origin DESC, line_offset DESC"
_OLDEST = "ts ASC, origin ASC, line_offset ASC"
_WORD = re.compile(r'"([^"]*)"|(\S+)')
_KEY = re.compile(r"[A-Za-z_][\w.-]*")
_CAPPED = f"CASE WHEN strlen(message) <= {MATCHED_CHARS} THEN message ELSE left(message, {MATCHED_CHARS}) END"


class FilterError(ValueError):
    """A filter the user has to fix: a bad duration, time, field name or pattern."""


@dataclass
class LogFilter:
    service: str | None = None
    level: str | None = None
    words: list[str] = field(default_factory=list)  # each in level, service or message
    regex: str | None = None  # RE2, on the message's first MATCHED_CHARS characters
    since: datetime | None = None
    until: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["true"]
        params: list[Any] = []
        for clause, value in self._clauses():
            clauses.append(clause)
            params.extend(value)
        return " AND ".join(clauses), params

    def _clauses(self) -> Iterator[tuple[str, list[Any]]]:
        if self.service:
            yield "service = ?", [self.service]
        if self.level:
            yield "lower(level) = ?", [self.level.lower()]
        for word in self.words:
            yield "contains(lower(concat_ws(' ', level, service, message)), ?)", [word.lower()]
        if self.regex is not None:
            yield f"regexp_matches({_CAPPED}, ?)", [self.regex]
        if self.since:
            yield "ts >= ?", [self.since]
        if self.until:
            yield "ts <= ?", [self.until]
        for key, value in self.attributes.items():
            yield "json_extract_string(attributes, ?) = ?", [f'$."{key}"', value]

    def describe(self) -> str:
        """The filter in words, for a status line."""
        parts = [f"{k}={v}" for k, v in (("service", self.service), ("level", self.level)) if v]
        parts += [f"{k}={v}" for k, v in self.attributes.items()]
        parts += [f'"{w}"' if " " in w else w for w in self.words]
        if self.regex is not None:
            parts.append(f"re:{self.regex}")
        return " ".join(parts)


def parse_when(text: str, now: datetime) -> datetime:
    """`30m` or `now-30m` (that long before `now`), `now`, or an ISO time (naive means UTC)."""
    raw = text.strip()
    if raw == "now":
        return now
    try:
        return now - parse_duration(raw.removeprefix("now-"))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"bad time {text!r}: use 30m, now-2h or 2026-11-20T11:40") from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def parse_filter(text: str, now: datetime) -> LogFilter:
    """The `/` filter of the Logs view (the language in this module's docstring)."""
    f = LogFilter()
    head, f.regex = _split_regex(text)
    for match in _WORD.finditer(head):
        quoted, word = match.groups()
        if quoted is not None:
            if quoted:
                f.words.append(quoted)
        elif _is_slashed(word):
            if f.regex is not None:
                raise FilterError(f"one regular expression a filter: {word!r} is a second")
            f.regex = word[1:-1]
        elif not _apply_field(f, word, now):
            f.words.append(word)
    return f


def _split_regex(text: str) -> tuple[str, str | None]:
    """The words before `re:`, and the pattern after it (spaces and all), or the whole text."""
    match = re.search(r"(?:^|\s)re:", text)
    if match is None:
        stripped = text.strip()
        if _is_slashed(stripped) and " " in stripped:  # `/a b/`: one pattern, spaces and all
            return "", stripped[1:-1]
        return text, None
    return text[: match.start()], text[match.end() :]


def _is_slashed(word: str) -> bool:
    return len(word) > 2 and word.startswith("/") and word.endswith("/")


def _apply_field(f: LogFilter, word: str, now: datetime) -> bool:
    """A `key=value` word sets that filter; False for a word to search for."""
    key, sign, value = word.partition("=")
    if not sign or not key or not value or not _KEY.fullmatch(key):
        return False
    if key in ("service", "level"):
        setattr(f, key, value)
    elif key in ("since", "until"):
        setattr(f, key, parse_when(value, now))
    else:
        f.attributes[key] = value
    return True


def check_pattern(store: Store, pattern: str) -> None:
    """FilterError with RE2's own words when `pattern` does not compile."""
    import duckdb

    try:
        store.query("SELECT regexp_matches('', ?)", [pattern])
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
        raise FilterError(f"bad regular expression {pattern!r}: {reason}") from None


def logs_window(
    store: Store, filters: LogFilter, *, offset: int = 0, limit: int = 100, newest_first: bool = True
) -> list[tuple[Any, ...]]:
    """One window of log lines (ts, level, service, message, origin, line_offset): only the
    rows on screen are fetched."""
    where, params = filters.where()
    return store.query(
        f"""
        SELECT ts, level, service, message, origin, line_offset FROM logs WHERE {where}
        ORDER BY {_NEWEST if newest_first else _OLDEST} LIMIT {int(limit)} OFFSET {int(offset)}
    """,
        params,
    )[1]


def logs_count(store: Store, filters: LogFilter) -> int:
    """How many lines the filter matches: the same filter as the window's."""
    where, params = filters.where()
    return int(store.query(f"SELECT count(*) FROM logs WHERE {where}", params)[1][0][0])


@dataclass(frozen=True)
class Landing:
    """Where a view opened at a time lands: its first line then, and how many are newer."""

    ts: datetime
    origin: str
    line_offset: int
    newer: int  # lines matching the filter after it: its row, newest first


def landing(store: Store, filters: LogFilter, at: datetime) -> Landing | None:
    """The first line at or after `at` that matches, or None when there is none."""
    where, params = filters.where()
    first = store.query(
        f"SELECT ts, origin, line_offset FROM logs WHERE {where} AND ts >= ? ORDER BY {_OLDEST} LIMIT 1",
        [*params, at],
    )[1]
    if not first:
        return None
    ts, origin, line_offset = first[0]
    newer = store.query(
        f"SELECT count(*) FROM logs WHERE {where} AND ts >= ? AND (ts, origin, line_offset) > (?, ?, ?)",
        [*params, ts, ts, origin, line_offset],
    )[1][0][0]
    return Landing(ts, origin, int(line_offset), int(newer))


def log_line(store: Store, ts: datetime | None, origin: str, line_offset: int) -> dict[str, Any] | None:
    """Every stored field of one line (attributes decoded), or None if it is gone."""
    rows = store.query(
        f"""SELECT {", ".join(ALL_FIELDS)} FROM logs
            WHERE ts IS NOT DISTINCT FROM ? AND origin = ? AND line_offset = ? LIMIT 1""",
        [ts, origin, line_offset],
    )[1]
    return line_record(rows[0]) if rows else None


def line_record(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of ALL_FIELDS (or LINE_FIELDS) as a dict, its attributes JSON decoded."""
    record = dict(zip(ALL_FIELDS, row, strict=False))
    attributes = record.get("attributes")
    if isinstance(attributes, str):
        with contextlib.suppress(ValueError):  # not JSON: kept as the text it is
            record["attributes"] = json.loads(attributes)
    return record
