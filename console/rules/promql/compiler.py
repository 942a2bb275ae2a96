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

import re
from typing import TYPE_CHECKING, Any

import promql_parser as pp

from console.rules.promql import aggregations, binary, functions, selectors, shapes
from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError
from console.rules.promql.nodes import Grid, Options, Rel, ms_of
from console.rules.promql.shapes import Slots

if TYPE_CHECKING:
    import duckdb


_NAMES = re.compile(r"\b_q\d+\b")


class Compiler:
    """Compiles one query; `tables` are the Arrow tables to register, `sql()` the final query."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        top: Grid,
        options: Options,
        series: selectors.Series | None = None,
    ) -> None:
        self.cur = cur
        self.top = top
        self.options = options
        self.ctes: list[tuple[str, str]] = []
        self.tables: dict[str, Any] = {}
        self.grids: dict[Grid, str] = {}
        # (part, query giving an error text): where the answers are not defined
        self.checks: list[tuple[int | tuple[int, ...], str]] = []
        self.part: int | tuple[int, ...] = 0  # which expression (or shape's) of a batch is compiled
        self._memo: dict[tuple[str, str, Grid], tuple[Rel, list[str]]] = {}
        self._scan_ids: set[int] = set()
        self._scan_span: tuple[int, int] | None = None
        self.series = series or selectors.Series()
        self.slot_of: dict[int, Slots] = {}  # each shaped expression's values, by its index

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
            f"WITH {self._with(rel_name)}\nSELECT * FROM {rel_name} ORDER BY {order}"
        ).to_arrow_table()

    def register(self, prefix: str, table: Any) -> str:
        name = f"_{prefix}{len(self.tables)}"
        self.tables[name] = table
        self.cur.register(name, table)
        return name

    def check(self, sql: str) -> None:
        """A query whose rows (column `err`) are errors: any row fails its expression's evaluation."""
        self.checks.append((self.part, sql))

    def _with(self, query: str) -> str:
        """The CTEs `query` reads, directly or through others (a number inlined where it is
        compared leaves its own CTE unread: it is not planned)."""
        needed = set(_NAMES.findall(query))
        for name, body in reversed(self.ctes):
            if name in needed:
                needed.update(_NAMES.findall(body))
        ctes = [(name, body) for name, body in self.ctes if name in needed]
        if self._scan_span is not None:  # every selector's samples, read once
            from console.core import arrays

            ids = self.register("ids", arrays.table({"sid": arrays.int64s(sorted(self._scan_ids))}))
            lo, hi = self._scan_span
            ctes.insert(
                0,
                (
                    "_scan",
                    # each sample with the series' sample before it (stale markers skipped): the
                    # pairs counter resets, changes and irate read, found once for every window
                    "SELECT series_id, epoch_ms(ts) AS ms, value, lag(value IGNORE NULLS) OVER w AS pv, "
                    "lag(CASE WHEN value IS NOT NULL THEN epoch_ms(ts) END IGNORE NULLS) OVER w AS pms "
                    f"FROM samples WHERE series_id IN (SELECT sid FROM {ids}) "
                    f"AND ts >= make_timestamp({lo}::BIGINT * 1000) AND ts <= make_timestamp({hi}::BIGINT * 1000) "
                    "WINDOW w AS (PARTITION BY series_id ORDER BY ts)",
                ),
            )
        return ",\n".join(
            f"{name} AS {'MATERIALIZED ' if name == '_scan' else ''}({body})" for name, body in ctes
        )

    def sql(self, rels: list[tuple[int | tuple[int, ...], Rel]]) -> str:
        """One query for several expressions, each relation that of one part or of a shape's parts
        (its rows keyed by their index in the tuple): (part, t, labels, v, err, ord) per row; rows
        with `err` are failed checks, the lowest `ord` of a part the one Prometheus would report."""
        parts = []
        for i, rel in rels:
            cols = "t, NULL AS labels, v" if rel.kind == "scalar" else "t, labels, v"
            part = f"{list(i)}[t + 1]" if isinstance(i, tuple) else str(i)
            parts.append(
                f"SELECT {part} AS part, {cols}, NULL::VARCHAR AS err, NULL::INTEGER AS ord FROM {rel.name}"
            )
        owners: dict[str, list[int]] = {}  # each distinct check runs once, for every part it guards
        for i, sql in self.checks:
            for one in i if isinstance(i, tuple) else (i,):
                if one not in owners.setdefault(sql, []):
                    owners[sql].append(one)
        for n, (sql, ids) in enumerate(owners.items()):
            parts.append(
                f"(SELECT unnest({ids}), NULL, NULL, NULL, err, {n} "
                f"FROM (SELECT min(err) AS err FROM ({sql})) WHERE err IS NOT NULL)"
            )
        body = "\nUNION ALL ".join(parts)
        return f"WITH {self._with(body)}\n{body}"

    # -- dispatch ------------------------------------------------------------------------------

    def compile(self, node: Any, grid: Grid) -> Rel:
        """The relation of `node` on `grid`; the same subexpression on the same grid is compiled once."""
        key = (type(node).__name__, str(node), grid)
        if key in self._memo:
            rel, checks = self._memo[key]
            self.checks += [(self.part, sql) for sql in checks]  # its checks hold for this part too
            return rel
        before = len(self.checks)
        rel = self._shared(node, grid) or self._compile(node, grid)
        self._memo[key] = (rel, [sql for _, sql in self.checks[before:]])
        return rel

    def functions(self, node: Any, grid: Grid) -> list[str] | None:
        """On a grid of parts, each part's own `*_over_time` function for this call."""
        if not grid.parts:
            return None
        parts = self._slots(grid)
        slot = parts[0].function_at[str(node)]
        return [slots.functions[slot] for slots in parts]

    def _slots(self, grid: Grid) -> list[Slots]:
        """The values of each part of a grid of parts, in its order (the first: the one compiled)."""
        return [self.slot_of[i] for i in grid.parts]

    def _shared(self, node: Any, grid: Grid) -> Rel | None:
        """On a grid of parts, a subexpression whose values repeat across parts (the same rule
        with another threshold, the same denominator) is computed once per variant, then given
        to each part that has it; None when every part's is its own."""
        if not grid.parts or type(node).__name__ not in ("Call", "AggregateExpr", "BinaryExpr"):
            return None
        parts = self._slots(grid)
        sel, rng, num, fns = shapes.uses(node, parts[0])
        first: dict[tuple[Any, ...], int] = {}
        index = []
        for slots in parts:
            sig = (
                tuple(str(slots.selectors[i]) for i in sel),
                tuple(slots.ranges[i] for i in rng),
                tuple(slots.numbers[i] for i in num),
                tuple(slots.functions[i] for i in fns),
            )
            index.append(first.setdefault(sig, len(first)))
        if len(first) == len(parts):
            return None
        reps = tuple(grid.parts[next(j for j, v in enumerate(index) if v == k)] for k in range(len(first)))
        rel = self.compile(node, Grid(grid.start, grid.end, grid.step, reps))
        if rel.kind not in ("vector", "scalar"):
            return self._compile(node, grid)
        spread = f"(SELECT range AS t, {index}[range + 1] AS vt FROM range({len(index)}))"
        labels = "x.labels, " if rel.kind == "vector" else ""
        return Rel(
            rel.kind,
            self.cte(f"SELECT p.t, {labels}x.v FROM {rel.name} x JOIN {spread} p ON p.vt = x.t"),
            unique=rel.unique,
        )

    def operand(self, node: Any, grid: Grid) -> Rel:
        """A binary operator's side: on a grid of parts, a number literal is each part's own."""
        if grid.parts and type(node).__name__ == "NumberLiteral":
            parts = self._slots(grid)
            slot = parts[0].number_at[str(node)]
            values = ", ".join(q.num(slots.numbers[slot]) for slots in parts)
            return Rel(
                "scalar",
                self.cte(f"SELECT t, [{values}][t + 1] AS v FROM {self.grid(grid)}"),
                inline=f"[{values}][{{t}} + 1]",
            )
        return self.compile(node, grid)

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
            "scalar",
            self.cte(f"SELECT t, {q.num(value)} AS v FROM {self.grid(grid)}"),
            constant=value,
            inline=q.num(value),
        )

    def negate(self, rel: Rel) -> Rel:
        if rel.kind == "scalar":
            constant = -rel.constant if rel.constant is not None else None
            return Rel("scalar", self.cte(f"SELECT t, -v AS v FROM {rel.name}"), constant=constant)
        return Rel(
            "vector", self.cte(f"SELECT t, {q.drop_name('labels')} AS labels, -v AS v FROM {rel.name}")
        )

    # -- selectors -----------------------------------------------------------------------------

    def _register(
        self,
        matched: list[tuple[int, list[tuple[str, str]]]],
        parts: list[int] | None = None,
        windows: list[int] | None = None,
    ) -> str:
        return self.register("sel", selectors.table(matched, parts, windows))

    def _matched_parts(
        self, node: Any, grid: Grid
    ) -> tuple[list[tuple[int, list[tuple[str, str]]]], list[int] | None]:
        """The series a selector matches: on a grid of parts, each part's own, with its part."""
        if not grid.parts:
            return self.series.matched(node, self.cur), None
        parts_slots = self._slots(grid)
        slot = parts_slots[0].selector_at[str(node)]
        matched: list[tuple[int, list[tuple[str, str]]]] = []
        parts: list[int] = []
        for t, slots in enumerate(parts_slots):
            found = self.series.matched(slots.selectors[slot], self.cur)
            matched += found
            parts += [t] * len(found)
        return matched, parts

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

    def _samples(self, table: str, span: tuple[int, int], matched: list[Any], joined: bool = False) -> str:
        """The selector's samples in `span` (epoch ms), from the shared scan (`joined`: the caller
        joins them with the selector's series table, which picks them)."""
        self._scan_ids.update(sid for sid, _ in matched)
        lo, hi = span
        if self._scan_span is not None:
            lo, hi = min(lo, self._scan_span[0]), max(hi, self._scan_span[1])
        self._scan_span = (lo, hi)
        picked = "" if joined else f"series_id IN (SELECT sid FROM {table}) AND "
        return f"SELECT series_id, ms, value, pv, pms FROM _scan WHERE {picked}ms >= {span[0]} AND ms <= {span[1]}"

    def vector_selector(self, node: Any, grid: Grid) -> Rel:
        """(t, labels, v): each series' latest sample within the lookback, unless it is a stale marker."""
        matched, parts = self._matched_parts(node, grid)
        if not matched:
            return self.empty_vector()
        table = self._register(matched, parts)
        lookback = self.options.lookback_ms
        edge = self.options.windows.after_start
        span = self._time_span(node, grid, lookback)
        samples = self._samples(table, span, matched)
        if grid.start == grid.end:  # one instant: each series' latest sample, no join per step
            te = span[1]
            step = f"{grid.start}::BIGINT AS t, " if parts is None else "m.t, "
            return Rel(
                "vector",
                self.cte(
                    f"SELECT {step}m.labels, x.v FROM (SELECT series_id, arg_max_null(value, ms) AS v "
                    f"FROM ({samples}) WHERE ms {edge} {te} - {lookback} GROUP BY series_id) x "
                    f"JOIN {table} m ON m.sid = x.series_id WHERE x.v IS NOT NULL"
                ),
            )
        return Rel(
            "vector",
            self.cte(
                f"SELECT g.t, g.labels, x.value AS v FROM "
                f"(SELECT s.t, {self._eval_time(node, 's.et')} AS te, m.sid, m.labels "
                f"FROM {self.grid(grid)} s CROSS JOIN {table} m) g "
                f"ASOF JOIN ({samples}) x ON x.series_id = g.sid AND x.ms <= g.te "
                f"WHERE x.ms {edge} g.te - {lookback} AND x.value IS NOT NULL"
            ),
        )

    def matrix_selector(self, node: Any, grid: Grid) -> Rel:
        """(t, te, sid, ms, v, w, pv, pms, pin): each step's window `w` ms long ending at `te`, the
        samples in it of each series `sid`, each with the sample before it (`pin`: that one is in
        the window too); the series' labels are the relation's `series`, joined after."""
        vs = node.vector_selector
        range_ms = ms_of(node.range)
        matched, parts = self._matched_parts(vs, grid)
        if not matched:
            nothing = self.cte(
                "SELECT NULL::BIGINT AS t, NULL::BIGINT AS te, NULL::BIGINT AS sid, NULL::BIGINT AS ms, "
                "NULL::DOUBLE AS v, NULL::BIGINT AS w, NULL::DOUBLE AS pv, NULL::BIGINT AS pms, "
                "NULL::BOOLEAN AS pin WHERE false"
            )
            series = self.cte(f"SELECT NULL::BIGINT AS sid, {q.NO_LABELS} AS labels WHERE false")
            return Rel("matrix", nothing, series=series)
        edge = self.options.windows.after_start
        if parts is None:
            table = self._register(matched)
            samples = self._samples(table, self._time_span(vs, grid, range_ms), matched)
            sql = (
                f"SELECT s.t, s.te, x.series_id AS sid, x.ms, x.value AS v, {range_ms}::BIGINT AS w, x.pv, x.pms, "
                f"coalesce(x.pms {edge} s.te - {range_ms}, false) AS pin FROM "
                f"(SELECT t, {self._eval_time(vs, 'et')} AS te FROM {self.grid(grid)}) s "
                f"JOIN ({samples}) x ON x.ms <= s.te AND x.ms {edge} s.te - {range_ms} "
                "WHERE x.value IS NOT NULL"
            )
            on = "m.sid = r.sid"
        else:  # one instant, no offset: each part's series with its own window
            slot = self._slots(grid)[0].range_at[str(node)]
            windows = [slots.ranges[slot] for slots in self._slots(grid)]
            range_ms = max(windows)
            table = self._register(matched, parts, windows)
            samples = self._samples(table, self._time_span(vs, grid, range_ms), matched, joined=True)
            te = f"{grid.start}::BIGINT"
            sql = (
                f"SELECT m.t, {te} AS te, m.sid, x.ms, x.value AS v, m.w, x.pv, x.pms, "
                f"coalesce(x.pms {edge} {te} - m.w, false) AS pin FROM ({samples}) x "
                f"JOIN {table} m ON m.sid = x.series_id "
                f"WHERE x.ms <= {te} AND x.ms {edge} {te} - m.w AND x.value IS NOT NULL"
            )
            on = "m.sid = r.sid AND m.t = r.t"
        # one metric's series differ in more than their name: what a range function makes of
        # them is unique too
        selectors = (
            [vs]
            if parts is None
            else [s.selectors[self._slots(grid)[0].selector_at[str(vs)]] for s in self._slots(grid)]
        )
        unique = all(
            sel.name
            or any(m.name == q.NAME and int(m.op) == int(pp.MatchOp.Equal) for m in sel.matchers.matchers)
            for sel in selectors
        )
        return Rel("matrix", self.cte(sql), series=table, series_on=on, unique=unique)

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
        windowed = self.cte(
            f"SELECT s.t, s.te, i.labels, i.t AS ms, i.v, {range_ms}::BIGINT AS w, "
            f"dense_rank() OVER (PARTITION BY s.t ORDER BY i.labels) AS sid FROM "
            f"(SELECT t, {self._eval_time(node, 'et')} AS te FROM {self.grid(grid)}) s "
            f"JOIN {inner.name} i ON i.t <= s.te AND i.t {edge} s.te - {range_ms}"
        )
        rows = self.cte(
            "SELECT *, lag(v) OVER w AS pv, lag(ms) OVER w AS pms, lag(ms) OVER w IS NOT NULL AS pin "
            f"FROM {windowed} WINDOW w AS (PARTITION BY t, sid ORDER BY ms)"
        )
        series = self.cte(f"SELECT DISTINCT t, sid, labels FROM {rows}")
        return Rel("matrix", rows, series=series, series_on="m.sid = r.sid AND m.t = r.t")

    # -- binary operators ----------------------------------------------------------------------

    def binary(self, node: Any, grid: Grid) -> Rel:
        return binary.binary(self, node, grid)
