"""Running rules' queries against the store at one `now`: batched into one query, or one by one.

Batched, every metric a helper reads is scanned once for the longest window asked of it,
per-series statistics are computed once per (metric, window) and combined per helper call
in one query; threshold rules are compared in Python, SQL rules run as small queries over
those shared results, each on its own so a broken rule shows its own error while the
others still evaluate.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import duckdb

from console.config.promql import DEFAULT_WINDOWS, Windows
from console.rules.matchers import Matcher
from console.rules.model import (
    _COMBINE,
    DELTA_SQL,
    STATS_SQL,
    Computed,
    Rule,
    SqlPlan,
    Threshold,
    sql_str,
    sql_ts,
)
from console.rules.promql import PromQL
from console.store.ingest import canonical_labels

if TYPE_CHECKING:
    from console.store import Store


@dataclass
class Instance:
    """One row a rule returned: its labels and value."""

    labels: dict[str, str]
    value: float | None


@dataclass
class RuleResult:
    """What one rule's query gave at one evaluation."""

    rule: Rule
    instances: list[Instance] = field(default_factory=list)
    error: str | None = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _row_labels(row: dict[str, Any]) -> dict[str, str]:
    """A row's labels: its `_labels` map (JSON or a map), then its other columns.

    A label whose value is '' or NULL is no label, as in Prometheus (`sum by (svc)` over
    series without `svc` is `{}`, not `{svc=""}`)."""
    found: dict[str, Any] = {}
    extra = row.pop("_labels", None)
    if extra:
        found.update(json.loads(extra) if isinstance(extra, str) else extra)
    found.update({k: v for k, v in row.items() if v is not None})
    return {k: text for k, v in found.items() if v is not None and (text := str(v)) != ""}


def _instances(rows: list[str]) -> tuple[list[Instance], str | None]:
    found: list[Instance] = []
    for text in rows:
        row = json.loads(text)
        if "value" not in row:
            return [], f"the query must return a `value` column (it returns {', '.join(row)})"
        value = row.pop("value")
        labels = _row_labels(row)
        try:
            number = float(value) if value is not None else None
        except (TypeError, ValueError):
            return [], f"`value` must be a number (got {value!r})"
        found.append(Instance(labels, None if number is not None and math.isnan(number) else number))
    return found, None


def _wrapped(index: int, sql: str) -> str:
    return f"SELECT {index} AS _rule, to_json(_r) AS _row FROM ({sql}) AS _r"


_OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def evaluate(
    store: Store,
    rules: list[Rule],
    now: datetime,
    *,
    batched: bool = True,
    windows: Windows = DEFAULT_WINDOWS,
) -> list[RuleResult]:
    """Each rule's instances (or its error) at `now`, in the order given; `windows` is the
    workspace's `promql.windows` (whether a sample exactly a window old is in it).

    Batched, every helper use of every rule is computed together (`compute_calls`);
    threshold rules are then compared in Python and SQL rules run as small queries over
    the shared results.  Unbatched, every rule runs its own full query.
    """
    plan = SqlPlan(now, batched=batched, windows=windows)
    results = [RuleResult(rule) for rule in rules]
    sqls, thresholds, computed = _plan(rules, plan, results)
    for expr, indexes in computed.items():
        _evaluate_computed(store, now, expr, indexes, results)
    _evaluate_promql(store, now, results, windows)
    cur = store.cursor()
    try:
        if batched:
            _compare_thresholds(compute_calls(cur, plan), thresholds, results)
            _run_batch(cur, sqls, results)
        else:
            for i, sql in sqls.items():
                _run_one(cur, i, sql, results)
    finally:
        if batched:
            cur.unregister("_calls")
        cur.close()
    return results


def _plan(
    rules: list[Rule], plan: SqlPlan, results: list[RuleResult]
) -> tuple[dict[int, str], dict[int, int], dict[Computed, list[int]]]:
    """Sort the rules by how they run: SQL (rendered), threshold (a helper call, batched) or
    computed (per family); a rule that cannot be planned gets its error."""
    sqls: dict[int, str] = {}
    thresholds: dict[int, int] = {}
    computed: dict[Computed, list[int]] = {}
    for i, rule in enumerate(rules):
        try:
            if isinstance(rule.expr, PromQL):
                continue  # evaluated on its own (_evaluate_promql)
            if isinstance(rule.expr, Computed):
                computed.setdefault(rule.expr, []).append(i)
            elif plan.batched and isinstance(rule.expr, Threshold):
                t = rule.expr
                thresholds[i] = plan.call(t.series, t.over, t.fn, t.by, t.q)[0]
            else:
                sqls[i] = rule.render(plan)
        except Exception as exc:  # noqa: BLE001 - a template or helper problem is this rule's error only
            results[i].error = _short(exc)
    return sqls, thresholds, computed


def _evaluate_computed(
    store: Store, now: datetime, expr: Computed, indexes: list[int], results: list[RuleResult]
) -> None:
    try:
        found = expr.evaluate(store, now)
    except Exception as exc:  # noqa: BLE001 - the family's evaluator failed: each of its rules says so
        for i in indexes:
            results[i].error = _short(exc)
        return
    for i in indexes:
        results[i].instances = [
            Instance(dict(labels), value) for labels, value in found.get(results[i].rule.key, [])
        ]


def _evaluate_promql(store: Store, now: datetime, results: list[RuleResult], windows: Windows) -> None:
    """Every PromQL rule's instances at `now` (console/rules/promql_cycle.py), `__name__` kept for
    the templates (an alert drops it); a scalar is one sample without labels, as Prometheus's
    rule manager makes it."""
    from console.rules.promql_cycle import answer_rules

    todo = [r for r in results if isinstance(r.rule.expr, PromQL)]
    for result, (samples, error) in zip(
        todo, answer_rules(store, [r.rule for r in todo], now, windows), strict=True
    ):
        if error is not None:
            result.error = error
        else:
            result.instances = [Instance(dict(labels), v) for labels, v in samples]


def _compare_thresholds(
    rows: dict[int, list[tuple[str, float | None]]], thresholds: dict[int, int], results: list[RuleResult]
) -> None:
    for i, call_id in thresholds.items():
        t = cast(Threshold, results[i].rule.expr)  # `thresholds` holds only threshold rules
        compare = _OPS[t.op]
        results[i].instances = [
            Instance(json.loads(grp), value)
            for grp, value in rows.get(call_id, [])
            if value is not None and compare(value, t.value)
        ]


def _group_key(labels: dict[str, str], by: tuple[str, ...] | None) -> str:
    """The canonical labels of a series' group: all its labels, or its `by` labels it has
    (a `by` label the series lacks, or holds empty, is not in the group's labels)."""
    if by is None:
        return canonical_labels(labels)
    return canonical_labels({b: labels[b] for b in by if b in labels})


def compute_calls(cur: duckdb.DuckDBPyConnection, plan: SqlPlan) -> dict[int, list[tuple[str, float | None]]]:
    """Every helper call's rows at `plan.now`, registered as `_calls` and returned by call.

    One scan of the samples of every metric asked for (each over its longest window), one
    query for the per-series statistics of every (metric, window) and the combining of
    them per call and group, and one query per distinct quantile.
    """
    import pyarrow as pa

    from console.core import arrays

    calls = list(plan.calls.items())
    if not calls:
        cur.register(
            "_calls",
            arrays.table(
                {
                    "call": arrays.int64s([]),
                    "grp": arrays.strings([]),
                    "value": arrays.column([], pa.float64()),
                }
            ),
        )
        return {}
    longest, windows = _windows_of(calls)
    by_name = _series_by_name(cur, sorted(longest))
    registered = _input_tables(plan.now, longest, windows, _pairs(calls, by_name, windows))
    for name, table in registered.items():
        cur.register(name, table)
    try:
        parts = _call_values(cur, calls, plan, registered)
    finally:
        for name in registered:
            cur.unregister(name)
    result = pa.concat_tables([t.select(["call", "grp", "value"]) for t in parts])
    cur.register("_calls", result)
    rows: dict[int, list[tuple[str, float | None]]] = {}
    for call_id, grp, value in zip(*(result.column(c).to_pylist() for c in ("call", "grp", "value"))):
        rows.setdefault(call_id, []).append((grp, value))
    return rows


def _windows_of(calls: list[tuple[Any, int]]) -> tuple[dict[str, float], dict[tuple[str, float], int]]:
    """Per metric its longest window (s), and an id per (metric, window)."""
    longest: dict[str, float] = {}
    windows: dict[tuple[str, float], int] = {}
    for call, _ in calls:
        longest[call.name] = max(longest.get(call.name, 0.0), call.seconds)
        windows.setdefault((call.name, call.seconds), len(windows))
    return longest, windows


def _series_by_name(
    cur: duckdb.DuckDBPyConnection, names: list[str]
) -> dict[str, list[tuple[int, dict[str, str]]]]:
    _, series_rows = _query(
        cur,
        "SELECT id, name, labels FROM series WHERE name IN (" + ", ".join(sql_str(n) for n in names) + ")",
    )
    by_name: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for sid, name, labels in series_rows:
        by_name.setdefault(name, []).append((sid, json.loads(labels)))
    return by_name


def _pairs(
    calls: list[tuple[Any, int]],
    by_name: dict[str, list[tuple[int, dict[str, str]]]],
    windows: dict[tuple[str, float], int],
) -> dict[str, list[Any]]:
    """One row per (call, series it reads): the columns of `_pairs`."""
    matched: dict[tuple[str, Any], list[tuple[int, dict[str, str]]]] = {}
    pairs: dict[str, list[Any]] = {
        "call": [],
        "series_id": [],
        "window_id": [],
        "fn": [],
        "seconds": [],
        "q": [],
        "grp": [],
    }
    for call, call_id in calls:
        key = (call.name, call.selector.matchers)
        if key not in matched:
            matchers = [Matcher(m.label, m.value, m.op) for m in call.selector.matchers]
            matched[key] = [
                (sid, labels)
                for sid, labels in by_name.get(call.name, [])
                if all(m.matches(labels) for m in matchers)
            ]
        window_id = windows[(call.name, call.seconds)]
        for sid, labels in matched[key]:
            pairs["call"].append(call_id)
            pairs["series_id"].append(sid)
            pairs["window_id"].append(window_id)
            pairs["fn"].append(call.fn)
            pairs["seconds"].append(call.seconds)
            pairs["q"].append(call.q)
            pairs["grp"].append(_group_key(labels, call.by))
    return pairs


def _input_tables(
    now: datetime,
    longest: dict[str, float],
    windows: dict[tuple[str, float], int],
    pairs: dict[str, list[Any]],
) -> dict[str, Any]:
    """`_scan` (what to read per metric), `_windows` and `_pairs` as Arrow tables."""
    import pyarrow as pa

    from console.core import arrays

    names = sorted(longest)
    scan = arrays.table(
        {
            "name": arrays.strings(names),
            "start": arrays.column([now - timedelta(seconds=longest[n]) for n in names], pa.timestamp("us")),
        }
    )
    window_table = arrays.table(
        {
            "window_id": arrays.int64s(list(windows.values())),
            "name": arrays.strings([k[0] for k in windows]),
            "start": arrays.column([now - timedelta(seconds=k[1]) for k in windows], pa.timestamp("us")),
        }
    )
    types = {
        "call": pa.int64(),
        "series_id": pa.int64(),
        "window_id": pa.int64(),
        "fn": pa.string(),
        "seconds": pa.float64(),
        "q": pa.float64(),
        "grp": pa.string(),
    }
    pair_table = arrays.table({column: arrays.column(pairs[column], kind) for column, kind in types.items()})
    return {"_scan": scan, "_windows": window_table, "_pairs": pair_table}


def _call_values(
    cur: duckdb.DuckDBPyConnection, calls: list[tuple[Any, int]], plan: SqlPlan, registered: dict[str, Any]
) -> list[Any]:
    """(call, grp, value) tables: one for the statistics, one per distinct quantile; a group
    with no value (only stale markers, too few samples for a rate) has no row.

    Registers the scanned samples as `_raw` (in `registered`, so the caller unregisters it)."""
    after = plan.windows.after_start  # a sample exactly at a window's start: in (2.x) or out (3.x)
    earliest = min(registered["_scan"].column("start").to_pylist())
    raw = cur.sql(
        "SELECT s.name, x.series_id, x.ts, x.value FROM samples x "
        "JOIN series s ON s.id = x.series_id JOIN _scan w ON w.name = s.name "
        f"WHERE x.ts {after} {sql_ts(earliest)} AND x.ts <= {sql_ts(plan.now)} "
        f"AND x.ts {after} w.start"
    ).to_arrow_table()
    cur.register("_raw", raw)
    registered["_raw"] = raw
    combine = " ".join(f"WHEN '{fn}' THEN {expr.format(w='p.seconds')}" for fn, expr in _COMBINE.items())
    parts = [
        cur.sql(f"""
        WITH r AS (
            SELECT w.window_id, r.series_id, r.ts, r.value FROM _raw r
            JOIN _windows w ON w.name = r.name AND r.ts {after} w.start
            WHERE (w.window_id, r.series_id) IN (
                SELECT window_id, series_id FROM _pairs WHERE fn <> 'quantile')
        ), d AS (
            SELECT *, {DELTA_SQL.format(by="window_id, series_id")} FROM r
        ), a AS (
            SELECT window_id, series_id, {STATS_SQL} FROM d GROUP BY window_id, series_id
        )
        SELECT * FROM (
            SELECT p.call, p.grp, CASE p.fn {combine} END::DOUBLE AS value
            FROM _pairs p JOIN a ON a.window_id = p.window_id AND a.series_id = p.series_id
            WHERE p.fn <> 'quantile'
            GROUP BY p.call, p.grp, p.fn, p.seconds
        ) WHERE value IS NOT NULL
    """).to_arrow_table()
    ]
    for q in sorted({c.q for c, _ in calls if c.fn == "quantile" and c.q is not None}):
        parts.append(
            cur.sql(f"""
            SELECT * FROM (
                SELECT p.call, p.grp, quantile_cont(r.value, {q})::DOUBLE AS value
                FROM _pairs p JOIN _windows w ON w.window_id = p.window_id
                JOIN _raw r ON r.series_id = p.series_id AND r.ts {after} w.start
                WHERE p.fn = 'quantile' AND p.q = {q}
                GROUP BY p.call, p.grp
            ) WHERE value IS NOT NULL
        """).to_arrow_table()
        )
    return parts


def _query(cur: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    cur.execute(sql)
    return [d[0] for d in cur.description or []], cur.fetchall()


def _run_batch(cur: duckdb.DuckDBPyConnection, sqls: dict[int, str], results: list[RuleResult]) -> None:
    """All SQL rules as one UNION ALL; if it fails, one by one to find the broken ones."""
    if not sqls:
        return
    try:
        cur.execute(" UNION ALL ".join(_wrapped(i, sql) for i, sql in sqls.items()))
        rows = cur.fetchall()
    except duckdb.Error:
        for i, sql in sqls.items():
            _run_one(cur, i, sql, results)
        return
    texts: dict[int, list[str]] = {i: [] for i in sqls}
    for index, text in rows:
        texts[index].append(text)
    for i, found in texts.items():
        results[i].instances, results[i].error = _instances(found)


def _run_one(cur: duckdb.DuckDBPyConnection, index: int, sql: str, results: list[RuleResult]) -> None:
    try:
        cur.execute(_wrapped(index, sql))
        texts = [row[1] for row in cur.fetchall()]
    except duckdb.Error as exc:
        results[index].error = "SQL error: " + str(exc).strip().splitlines()[0]
        return
    results[index].instances, results[index].error = _instances(texts)
