"""topk and bottomk with Prometheus's choice among ties.

Where the k-th value is not tied the answer is the k best values, in SQL.  Where it is tied
across the cut, Prometheus keeps whichever tied series its heap happens to hold: a group's
samples are fed, in the vector's order (by labels), into a heap of k (Go's container/heap),
and that is replayed here for those groups only — a few rows, never the store's samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from console.rules.promql import sql as q
from console.rules.promql.nodes import Builder, Rel


def _less(top: bool) -> Callable[[float, float], bool]:
    if top:
        return lambda a, b: math.isnan(a) or a < b
    return lambda a, b: math.isnan(a) or a > b


def _up(h: list[Any], j: int, less: Callable[[float, float], bool]) -> None:
    while True:
        i = (j - 1) // 2 if j > 0 else 0
        if i == j or not less(h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(h: list[Any], i: int, n: int, less: Callable[[float, float], bool]) -> None:
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        if j1 + 1 < n and less(h[j1 + 1][1], h[j1][1]):
            j = j1 + 1
        if not less(h[j][1], h[i][1]):
            break
        h[i], h[j] = h[j], h[i]
        i = j


def replay(rows: list[tuple[Any, float]], k: int, top: bool) -> list[tuple[Any, float]]:
    """The samples Prometheus 2.x keeps of one group fed in order (labels, value)."""
    less = _less(top)
    heap: list[tuple[Any, float]] = []
    for labels, v in rows:
        if not heap:
            heap.append((labels, v))
            continue
        root = heap[0][1]
        better = root < v if top else root > v
        if len(heap) < k or better or math.isnan(root):
            if len(heap) == k:
                if k == 1:
                    heap[0] = (labels, v)
                    continue
                n = len(heap) - 1
                heap[0], heap[n] = heap[n], heap[0]
                _down(heap, 0, n, less)
                heap.pop()
            heap.append((labels, v))
            _up(heap, len(heap) - 1, less)
    return heap


def top_or_bottom(c: Builder, x: str, key: str, k: int, top: bool) -> Rel:
    """topk/bottomk of relation `x` per (t, key)."""
    import pyarrow as pa

    if k < 1:
        return Rel("vector", c.cte(f"SELECT t, labels, v FROM {x} WHERE false"))
    order = "v DESC" if top else "v ASC"
    ranked = c.cte(
        f"SELECT t, {key} AS grp, labels, v, row_number() OVER (PARTITION BY t, {key} "
        f"ORDER BY isnan(v), {order}, labels) AS rank, count(*) OVER (PARTITION BY t, {key}) AS n FROM {x}"
    )
    cut = c.cte(
        f"SELECT r.t, r.grp, "
        f"count(*) FILTER (WHERE isnan(r.v) = isnan(b.v) AND (isnan(r.v) OR r.v = b.v)) AS tied, "
        f"count(*) FILTER (WHERE r.rank < b.rank AND NOT (isnan(r.v) = isnan(b.v) AND (isnan(r.v) OR r.v = b.v))) "
        f"AS better FROM {ranked} r JOIN {ranked} b ON b.t = r.t AND b.grp = r.grp AND b.rank = {k} "
        "GROUP BY r.t, r.grp"
    )
    ambiguous = c.cte(f"SELECT t, grp FROM {cut} WHERE better + tied > {k}")
    rows = c.fetch(
        c.cte(
            f"SELECT r.t, r.grp, r.labels, r.v FROM {ranked} r SEMI JOIN {ambiguous} a ON a.t = r.t AND a.grp = r.grp"
        ),
        "t, grp, labels",
    )
    kept: dict[str, list[Any]] = {"t": [], "labels": [], "v": []}
    group: list[tuple[Any, float]] = []
    columns = [rows.column(n).to_pylist() for n in ("t", "grp", "labels", "v")]
    current = None
    for t, grp, labels, v in [*zip(*columns), (None, None, None, None)]:
        if (t, grp) != current and group:
            for kept_labels, kept_v in replay(group, k, top):
                kept["t"].append(current[0])  # type: ignore[index]
                kept["labels"].append(kept_labels)
                kept["v"].append(kept_v)
            group = []
        current = (t, grp)
        if t is not None:
            group.append((labels, v))
    from console.core import arrays

    replayed = c.register(
        "topk",
        arrays.table(
            {
                "t": arrays.int64s(kept["t"]),
                "labels": arrays.label_lists(
                    [[(p["k"], p["v"]) for p in labels] for labels in kept["labels"]]
                ),
                "v": arrays.column(kept["v"], pa.float64()),
            }
        ),
    )
    return Rel(
        "vector",
        c.cte(
            f"SELECT t, labels, v FROM {ranked} r WHERE rank <= {k} "
            f"AND NOT EXISTS (SELECT 1 FROM {ambiguous} a WHERE a.t = r.t AND a.grp = r.grp) "
            f"UNION ALL SELECT t, labels::{q.LABELS} AS labels, v FROM {replayed}"
        ),
    )
