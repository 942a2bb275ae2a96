"""SQL fragments the PromQL compiler builds on: label sets as sorted lists of (k, v) structs,
Go's float semantics (NaN never compares equal), and literals."""

from __future__ import annotations

import math
import re

LABELS = "STRUCT(k VARCHAR, v VARCHAR)[]"
NO_LABELS = f"[]::{LABELS}"
NAME = "__name__"
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def s(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def num(value: float) -> str:
    """A DOUBLE literal, NaN and infinities included."""
    if math.isnan(value):
        return "'nan'::DOUBLE"
    if math.isinf(value):
        return "'inf'::DOUBLE" if value > 0 else "'-inf'::DOUBLE"
    return f"{float(value)!r}::DOUBLE"


def str_list(names: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(s(n) for n in names) + "]::VARCHAR[]"


def keep(labels: str, names: list[str] | tuple[str, ...]) -> str:
    """Only the labels named."""
    return f"list_filter({labels}, lambda e: list_contains({str_list(names)}, e.k))"


def drop(labels: str, names: list[str] | tuple[str, ...]) -> str:
    """The labels without those named."""
    if not names:
        return labels
    return f"list_filter({labels}, lambda e: NOT list_contains({str_list(names)}, e.k))"


def drop_name(labels: str) -> str:
    return drop(labels, [NAME])


def get(labels: str, name: str) -> str:
    """One label's value, '' when absent (Prometheus: a missing label is empty)."""
    return f"coalesce(list_filter({labels}, lambda e: e.k = {s(name)})[1].v, '')"


def put(labels: str, name: str, value: str) -> str:
    """The labels with `name` set to the SQL expression `value` (removed when it is empty)."""
    return (
        f"list_sort(list_filter({labels}, lambda e: e.k <> {s(name)}) || "
        f"CASE WHEN ({value}) = '' THEN {NO_LABELS} "
        f"ELSE [{{'k': {s(name)}, 'v': ({value})}}]::{LABELS} END)"
    )


def signature(labels: str, on: bool, names: list[str] | tuple[str, ...]) -> str:
    """The label set two sides of a binary operation are matched on."""
    if on:
        return keep(labels, names)
    return drop(labels, [NAME, *names])


# Go compares NaN unequal to everything; DuckDB orders NaN above every number and equal to itself.
_CMP = {
    "==": "({l} = {r} AND NOT isnan({l}))",
    "!=": "({l} <> {r} OR isnan({l}))",
    ">": "({l} > {r} AND NOT isnan({l}) AND NOT isnan({r}))",
    "<": "({l} < {r} AND NOT isnan({l}) AND NOT isnan({r}))",
    ">=": "({l} >= {r} AND NOT isnan({l}) AND NOT isnan({r}))",
    "<=": "({l} <= {r} AND NOT isnan({l}) AND NOT isnan({r}))",
}
_ARITH = {
    "+": "({l} + {r})",
    "-": "({l} - {r})",
    "*": "({l} * {r})",
    "/": "({l} / {r})",
    "%": "({l} % {r})",
    "^": "pow({l}, {r})",
    "atan2": "atan2({l}, {r})",
}
COMPARISONS = frozenset(_CMP)
ARITHMETIC = frozenset(_ARITH)
SET_OPS = frozenset({"and", "or", "unless"})


def compare(op: str, left: str, right: str) -> str:
    return _CMP[op].format(l=left, r=right)


def arith(op: str, left: str, right: str) -> str:
    return _ARITH[op].format(l=left, r=right)


def nan_max(column: str) -> str:
    """max() as Prometheus: NaN only when every value is NaN."""
    return f"coalesce(max({column}) FILTER (WHERE NOT isnan({column})), max({column}))"


def go_float(column: str) -> str:
    """A float as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it for the common cases."""
    return (
        f"CASE WHEN isnan({column}) THEN 'NaN' WHEN {column} = 'inf'::DOUBLE THEN '+Inf' "
        f"WHEN {column} = '-inf'::DOUBLE THEN '-Inf' "
        f"WHEN {column} = trunc({column}) AND abs({column}) < 1e15 THEN ({column})::BIGINT::VARCHAR "
        f"ELSE ({column})::VARCHAR END"
    )


def text(labels: str) -> str:
    """A label set as Prometheus prints it: {a="1", b="2"}."""
    return f"'{{' || array_to_string(list_transform({labels}, lambda e: e.k || '=\"' || e.v || '\"'), ', ') || '}}'"
