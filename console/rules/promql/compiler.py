"""PromQL's AST (from `promql-parser`) compiled to DuckDB SQL over the store, evaluated on a grid.

Every node becomes one CTE over the grid's steps `t` (epoch ms):
- an instant vector: (t, labels, v), labels a sorted list of (k, v) structs, `__name__` included;
- a scalar: (t, v), one row per step;
- a range vector: (t, te, labels, ms, v), the samples in each step's window, `te` its end.
Series are chosen in Python by their label matchers (a few thousand rows at most); samples are
only ever read, filtered and combined in SQL.  Semantics are Prometheus 2.x by default: closed
`[t − w, t]` windows, the 5-minute lookback, stale markers (a NULL value) end a series.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import promql_parser as pp

from console.rules.matchers import Matcher
from console.rules.promql import aggregations, binary, functions
from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError
from console.rules.promql.nodes import Grid, Options, Rel, ms_of

if TYPE_CHECKING:
    import duckdb

_OPS = {
    int(pp.MatchOp.Equal): "=",
    int(pp.MatchOp.NotEqual): "!=",
    int(pp.MatchOp.Re): "=~",
    int(pp.MatchOp.NotRe): "!~",
}


class Compiler:
    """Compiles one query; `tables` are the Arrow tables to register, `sql()` the final query."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, top: Grid, options: Options) -> None:
        self.cur = cur
        self.top = top
        self.options = options
        self.ctes: list[tuple[str, str]] = []
        self.tables: dict[str, Any] = {}
        self.grids: dict[Grid, str] = {}
        self.checks: list[tuple[int, str]] = []  # (part, query giving an error text): answers not defined
        self.part = 0  # which expression of a batch is being compiled (`sql`)
        self._memo: dict[tuple[str, str, Grid], tuple[Rel, list[str]]] = {}
        self._scan_ids: set[int] = set()
        self._scan_span: tuple[int, int] | None = None
        self._series: dict[str | None, list[tuple[int, dict[str, str]]]] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def cte(self, sql: str) -> str:
        name = f"_q{len(self.ctes)}"
        self.ctes.append((name, sql))
        return name

    def grid(self, grid: Grid) -> str:
        if grid not in self.grids:
            self.grids[grid] = self.cte(grid.sql())
        return self.grids[grid]

    def empty_vector(self) -> Rel:
        return Rel(
            "vector",
            self.cte(f"SELECT NULL::BIGINT AS t, {q.NO_LABELS} AS labels, NULL::DOUBLE AS v WHERE false"),
        )

    def close(self) -> None:
        """Unregister the tables compiling registered on the cursor."""
        for name in self.tables:
            self.cur.unregister(name)

    def fetch(self, rel_name: str, order: str) -> Any:
        """The rows of one compiled relation now, as an Arrow table (for the steps SQL cannot take)."""
        return self.cur.sql(
            f"WITH {self._with()}\nSELECT * FROM {rel_name} ORDER BY {order}"
        ).to_arrow_table()

    def register(self, prefix: str, table: Any) -> str:
        name = f"_{prefix}{len(self.tables)}"
        self.tables[name] = table
        self.cur.register(name, table)
        return name

    def check(self, sql: str) -> None:
        """A query whose rows (column `err`) are errors: any row fails its expression's evaluation."""
        self.checks.append((self.part, sql))

    def _with(self) -> str:
        ctes = list(self.ctes)
        if self._scan_span is not None:  # every selector's samples, read once
            import pyarrow as pa

            ids = self.register("ids", pa.table({"sid": pa.array(sorted(self._scan_ids), pa.int64())}))
            lo, hi = self._scan_span
            ctes.insert(
                0,
                (
                    "_scan",
                    "SELECT series_id, epoch_ms(ts) AS ms, value FROM samples "
                    f"WHERE series_id IN (SELECT sid FROM {ids}) "
                    f"AND ts >= make_timestamp({lo}::BIGINT * 1000) AND ts <= make_timestamp({hi}::BIGINT * 1000)",
                ),
            )
        return ",\n".join(
            f"{name} AS {'MATERIALIZED ' if name == '_scan' else ''}({body})" for name, body in ctes
        )

    def sql(self, rels: list[Rel | None]) -> str:
        """One query for several expressions: (part, t, labels, v, err, ord) per row; rows with
        `err` are failed checks, the lowest `ord` of a part the one Prometheus would report."""
        parts = []
        for i, rel in enumerate(rels):
            if rel is None:
                continue
            cols = "t, NULL AS labels, v" if rel.kind == "scalar" else "t, labels, v"
            parts.append(
                f"SELECT {i} AS part, {cols}, NULL::VARCHAR AS err, NULL::INTEGER AS ord FROM {rel.name}"
            )
        owners: dict[str, list[int]] = {}  # each distinct check runs once, for every part it guards
        for i, sql in self.checks:
            if i not in owners.setdefault(sql, []):
                owners[sql].append(i)
        for n, (sql, ids) in enumerate(owners.items()):
            parts.append(
                f"(SELECT unnest({ids}), NULL, NULL, NULL, err, {n} FROM (SELECT err FROM ({sql}) LIMIT 1))"
            )
        return f"WITH {self._with()}\n" + "\nUNION ALL ".join(parts)

    # -- dispatch ------------------------------------------------------------------------------

    def compile(self, node: Any, grid: Grid) -> Rel:
        """The relation of `node` on `grid`; the same subexpression on the same grid is compiled once."""
        key = (type(node).__name__, str(node), grid)
        if key in self._memo:
            rel, checks = self._memo[key]
            self.checks += [(self.part, sql) for sql in checks]  # its checks hold for this part too
            return rel
        before = len(self.checks)
        rel = self._compile(node, grid)
        self._memo[key] = (rel, [sql for _, sql in self.checks[before:]])
        return rel

    def _compile(self, node: Any, grid: Grid) -> Rel:
        kind = type(node).__name__
        if kind == "ParenExpr":
            return self.compile(node.expr, grid)
        if kind == "NumberLiteral":
            return self.number(float(node.val), grid)
        if kind == "StringLiteral":
            return Rel("string", text=node.val)
        if kind == "VectorSelector":
            return self.vector_selector(node, grid)
        if kind == "MatrixSelector":
            return self.matrix_selector(node, grid)
        if kind == "SubqueryExpr":
            return self.subquery(node, grid)
        if kind == "UnaryExpr":
            return self.negate(self.compile(node.expr, grid))
        if kind == "BinaryExpr":
            return self.binary(node, grid)
        if kind == "Call":
            return functions.call(self, node, grid)
        if kind == "AggregateExpr":
            return aggregations.aggregate(self, node, grid)
        raise PromQLError(f"{kind} is not supported", str(node))

    def number(self, value: float, grid: Grid) -> Rel:
        return Rel(
            "scalar", self.cte(f"SELECT t, {q.num(value)} AS v FROM {self.grid(grid)}"), constant=value
        )

    def negate(self, rel: Rel) -> Rel:
        if rel.kind == "scalar":
            constant = -rel.constant if rel.constant is not None else None
            return Rel("scalar", self.cte(f"SELECT t, -v AS v FROM {rel.name}"), constant=constant)
        return Rel(
            "vector", self.cte(f"SELECT t, {q.drop_name('labels')} AS labels, -v AS v FROM {rel.name}")
        )

    # -- selectors -----------------------------------------------------------------------------

    def _matched(self, node: Any) -> list[tuple[int, list[dict[str, str]]]]:
        if node.matchers.or_matchers:
            raise PromQLError("`or` inside a selector's braces is not supported", str(node))
        matchers = [Matcher(m.name, m.value, _OPS[int(m.op)]) for m in node.matchers.matchers]
        name = node.name or next((m.value for m in matchers if m.name == q.NAME and m.op == "="), None)
        if name not in self._series:
            if name is None:
                rows = self.cur.execute("SELECT id, name, labels FROM series").fetchall()
            else:
                rows = self.cur.execute(
                    "SELECT id, name, labels FROM series WHERE name = ?", [name]
                ).fetchall()
            self._series[name] = [(sid, {q.NAME: n, **json.loads(labels)}) for sid, n, labels in rows]
        if node.name:
            matchers.append(Matcher(q.NAME, node.name, "="))
        found = []
        for sid, labels in self._series[name]:
            present = {k: v for k, v in labels.items() if v != ""}
            if all(m.matches(present) for m in matchers):
                found.append((sid, [{"k": k, "v": v} for k, v in sorted(present.items())]))
        return found

    def _register(self, matched: list[tuple[int, list[dict[str, str]]]]) -> str:
        import pyarrow as pa

        kv = pa.list_(pa.struct([("k", pa.string()), ("v", pa.string())]))
        table = pa.table(
            {
                "sid": pa.array([m[0] for m in matched], pa.int64()),
                "labels": pa.array([m[1] for m in matched], kv),
            }
        )
        return self.register("sel", table)

    def _eval_time(self, node: Any, column: str = "t") -> str:
        """The time a selector (or subquery) reads at, per step: its `@` (or the step) minus its offset."""
        at = node.at
        if at is None:
            base = column
        elif at.type == pp.AtModifierType.Start:
            base = str(self.top.start)
        elif at.type == pp.AtModifierType.End:
            base = str(self.top.end)
        else:
            base = str(round(at.at.timestamp() * 1000))
        offset = ms_of(node.offset)
        return f"({base} - {offset})" if offset else base

    def _time_span(self, node: Any, grid: Grid, back_ms: int) -> tuple[int, int]:
        """The earliest and latest sample time a selector can read on `grid`."""
        at = node.at
        offset = ms_of(node.offset)
        if at is None:
            lo, hi = grid.start, grid.end
        elif at.type == pp.AtModifierType.Start:
            lo = hi = self.top.start
        elif at.type == pp.AtModifierType.End:
            lo = hi = self.top.end
        else:
            lo = hi = round(at.at.timestamp() * 1000)
        return lo - offset - back_ms, hi - offset

    def _samples(self, table: str, span: tuple[int, int], matched: list[Any]) -> str:
        """The selector's samples in `span` (epoch ms), from the shared scan."""
        self._scan_ids.update(sid for sid, _ in matched)
        lo, hi = span
        if self._scan_span is not None:
            lo, hi = min(lo, self._scan_span[0]), max(hi, self._scan_span[1])
        self._scan_span = (lo, hi)
        return (
            f"SELECT series_id, ms, value FROM _scan WHERE series_id IN (SELECT sid FROM {table}) "
            f"AND ms >= {span[0]} AND ms <= {span[1]}"
        )

    def vector_selector(self, node: Any, grid: Grid) -> Rel:
        matched = self._matched(node)
        if not matched:
            return self.empty_vector()
        table = self._register(matched)
        lookback = self.options.lookback_ms
        edge = self.options.windows.after_start
        samples = self._samples(table, self._time_span(node, grid, lookback), matched)
        return Rel(
            "vector",
            self.cte(
                f"SELECT g.t, g.labels, x.value AS v FROM "
                f"(SELECT s.t, {self._eval_time(node, 's.t')} AS te, m.sid, m.labels "
                f"FROM {self.grid(grid)} s CROSS JOIN {table} m) g "
                f"ASOF JOIN ({samples}) x ON x.series_id = g.sid AND x.ms <= g.te "
                f"WHERE x.ms {edge} g.te - {lookback} AND x.value IS NOT NULL"
            ),
        )

    def matrix_selector(self, node: Any, grid: Grid) -> Rel:
        vs = node.vector_selector
        range_ms = ms_of(node.range)
        matched = self._matched(vs)
        if not matched:
            return Rel(
                "matrix",
                self.cte(
                    f"SELECT NULL::BIGINT AS t, NULL::BIGINT AS te, {q.NO_LABELS} AS labels, "
                    "NULL::BIGINT AS ms, NULL::DOUBLE AS v WHERE false"
                ),
                range_ms=range_ms,
            )
        table = self._register(matched)
        edge = self.options.windows.after_start
        samples = self._samples(table, self._time_span(vs, grid, range_ms), matched)
        return Rel(
            "matrix",
            self.cte(
                f"SELECT s.t, s.te, m.labels, x.ms, x.value AS v FROM "
                f"(SELECT t, {self._eval_time(vs, 't')} AS te FROM {self.grid(grid)}) s "
                f"JOIN ({samples}) x ON x.ms <= s.te AND x.ms {edge} s.te - {range_ms} "
                f"JOIN {table} m ON m.sid = x.series_id WHERE x.value IS NOT NULL"
            ),
            range_ms=range_ms,
        )

    def subquery(self, node: Any, grid: Grid) -> Rel:
        """`expr[range:step]`: `expr` on a grid aligned to multiples of step, windowed per step."""
        range_ms = ms_of(node.range)
        step = ms_of(node.step) or self.options.default_step_ms
        lo, hi = self._time_span(node, grid, range_ms)
        start = step * (lo // step)
        if start < lo:
            start += step
        inner = self.compile(node.expr, Grid(start, hi, step))
        if inner.kind != "vector":
            raise PromQLError("a subquery needs an instant vector inside", str(node))
        edge = self.options.windows.after_start
        return Rel(
            "matrix",
            self.cte(
                f"SELECT s.t, s.te, i.labels, i.t AS ms, i.v FROM "
                f"(SELECT t, {self._eval_time(node, 't')} AS te FROM {self.grid(grid)}) s "
                f"JOIN {inner.name} i ON i.t <= s.te AND i.t {edge} s.te - {range_ms}"
            ),
            range_ms=range_ms,
        )

    # -- binary operators ----------------------------------------------------------------------

    def binary(self, node: Any, grid: Grid) -> Rel:
        return binary.binary(self, node, grid)
