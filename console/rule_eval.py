"""Running rules' queries against the store at one `now`: batched into one query, or one by one.

Batched, every metric a helper reads is scanned once for the longest window asked of it,
per-series statistics are computed once per (metric, window), and all rules' queries run
as one UNION ALL; if that fails, the rules run one by one so a broken rule shows its own
error while the others still evaluate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from console.rules import Rule, SqlPlan, agg_sql, raw_sql, sql_ts


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


def _instances(rows: list[str]) -> tuple[list[Instance], str | None]:
    found: list[Instance] = []
    for text in rows:
        row = json.loads(text)
        if "value" not in row:
            return [], f"the query must return a `value` column (it returns {', '.join(row)})"
        value = row.pop("value")
        labels: dict[str, str] = {}
        extra = row.pop("_labels", None)
        if extra:
            labels.update({k: str(v) for k, v in (json.loads(extra) if isinstance(extra, str)
                                                   else extra).items()})
        labels.update({k: str(v) for k, v in row.items() if v is not None})
        try:
            number = float(value) if value is not None else None
        except (TypeError, ValueError):
            return [], f"`value` must be a number (got {value!r})"
        if number is not None and math.isnan(number):
            number = None
        found.append(Instance(labels, number))
    return found, None


def _wrapped(index: int, sql: str) -> str:
    return f"SELECT {index} AS _rule, to_json(_r) AS _row FROM ({sql}) AS _r"


def evaluate(store: Any, rules: list[Rule], now: datetime, *, batched: bool = True) -> list[RuleResult]:
    """Each rule's instances (or its error) at `now`, in the order given."""
    plan = SqlPlan(now, batched=batched)
    results = [RuleResult(rule) for rule in rules]
    sqls: dict[int, str] = {}
    for i, rule in enumerate(rules):
        try:
            sqls[i] = rule.render(plan)
        except Exception as exc:  # a template or helper problem is this rule's error only
            results[i].error = _short(exc)
    cur = store.cursor()
    registered: list[str] = []
    try:
        if batched:
            registered = _register_scans(cur, plan)
            _run_batch(cur, sqls, results)
        else:
            for i, sql in sqls.items():
                _run_one(cur, i, sql, results)
    finally:
        for name in registered:
            cur.unregister(name)
        cur.close()
    return results


def _register_scans(cur: Any, plan: SqlPlan) -> list[str]:
    """Scan each metric once for its longest window; register raw samples and per-window stats."""
    registered: list[str] = []
    for name, raw_table in plan.raws.items():
        start = plan.now - timedelta(seconds=plan.windows[name])
        raw = cur.sql(raw_sql(name, start, plan.now)).to_arrow_table()
        cur.register(raw_table, raw)
        registered.append(raw_table)
    for (name, seconds), agg_table in plan.aggs.items():
        start = plan.now - timedelta(seconds=seconds)
        source = f"SELECT * FROM {plan.raws[name]} WHERE ts > {sql_ts(start)}"
        cur.register(agg_table, cur.sql(agg_sql(source)).to_arrow_table())
        registered.append(agg_table)
    return registered


def _run_batch(cur: Any, sqls: dict[int, str], results: list[RuleResult]) -> None:
    if not sqls:
        return
    union = " UNION ALL ".join(_wrapped(i, sql) for i, sql in sqls.items())
    try:
        cur.execute(union)
        rows = cur.fetchall()
    except duckdb.Error:
        for i, sql in sqls.items():
            _run_one(cur, i, sql, results)
        return
    by_rule: dict[int, list[str]] = {i: [] for i in sqls}
    for index, text in rows:
        by_rule[index].append(text)
    for i, texts in by_rule.items():
        results[i].instances, results[i].error = _instances(texts)


def _run_one(cur: Any, index: int, sql: str, results: list[RuleResult]) -> None:
    try:
        cur.execute(_wrapped(index, sql))
        texts = [row[1] for row in cur.fetchall()]
    except duckdb.Error as exc:
        results[index].error = "SQL error: " + str(exc).strip().splitlines()[0]
        return
    results[index].instances, results[index].error = _instances(texts)
