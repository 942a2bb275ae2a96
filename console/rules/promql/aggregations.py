"""PromQL aggregations (`sum by (…) (…)` and friends) compiled to SQL per step and group."""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError
from console.rules.promql.nodes import Builder as Compiler
from console.rules.promql.nodes import Grid, Rel

_SIMPLE = {
    "sum": "sum(v)",
    "avg": "avg(v)",
    "min": "min(v)",
    "max": q.nan_max("v"),
    "count": "count(*)::DOUBLE",
    "group": "1.0",
    "stddev": "stddev_pop(v)",
    "stdvar": "var_pop(v)",
}
SUPPORTED = frozenset({*_SIMPLE, "quantile", "topk", "bottomk", "count_values"})


def _group(modifier: Any) -> str:
    if modifier is None:
        return q.NO_LABELS
    names = list(modifier.labels)
    if modifier.type == pp.AggModifierType.By:
        return q.keep("labels", names)
    return q.drop("labels", [q.NAME, *names])


def aggregate(c: Compiler, node: Any, grid: Grid) -> Rel:

    op = str(node.op).strip().lower()
    if op not in SUPPORTED:
        raise PromQLError(f"aggregation {op} is not supported", f"{op}")
    inner = c.compile(node.expr, grid)
    if inner.kind != "vector":
        raise PromQLError(f"{op} needs an instant vector", op)
    key = _group(node.modifier)
    x = inner.name
    if op in _SIMPLE:
        return Rel(
            "vector",
            c.cte(f"SELECT t, {key} AS labels, {_SIMPLE[op]} AS v FROM {x} GROUP BY t, {key}"),
            unique=True,
        )
    param = c.compile(node.param, grid)
    if op == "count_values":
        if param.kind != "string" or not q.LABEL_NAME.match(param.text):
            raise PromQLError("count_values needs a label name string as its first argument", op)
        labels = q.put("grp", param.text, q.go_float("v"))
        return Rel(
            "vector",
            c.cte(
                f"SELECT t, {labels} AS labels, count(*)::DOUBLE AS v FROM "
                f"(SELECT t, {key} AS grp, v FROM {x}) GROUP BY t, grp, v"
            ),
            unique=True,
        )
    if param.constant is None:
        raise PromQLError(f"{op} takes a number literal as its first argument", op)
    if op == "quantile":
        from console.rules.promql.functions import _quantile

        return Rel(
            "vector",
            c.cte(
                f"SELECT t, {key} AS labels, {_quantile('v', param.constant)} AS v FROM {x} GROUP BY t, {key}"
            ),
            unique=True,
        )
    from console.rules.promql.topk import top_or_bottom

    return top_or_bottom(c, x, key, int(param.constant), op == "topk")
