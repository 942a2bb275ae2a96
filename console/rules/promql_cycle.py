"""PromQL rules of one evaluation cycle: in one query per evaluation interval; if that query
fails, one by one, so a rule that breaks shows its own error."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import duckdb

from console.config.promql import Windows
from console.rules.promql import Options, PromQL, instant_many
from console.rules.promql.selectors import Series

if TYPE_CHECKING:
    from console.rules.model import Rule
    from console.store import Store

Answer = tuple[list[tuple[dict[str, str], float]], str | None]  # (labels, value) samples, or an error


_SERIES: weakref.WeakKeyDictionary[Any, Series] = weakref.WeakKeyDictionary()  # per store


def answer_rules(store: Store, rules: list[Rule], now: datetime, windows: Windows) -> list[Answer]:
    """Per rule (in order) its samples at `now`, or its error."""
    out: list[Answer] = [([], None)] * len(rules)
    by_interval: dict[timedelta, list[int]] = {}
    for i, rule in enumerate(rules):
        by_interval.setdefault(rule.interval, []).append(i)
    if not rules:
        return out
    cur = store.cursor()
    try:
        series = _SERIES.setdefault(store, Series()).refreshed(cur)
        for interval, indexes in by_interval.items():
            options = Options(default_step_ms=int(interval.total_seconds() * 1000), windows=windows)
            exprs = [cast(PromQL, rules[i].expr) for i in indexes]
            answers: list[Any]
            try:
                answers = list(instant_many(cur, exprs, now, options, series=series))
            except duckdb.Error:
                answers = []
                for expr in exprs:
                    try:
                        answers.append(instant_many(cur, [expr], now, options)[0])
                    except duckdb.Error as exc:
                        answers.append(exc)
            for i, answer in zip(indexes, answers, strict=True):
                out[i] = _answer(answer)
    finally:
        cur.close()
    return out


def _answer(answer: Any) -> Answer:
    if isinstance(answer, duckdb.Error):
        return [], "evaluation failed: " + str(answer).strip().splitlines()[0]
    if isinstance(answer, Exception):
        return [], str(answer)
    return [(s.labels, s.value) for s in answer[1]], None


def template_query(
    store: Store, now: datetime, windows: Windows
) -> Callable[[str], list[tuple[dict[str, str], float]]]:
    """The templates' `query "EXPR"`: PromQL at `now` on the store, as Prometheus's rule templates
    query their own TSDB; a bad or refused expression is the template's error (ValueError)."""
    from console.rules.promql import PromQLEvalError, instant, parse

    def query(expr: str) -> list[tuple[dict[str, str], float]]:
        cur = store.cursor()
        try:
            _, samples = instant(cur, parse(expr), now, Options(windows=windows))
        except (PromQLEvalError, duckdb.Error) as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        finally:
            cur.close()
        return [(s.labels, s.value) for s in samples]

    return query
