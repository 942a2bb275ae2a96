"""PromQL function calls compiled to SQL: range functions over a window's samples, math on
instant vectors, label functions, histogram_quantile, absent, and the scalar/vector bridges."""

from __future__ import annotations

import re
from typing import Any

from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError
from console.rules.promql.nodes import Builder as Compiler
from console.rules.promql.nodes import Grid, Rel
from console.rules.promql.shapes import FAMILY

_MATH = {
    "abs": "abs(v)",
    "ceil": "ceil(v)",
    "floor": "floor(v)",
    "exp": "exp(v)",
    "ln": "ln(v)",
    "log2": "log2(v)",
    "log10": "log10(v)",
    "sqrt": "sqrt(v)",
    "sgn": "CASE WHEN isnan(v) THEN v WHEN v > 0 THEN 1.0 WHEN v < 0 THEN -1.0 ELSE 0.0 END",
}

# per (t, labels) over the window's rows: aggregate SQL and the fewest samples it needs
_OVER_TIME = {
    "avg_over_time": ("avg(v)", 1),
    "sum_over_time": ("sum(v)", 1),
    "count_over_time": ("count(*)::DOUBLE", 1),
    "min_over_time": ("min(v)", 1),
    "max_over_time": (q.nan_max("v"), 1),
    "last_over_time": ("arg_max(v, ms)", 1),
    "stddev_over_time": ("stddev_pop(v)", 1),
    "stdvar_over_time": ("var_pop(v)", 1),
    "present_over_time": ("1.0", 1),
}
_KEEPS_NAME = {"last_over_time"}
RANGE_FUNCTIONS = frozenset(
    {
        *_OVER_TIME,
        "rate",
        "increase",
        "delta",
        "irate",
        "idelta",
        "resets",
        "changes",
        "deriv",
        "predict_linear",
        "quantile_over_time",
        "absent_over_time",
    }
)
INSTANT_FUNCTIONS = frozenset(
    {
        *_MATH,
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "histogram_quantile",
        "label_replace",
        "label_join",
        "vector",
        "scalar",
        "time",
        "absent",
        "sort",
        "sort_desc",
        "timestamp",
    }
)
SUPPORTED = RANGE_FUNCTIONS | INSTANT_FUNCTIONS


def call(c: Compiler, node: Any, grid: Grid) -> Rel:
    name = node.func.name
    if name not in SUPPORTED:
        raise PromQLError(f"function {name}() is not supported", f"{name}(")
    if name == "time":
        return Rel("scalar", c.cte(f"SELECT t, t / 1000.0 AS v FROM {c.grid(grid)}"))
    if name == "timestamp":
        raise PromQLError("function timestamp() is not supported", "timestamp(")
    args = node.args
    if name in RANGE_FUNCTIONS:
        return _range_call(c, name, node, grid)
    if name == "histogram_quantile":
        return _histogram_quantile(c, _constant(c, args[0], grid, name), c.compile(args[1], grid))
    if name in ("label_replace", "label_join"):
        strings = [_string(c, a, grid, name) for a in args[1:]]
        return _label_fn(c, name, c.compile(args[0], grid), strings)
    if name == "vector":
        return _vector(c, c.compile(args[0], grid))
    if name == "scalar":
        return _scalar(c, c.compile(args[0], grid), grid)
    if name == "absent":
        return _absent(c, args[0], c.compile(args[0], grid), grid)
    inner = c.compile(args[0], grid)
    if name in ("sort", "sort_desc"):
        return inner
    params = [_constant(c, a, grid, name) for a in args[1:]]
    return _instant_math(c, name, inner, params)


def _constant(c: Compiler, node: Any, grid: Grid, fn: str) -> float:
    rel = c.compile(node, grid)
    if rel.constant is None:
        raise PromQLError(
            f"{fn}() takes a number literal here (a computed scalar is not supported)", f"{fn}("
        )
    return rel.constant


def _string(c: Compiler, node: Any, grid: Grid, fn: str) -> str:
    rel = c.compile(node, grid)
    if rel.kind != "string":
        raise PromQLError(f"{fn}() takes string literals after its first argument", f"{fn}(")
    return rel.text


# -- range functions ---------------------------------------------------------------------------


def _range_call(c: Compiler, name: str, node: Any, grid: Grid) -> Rel:

    args = node.args
    param: float | None = None
    if name == "quantile_over_time":
        param, matrix = _constant(c, args[0], grid, name), c.compile(args[1], grid)
    else:
        matrix = c.compile(args[0], grid)
        if name == "predict_linear":
            param = _constant(c, args[1], grid, name)
    if matrix.kind != "matrix":
        raise PromQLError(f"{name}() needs a range vector, e.g. {name}(x[5m])", f"{name}(")
    if name == "absent_over_time":
        return _absent(
            c, args[0].vector_selector if type(args[0]).__name__ == "MatrixSelector" else None, matrix, grid
        )
    # a window's samples are one series' per step: each (t, sid) gives a value, then its labels
    m = matrix.name
    if name in _OVER_TIME:
        names = (c.functions(node, grid) if name in FAMILY else None) or [name]
        if len(set(names)) == 1:
            agg, _ = _OVER_TIME[names[0]]
        else:  # rules of one shape, each its own aggregate: all of them, each part's picked
            cases = " ".join(f"WHEN {q.s(f)} THEN {_OVER_TIME[f][0]}" for f in sorted(set(names)))
            agg = f"CASE [{', '.join(q.s(f) for f in names)}][t + 1] {cases} END"
        sql = f"SELECT t, sid, {agg} AS v FROM {m} GROUP BY t, sid"
    elif name == "quantile_over_time":
        assert param is not None
        sql = f"SELECT t, sid, {_quantile('v', param)} AS v FROM {m} GROUP BY t, sid"
    elif name in ("rate", "increase", "delta"):
        sql = _extrapolated(m, name)
    elif name in ("irate", "idelta"):
        sql = _instant_value(m, name == "irate")
    elif name in ("resets", "changes"):
        test = "NOT isnan(v) AND NOT isnan(pv) AND v < pv" if name == "resets" else "v <> pv"
        sql = f"SELECT t, sid, count(*) FILTER (WHERE pin AND {test})::DOUBLE AS v FROM {m} GROUP BY t, sid"
    else:
        sql = _regression(m, name, param)
    labels = "m.labels" if name in _KEEPS_NAME else q.drop_name("m.labels")
    return Rel(
        "vector",
        c.cte(
            f"SELECT r.t, {labels} AS labels, r.v FROM ({sql}) r JOIN {matrix.series} m ON {matrix.series_on}"
        ),
        unique=matrix.unique,
    )


def _quantile(column: str, q_: float) -> str:
    if q_ != q_:
        return "'nan'::DOUBLE"
    if q_ < 0:
        return "'-inf'::DOUBLE"
    if q_ > 1:
        return "'inf'::DOUBLE"
    return f"quantile_cont({column}, {q_!r})"


def _extrapolated(m: str, name: str) -> str:
    """Prometheus 2.x extrapolatedRate: delta of the first and last sample (counter resets
    added back), extrapolated to the window's edges by at most half an average interval."""
    counter = name != "delta"
    correction = "+ corr" if counter else ""
    zero = (
        "CASE WHEN res > 0 AND fv >= 0 THEN least(dstart, sampled * (fv / res)) ELSE dstart END"
        if counter
        else "dstart"
    )
    per = " / (w::DOUBLE / 1000)" if name == "rate" else ""  # as Prometheus: the factor, then the value
    return f"""
        SELECT t, sid,
               res * (((sampled
                      + CASE WHEN dstart2 < avgdur * 1.1 THEN dstart2 ELSE avgdur / 2 END
                      + CASE WHEN dend < avgdur * 1.1 THEN dend ELSE avgdur / 2 END) / sampled){per}) AS v
        FROM (
            SELECT *, {zero} AS dstart2 FROM (
                SELECT t, sid, w, fv, lv - fv {correction} AS res,
                       (fms - (te - w)) / 1000.0 AS dstart, (te - lms) / 1000.0 AS dend,
                       (lms - fms) / 1000.0 AS sampled, (lms - fms) / 1000.0 / (n - 1) AS avgdur
                FROM (
                    SELECT t, sid, any_value(te) AS te, any_value(w) AS w, count(*) AS n,
                           arg_min(v, ms) AS fv, arg_max(v, ms) AS lv, min(ms) AS fms, max(ms) AS lms,
                           sum(CASE WHEN pin AND NOT isnan(v) AND NOT isnan(pv) AND v < pv THEN pv ELSE 0 END) AS corr
                    FROM {m} GROUP BY t, sid HAVING count(*) >= 2
                )
            )
        )"""


def _instant_value(m: str, rate: bool) -> str:
    value = "(CASE WHEN lv < pv THEN lv ELSE lv - pv END) / ((lms - pms) / 1000.0)" if rate else "lv - pv"
    return f"""
        SELECT t, sid, {value} AS v FROM (
            SELECT t, sid, arg_max(v, ms) AS lv, arg_max(pv, ms) AS pv, max(ms) AS lms, arg_max(pms, ms) AS pms
            FROM {m} GROUP BY t, sid HAVING arg_max(pin, ms)
        ) WHERE lms > pms"""


def _regression(m: str, name: str, seconds: float | None) -> str:
    """deriv (slope per second) and predict_linear (the fitted value `seconds` after the step)."""
    origin = "min(ms) OVER (PARTITION BY t, sid)" if name == "deriv" else "t"
    slope = "(sxy - sx * sy / n) / (sxx - sx * sx / n)"
    if name == "deriv":
        value = f"CASE WHEN const THEN 0.0 ELSE {slope} END"
    else:
        intercept = f"(sy / n - ({slope}) * sx / n)"
        value = f"CASE WHEN const THEN fy ELSE ({slope}) * {seconds!r} + {intercept} END"
    return f"""
        SELECT t, sid, CASE WHEN const AND isinf(fy) THEN 'nan'::DOUBLE ELSE {value} END AS v FROM (
            SELECT t, sid, count(*)::DOUBLE AS n, sum(x) AS sx, sum(v) AS sy, sum(x * v) AS sxy,
                   sum(x * x) AS sxx, arg_min(v, ms) AS fy, bool_and(v = first_v) AS const
            FROM (SELECT *, (ms - {origin}) / 1000.0 AS x,
                         first_value(v) OVER (PARTITION BY t, sid ORDER BY ms) AS first_v FROM {m})
            GROUP BY t, sid HAVING count(*) >= 2
        )"""


# -- instant functions -------------------------------------------------------------------------


def _instant_math(c: Compiler, name: str, inner: Rel, params: list[float]) -> Rel:

    if inner.kind != "vector":
        raise PromQLError(f"{name}() needs an instant vector", f"{name}(")
    where = ""
    if name in _MATH:
        value = _MATH[name]
    elif name == "round":
        nearest = params[0] if params else 1.0
        value = f"floor(v * {1 / nearest!r} + 0.5) / {1 / nearest!r}"
    elif name == "clamp_min":
        value = f"CASE WHEN isnan(v) THEN v ELSE greatest(v, {q.num(params[0])}) END"
    elif name == "clamp_max":
        value = f"CASE WHEN isnan(v) THEN v ELSE least(v, {q.num(params[0])}) END"
    else:
        lo, hi = params
        value = f"CASE WHEN isnan(v) THEN v ELSE greatest({q.num(lo)}, least({q.num(hi)}, v)) END"
        where = "WHERE false" if hi < lo else ""
    return Rel(
        "vector",
        c.cte(f"SELECT t, {q.drop_name('labels')} AS labels, {value} AS v FROM {inner.name} {where}"),
        unique=inner.unique,
    )


def _go_template(template: str) -> str:
    """Go's regexp Expand template ($1, ${1}) as DuckDB's replacement (\\1)."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch == "\\":
            out.append("\\\\")
        elif ch == "$" and template[i + 1 : i + 2] == "$":
            out.append("$")
            i += 1
        elif ch == "$":
            match = re.match(r"\$(?:\{(\w+)\}|(\w+))", template[i:])
            if not match:
                out.append("$")
            else:
                group = match.group(1) or match.group(2)
                if not group.isdigit() or int(group) > 9:
                    raise PromQLError(
                        f"label_replace: replacement ${group} is not supported (use $1 … $9)",
                        "label_replace(",
                    )
                out.append("\\" + group)
                i += len(match.group(0)) - 1
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _label_fn(c: Compiler, name: str, inner: Rel, strings: list[str]) -> Rel:

    if inner.kind != "vector":
        raise PromQLError(f"{name}() needs an instant vector", f"{name}(")
    dst = strings[0]
    if not q.LABEL_NAME.match(dst):
        raise PromQLError(f"{name}(): {dst!r} is not a valid label name", f"{name}(")
    if name == "label_replace":
        replacement, src, regex = strings[1:4]
        from console.rules.matchers import compile_regex

        compile_regex(regex)
        anchored = q.s(f"^(?:{regex})$")
        source = q.get("labels", src)
        value = f"regexp_replace({source}, {anchored}, {q.s(_go_template(replacement))})"
        labels = f"CASE WHEN regexp_full_match({source}, {q.s(regex)}) THEN {q.put('labels', dst, value)} ELSE labels END"
    else:
        sep, sources = strings[1], strings[2:]
        value = (
            " || ".join(
                q.get("labels", src) + (f" || {q.s(sep)}" if i < len(sources) - 1 else "")
                for i, src in enumerate(sources)
            )
            or "''"
        )
        labels = q.put("labels", dst, value)
    return Rel("vector", c.cte(f"SELECT t, {labels} AS labels, v FROM {inner.name}"))


def _vector(c: Compiler, scalar: Rel) -> Rel:

    if scalar.kind != "scalar":
        raise PromQLError("vector() takes a scalar", "vector(")
    return Rel("vector", c.cte(f"SELECT t, {q.NO_LABELS} AS labels, v FROM {scalar.name}"))


def _scalar(c: Compiler, vector: Rel, grid: Grid) -> Rel:

    if vector.kind != "vector":
        raise PromQLError("scalar() takes an instant vector", "scalar(")
    return Rel(
        "scalar",
        c.cte(
            f"SELECT s.t, CASE WHEN count(x.v) = 1 THEN any_value(x.v) ELSE 'nan'::DOUBLE END AS v "
            f"FROM {c.grid(grid)} s LEFT JOIN {vector.name} x ON x.t = s.t GROUP BY s.t"
        ),
    )


def _absent(c: Compiler, selector: Any, rel: Rel, grid: Grid) -> Rel:
    """1 with the selector's equality labels at the steps where `rel` has nothing."""

    labels: dict[str, str] = {}
    if selector is not None and type(selector).__name__ == "VectorSelector":
        seen: dict[str, int] = {}
        for m in selector.matchers.matchers:
            seen[m.name] = seen.get(m.name, 0) + 1
            if int(m.op) == 0 and m.name != q.NAME:
                labels[m.name] = m.value
        labels = {k: v for k, v in labels.items() if seen[k] == 1 and v}
    entries = ", ".join(f"{{'k': {q.s(k)}, 'v': {q.s(v)}}}" for k, v in sorted(labels.items()))
    literal = f"[{entries}]::{q.LABELS}" if entries else q.NO_LABELS
    return Rel(
        "vector",
        c.cte(
            f"SELECT s.t, {literal} AS labels, 1.0 AS v FROM {c.grid(grid)} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {rel.name} x WHERE x.t = s.t)"
        ),
    )


def _histogram_quantile(c: Compiler, phi: float, vector: Rel) -> Rel:
    """Prometheus's bucketQuantile per (t, labels without le) over classic `le` buckets."""

    if vector.kind != "vector":
        raise PromQLError("histogram_quantile() needs an instant vector of buckets", "histogram_quantile(")
    group = q.drop("labels", [q.NAME, "le"])
    le = q.get("labels", "le")
    buckets = c.cte(
        f"SELECT t, grp, ub, sum(v) AS c FROM (SELECT t, {group} AS grp, TRY_CAST({le} AS DOUBLE) AS ub, v "
        f"FROM {vector.name}) WHERE ub IS NOT NULL GROUP BY t, grp, ub"
    )
    ordered = c.cte(
        f"SELECT *, lag(ub) OVER w AS prev_ub, lag(c) OVER w AS prev_c FROM ("
        f"SELECT t, grp, ub, max(c) OVER w AS c, row_number() OVER w - 1 AS i, "
        f"count(*) OVER (PARTITION BY t, grp) AS n, max(ub) OVER (PARTITION BY t, grp) AS top "
        f"FROM {buckets} WINDOW w AS (PARTITION BY t, grp ORDER BY ub ROWS UNBOUNDED PRECEDING)) "
        f"WINDOW w AS (PARTITION BY t, grp ORDER BY ub)"
    )
    if phi != phi:
        quantile = "'nan'::DOUBLE"
    elif phi < 0:
        quantile = "'-inf'::DOUBLE"
    elif phi > 1:
        quantile = "'inf'::DOUBLE"
    else:
        quantile = """CASE
            WHEN top <> 'inf'::DOUBLE OR n < 2 OR obs = 0 THEN 'nan'::DOUBLE
            WHEN b IS NULL THEN second_ub
            WHEN b = 0 AND b_ub <= 0 THEN b_ub
            WHEN b = 0 THEN b_ub * (rank / b_c)
            ELSE b_prev_ub + (b_ub - b_prev_ub) * ((rank - b_prev_c) / (b_c - b_prev_c)) END"""
    return Rel(
        "vector",
        c.cte(f"""
        SELECT t, grp AS labels, {quantile} AS v FROM (
            SELECT t, grp, any_value(top) AS top, any_value(n) AS n, obs, rank,
                   min(i) FILTER (WHERE c >= rank AND i < n - 1) AS b,
                   arg_min(ub, i) FILTER (WHERE c >= rank AND i < n - 1) AS b_ub,
                   arg_min(c, i) FILTER (WHERE c >= rank AND i < n - 1) AS b_c,
                   arg_min(prev_ub, i) FILTER (WHERE c >= rank AND i < n - 1) AS b_prev_ub,
                   arg_min(prev_c, i) FILTER (WHERE c >= rank AND i < n - 1) AS b_prev_c,
                   max(ub) FILTER (WHERE i = n - 2) AS second_ub
            FROM (SELECT *, last_value(c) OVER (PARTITION BY t, grp ORDER BY ub
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS obs,
                         {phi!r} * last_value(c) OVER (PARTITION BY t, grp ORDER BY ub
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS rank FROM {ordered})
            GROUP BY t, grp, obs, rank
        )"""),
    )
