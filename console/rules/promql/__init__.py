"""PromQL on the store: parse with `promql-parser`, compile to DuckDB SQL, evaluate at one
instant (rules) or over a range (`query_range`, charts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import promql_parser as pp

from console.rules.promql import shapes
from console.rules.promql.checking import check
from console.rules.promql.compiler import Compiler
from console.rules.promql.errors import PromQLError, PromQLEvalError
from console.rules.promql.nodes import Grid, Options, PromQL, Rel
from console.rules.promql.selectors import Series

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Options",
    "PromQL",
    "PromQLError",
    "PromQLEvalError",
    "instant",
    "looks_like_sql",
    "parse",
    "query_range",
]

_SQL_START = re.compile(r"^\s*(?:--[^\n]*\n\s*)*\(*\s*(select|with|from|values)\b", re.IGNORECASE)


def looks_like_sql(text: str) -> bool:
    """Whether a rule's `expr` is DuckDB SQL (a query, or a Jinja template of one) rather than PromQL."""
    return "{{" in text or "{%" in text or bool(_SQL_START.match(text))


def parse(text: str) -> PromQL:
    """The expression, checked to compile; PromQLError names what is wrong and where."""
    try:
        ast = pp.parse(text)
    except ValueError as exc:
        raise PromQLError(f"PromQL parse error: {exc}") from None
    expr = PromQL(text, ast)
    try:
        check(expr)
    except PromQLError as exc:
        raise exc.located(text) from None
    return expr


def _ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def run(
    cur: duckdb.DuckDBPyConnection, expr: PromQL, grid: Grid, options: Options
) -> tuple[str, list[tuple[int, list[dict[str, str]] | None, float]]]:
    """(kind, rows of (t, labels, value)) of `expr` on `grid`."""
    compiler = Compiler(cur, grid, options)
    try:
        rel = compiler.compile(expr.ast, grid)
        if rel.kind not in ("vector", "scalar"):
            raise PromQLEvalError(
                f"the expression gives a {rel.kind}; a rule or query needs an instant vector or a scalar"
            )
        rows = cur.execute(compiler.sql([(0, rel)])).fetchall()
    finally:
        compiler.close()
    errors = _errors(rows)
    if errors:
        raise errors[0]
    return rel.kind, [row[1:4] for row in rows]


def _errors(rows: list[tuple[Any, ...]]) -> dict[int, PromQLEvalError]:
    """Per part, the failed check that comes first."""
    first: dict[int, tuple[int, str]] = {}
    for part, _, _, _, err, order in rows:
        if err is not None and (part not in first or order < first[part][0]):
            first[part] = (order, err)
    return {part: PromQLEvalError(err) for part, (_, err) in first.items()}


@dataclass
class Sample:
    labels: dict[str, str]
    value: float


def _labels(entries: list[dict[str, str]] | None) -> dict[str, str]:
    return {e["k"]: e["v"] for e in entries or [] if e["v"] != ""}


def instant(
    cur: duckdb.DuckDBPyConnection, expr: PromQL, now: datetime, options: Options | None = None
) -> tuple[str, list[Sample]]:
    """The expression at `now`: ("vector" | "scalar", samples)."""
    t = _ms(now)
    kind, rows = run(cur, expr, Grid(t, t, 1), options or Options())
    return kind, [Sample(_labels(labels), value) for _, labels, value in rows]


Part = int | tuple[int, ...]  # one expression of a batch, or a shape's (their indexes)


def instant_many(
    cur: duckdb.DuckDBPyConnection,
    exprs: list[PromQL],
    now: datetime,
    options: Options | None = None,
    shaped: bool = True,
    series: Series | None = None,
) -> list[tuple[str, list[Sample]] | PromQLError | PromQLEvalError]:
    """Several expressions at `now` in one query: shared selectors are read once, and expressions
    of one shape (see `shapes`) are compiled once, their values as data.  Each gets its
    (kind, samples), or the error that is its own (a refused matching, a range result).
    `series`: the store's series as a previous cycle read them (see `Series.refreshed`)."""
    t = _ms(now)
    options = options or Options()
    compiler = Compiler(cur, Grid(t, t, 1), options, series)
    out: list[Any] = [None] * len(exprs)
    grouped, slots = shapes.groups(exprs) if shaped else ([], {})
    try:
        rels = _compile_batch(compiler, exprs, grouped, slots, t, out)
        rows = cur.execute(compiler.sql(rels)).fetchall()
    finally:
        compiler.close()
    errors = _errors(rows)
    kinds = {one: rel.kind for i, rel in rels for one in _members(i)}
    found: dict[int, list[Sample]] = {i: [] for i in kinds}
    for part, _, labels, value, err, _ in rows:
        if err is None and part in found:
            found[part].append(Sample(_labels(labels), value))
    for i, samples in found.items():
        out[i] = errors.get(i) or (kinds[i], samples)
    failed = [one for i, _ in rels if isinstance(i, tuple) for one in i if one in errors]
    if failed:  # a shape's check failed: which of its parts it fails, each tells on its own
        again = instant_many(cur, [exprs[i] for i in failed], now, options, shaped=False, series=series)
        for i, answer in zip(failed, again, strict=True):
            out[i] = answer
    return out


def _members(part: Part) -> tuple[int, ...]:
    return part if isinstance(part, tuple) else (part,)


def _compile_batch(
    compiler: Compiler,
    exprs: list[PromQL],
    grouped: list[list[int]],
    slots: dict[int, shapes.Slots],
    t: int,
    out: list[Any],
) -> list[tuple[Part, Rel]]:
    """Each shape's relation and each other expression's; compile errors go to `out`."""
    rels: list[tuple[Part, Rel]] = []
    alone = set(range(len(exprs))) - {i for members in grouped for i in members}
    for members in grouped:
        compiler.part = tuple(members)
        compiler.slot_of.update((i, slots[i]) for i in members)
        checks = len(compiler.checks)
        try:
            rels.append(
                (tuple(members), compiler.compile(exprs[members[0]].ast, Grid(t, t, 1, tuple(members))))
            )
        except PromQLError:
            del compiler.checks[checks:]  # what the shape's compiling checked is not run
            alone.update(members)  # each gets its own error
    for i in sorted(alone):
        compiler.part = i
        try:
            rels.append((i, compiler.compile(exprs[i].ast, Grid(t, t, 1))))
        except PromQLError as exc:
            out[i] = exc
    for part, rel in rels:
        if rel.kind not in ("vector", "scalar"):
            for one in _members(part):
                out[one] = PromQLEvalError(f"the expression gives a {rel.kind}")
    return [(part, rel) for part, rel in rels if rel.kind in ("vector", "scalar")]


def query_range(
    cur: duckdb.DuckDBPyConnection,
    expr: PromQL,
    start: datetime,
    end: datetime,
    step: timedelta,
    options: Options | None = None,
) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    """As Prometheus's /api/v1/query_range: per label set, (epoch seconds, value) in time order."""
    step_ms = int(step.total_seconds() * 1000)
    _kind, rows = run(cur, expr, Grid(_ms(start), _ms(end), step_ms), options or Options())
    out: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for t, labels, value in rows:
        key = tuple(sorted(_labels(labels).items()))
        out.setdefault(key, []).append((t / 1000.0, value))
    for points in out.values():
        points.sort()
    return out
