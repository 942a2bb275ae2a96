"""Prometheus series selectors (`name{a="x", b!="y", c=~"re", d!~"re"}`) turned into SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OP = re.compile(r"=~|!~|!=|=")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_AGG = re.compile(
    r"^\s*sum\s*(?:(?:by)\s*\(([^)]*)\))?\s*\((.*?)\)\s*"
    r"(?:by\s*\(([^)]*)\))?\s*$",
    re.S,
)


class SelectorError(ValueError):
    """A selector that does not parse; the message says where and why."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher: `name op "value"`."""

    label: str
    op: str
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """A parsed series selector: an optional metric name and label matchers."""

    name: str | None
    matchers: tuple[Matcher, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        inner = ", ".join(str(m) for m in self.matchers)
        return f"{self.name or ''}{{{inner}}}" if inner or not self.name else self.name

    def with_matcher(self, label: str, op: str, value: str) -> Selector:
        """A copy with one more matcher."""
        return Selector(self.name, (*self.matchers, Matcher(label, op, value)))


def _read_string(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos]
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            nxt = text[pos + 1]
            if nxt not in _ESCAPES:
                raise SelectorError(f"unknown escape \\{nxt} at column {pos + 1}")
            out.append(_ESCAPES[nxt])
            pos += 2
            continue
        if char == quote:
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise SelectorError(f"unterminated string starting at column {pos + 1}")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def parse_selector(text: str) -> Selector:
    """Parse `name{label op "value", ...}`; raise SelectorError saying what is wrong.

    Remembered by text (a selector is immutable): a thousand SLOs repeat a few selectors, and
    each is parsed when its file is validated and again when its series are selected."""
    return _parse_selector(str(text))


@lru_cache(maxsize=4096)
def _parse_selector(raw: str) -> Selector:
    name, pos = _read_name(raw, _skip_space(raw, 0))
    pos = _skip_space(raw, pos)
    matchers: list[Matcher] = []
    if pos < len(raw) and raw[pos] == "{":
        name, pos = _read_braces(raw, pos, name, matchers)
    if pos != len(raw):
        raise SelectorError(f"unexpected {raw[pos : pos + 20]!r} at column {pos + 1} of {raw!r}")
    if name is None and not any(_narrows(m) for m in matchers):
        raise SelectorError(f"{raw!r} needs a metric name or a matcher that does not match the empty string")
    return Selector(name, tuple(matchers))


def _read_name(raw: str, pos: int) -> tuple[str | None, int]:
    """The metric name at `pos` (None if the selector starts with its braces) and the position after it."""
    match = _NAME.match(raw, pos)
    return (match[0], match.end()) if match else (None, pos)


def _narrows(matcher: Matcher) -> bool:
    """A matcher that cannot select every series: positive, and not matching the empty value."""
    return matcher.op in ("=", "=~") and not _matches_empty(matcher)


def _read_braces(raw: str, pos: int, name: str | None, matchers: list[Matcher]) -> tuple[str | None, int]:
    """Read `{...}` at `pos` into `matchers`; the metric name (`__name__="x"` may give it) and
    the position after the braces."""
    pos = _skip_space(raw, pos + 1)
    while pos < len(raw) and raw[pos] != "}":
        label, op, value, pos = _read_matcher(raw, pos)
        if label == "__name__" and op == "=":
            name = _metric_name(raw, name, value)
        else:
            matchers.append(Matcher(label, op, value))
        pos = _skip_separator(raw, pos)
    if pos >= len(raw):
        raise SelectorError(f"missing }} in {raw!r}")
    return name, _skip_space(raw, pos + 1)


def _metric_name(raw: str, name: str | None, value: str) -> str:
    if name is not None and name != value:
        raise SelectorError(f"metric name given twice in {raw!r}")
    return value


def _skip_separator(raw: str, pos: int) -> int:
    """Past the `,` after a matcher; at the closing brace (or the end) if there is none."""
    pos = _skip_space(raw, pos)
    if pos < len(raw) and raw[pos] == ",":
        return _skip_space(raw, pos + 1)
    if pos < len(raw) and raw[pos] != "}":
        raise SelectorError(f"expected , or }} at column {pos + 1} of {raw!r}")
    return pos


def _read_matcher(raw: str, pos: int) -> tuple[str, str, str, int]:
    """`label op "value"` at `pos`: label, op, value and the position after it."""
    label = _LABEL.match(raw, pos)
    if not label:
        raise SelectorError(f"expected a label name at column {pos + 1} of {raw!r}")
    pos = _skip_space(raw, label.end())
    op = _OP.match(raw, pos)
    if not op:
        raise SelectorError(f"expected =, !=, =~ or !~ at column {pos + 1} of {raw!r}")
    value, pos = _read_value(raw, _skip_space(raw, op.end()))
    if op[0] in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise SelectorError(f"bad regular expression {value!r}: {exc}") from None
    return label[0], op[0], value, pos


def _read_value(raw: str, pos: int) -> tuple[str, int]:
    """A quoted value at `pos` (backquotes take no escapes) and the position after it."""
    if pos >= len(raw) or raw[pos] not in "\"'`":
        raise SelectorError(f"expected a quoted value at column {pos + 1} of {raw!r}")
    if raw[pos] != "`":
        return _read_string(raw, pos)
    end = raw.find("`", pos + 1)
    if end < 0:
        raise SelectorError(f"unterminated string at column {pos + 1} of {raw!r}")
    return raw[pos + 1 : end], end + 1


def _matches_empty(matcher: Matcher) -> bool:
    if matcher.op == "=":
        return matcher.value == ""
    return re.fullmatch(matcher.value, "") is not None


def parse_sum_by(text: str) -> tuple[Selector, tuple[str, ...]]:
    """`sum by (a, b) (sel)` or a bare selector into (selector, by labels)."""
    match = _AGG.match(text)
    if not match:
        return parse_selector(text), ()
    by = _by_labels(match[1] if match[1] is not None else (match[3] or ""))
    for label in by:
        if not _LABEL.fullmatch(label):
            raise SelectorError(f"bad label name {label!r} in by (...)")
    return parse_selector(match[2]), by


def _by_labels(by_text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in by_text.split(",") if part.strip())


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def label_sql(label: str, column: str = "labels") -> str:
    """SQL for one label's value of a series, '' when absent (as Prometheus)."""
    if not _LABEL.fullmatch(label):
        raise SelectorError(f"bad label name {label!r}")
    return f"coalesce(json_extract_string({column}, '$.\"{label}\"'), '')"


def where_sql(selector: Selector, name_column: str = "name", labels_column: str = "labels") -> str:
    """A SQL condition on the series table that holds for the selector's series."""
    parts: list[str] = []
    if selector.name is not None:
        parts.append(f"{name_column} = {_sql_string(selector.name)}")
    parts += [_matcher_sql(m, labels_column) for m in selector.matchers]
    return " AND ".join(parts) or "true"


def _matcher_sql(m: Matcher, labels_column: str) -> str:
    value = label_sql(m.label, labels_column)
    if m.op == "=":
        return f"{value} = {_sql_string(m.value)}"
    if m.op == "!=":
        return f"{value} <> {_sql_string(m.value)}"
    if m.op == "=~":
        return f"regexp_full_match({value}, {_sql_string(m.value)})"
    return f"NOT regexp_full_match({value}, {_sql_string(m.value)})"


def group_sql(by: tuple[str, ...] | list[str], labels_column: str = "labels") -> str:
    """SQL for the `sum by (...)` group key of a series: canonical JSON of the by labels."""
    if not by:
        return "'{}'"
    pieces = ", ".join(
        f"{_sql_string(label)}, {label_sql(label, labels_column)}" for label in sorted(set(by))
    )
    return f"CAST(json_object({pieces}) AS VARCHAR)"


def series_sql(selector: Selector, by: tuple[str, ...] | list[str] = ()) -> str:
    """SELECT id, grp FROM series for the selector's series, grp the by-label key."""
    return f"SELECT id, {group_sql(by)} AS grp FROM series WHERE {where_sql(selector)}"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S)


def matches(selector: Selector, name: str, labels: dict[str, str]) -> bool:
    """Whether a series (name, labels) is selected; regexes are anchored as in Prometheus."""
    if selector.name is not None and name != selector.name:
        return False
    return all(_holds(m, labels.get(m.label, "")) for m in selector.matchers)


def _holds(m: Matcher, value: str) -> bool:
    """Whether one label's value satisfies one matcher."""
    if m.op == "=":
        return value == m.value
    if m.op == "!=":
        return value != m.value
    found = _compiled(m.value).fullmatch(value) is not None
    return found if m.op == "=~" else not found
