"""`oncall query "SQL"`: read-only SQL against the store; `oncall query --promql "EXPR"`: PromQL
answered on the store as Prometheus's /api/v1/query (or query_range, with --from) would."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from console.cli.context import CliError, Context
from console.cli.times import allow_relative
from console.config.durations import parse_duration
from console.core.output import dumps, render
from console.screens.overview import is_read_only_sql, run_read_only_sql


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "query",
        help="run read-only SQL (or PromQL with --promql) against the store",
        description="Run read-only SQL against the store. Tables: series, "
        "samples, logs, changes, alerts, incidents, timeline, "
        "audit, ... With --promql, evaluate a PromQL expression on the store's samples "
        "(Prometheus 2.x semantics) at --at, or from --from to --to every --step.",
    )
    allow_relative(parser)
    parser.add_argument("sql", metavar="QUERY")
    parser.add_argument("--promql", action="store_true", help="QUERY is PromQL, not SQL")
    parser.add_argument(
        "--at", default="now", help="instant of a PromQL query: now, -1h, epoch seconds or an ISO time"
    )
    parser.add_argument(
        "--from", dest="start", help="range query start (with --promql): now-6h or an ISO time"
    )
    parser.add_argument("--to", dest="end", default="now", help="range query end (default now)")
    parser.add_argument("--step", default="1m", help="range query resolution (default 1m)")
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    if ctx.args.promql:
        return run_promql(ctx)
    sql = ctx.args.sql.strip().rstrip(";")
    if not is_read_only_sql(sql):
        raise CliError(
            "query runs read-only SQL (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN); PromQL needs --promql"
        )
    store = ctx.read_store()
    try:
        columns, rows = run_read_only_sql(store, sql)
    except duckdb.Error as exc:
        raise CliError(f"query failed: {str(exc).splitlines()[0]}", code=1) from None
    except ValueError as exc:  # a shared table with a team backend: it is not in this store
        raise CliError(str(exc), code=1) from None
    ctx.out(render(columns, rows, ctx.fmt))
    return 0


def go_number(value: float) -> str:
    """A sample value as Prometheus's API writes it (strconv.FormatFloat(v, 'f', -1, 64))."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _series(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def run_promql(ctx: Context) -> int:
    from console.cli.times import parse_time
    from console.rules.promql import PromQLError, PromQLEvalError, instant, parse, query_range

    try:
        expr = parse(ctx.args.sql)
    except PromQLError as exc:
        raise CliError(f"bad PromQL: {exc}") from None
    now = ctx.now()
    store = ctx.read_store()
    cur = store.cursor()
    try:
        if ctx.args.start:
            start, end = parse_time(ctx.args.start, now, "--from"), parse_time(ctx.args.end, now, "--to")
            step = _step(ctx.args.step)
            if end < start:
                raise CliError("--to is before --from")
            answer = query_range(cur, expr, start, end, step)
            matrix = [(dict(labels), points) for labels, points in sorted(answer.items())]
            return _print_matrix(ctx, matrix)
        at = parse_time(ctx.args.at, now, "--at")
        kind, samples = instant(cur, expr, at)
    except PromQLEvalError as exc:
        raise CliError(f"query failed: {exc}", code=1) from None
    finally:
        cur.close()
    t = at.replace(tzinfo=UTC).timestamp()
    if ctx.fmt == "json":
        result: Any
        if kind == "scalar":
            result = [t, go_number(samples[0].value)] if samples else None
        else:
            result = [{"metric": s.labels, "value": [t, go_number(s.value)]} for s in samples]
        ctx.out(dumps({"resultType": kind, "result": result}))
        return 0
    rows = [(_series(s.labels) if kind == "vector" else "scalar", go_number(s.value)) for s in samples]
    ctx.out(render(["series", "value"], sorted(rows), ctx.fmt))
    return 0


def _step(text: str) -> timedelta:
    try:
        step = parse_duration(text)
    except ValueError as exc:
        raise CliError(f"bad --step {text!r}: {exc}") from None
    if step.total_seconds() <= 0:
        raise CliError("--step must be positive")
    return step


def _print_matrix(ctx: Context, matrix: list[tuple[dict[str, str], list[tuple[float, float]]]]) -> int:
    if ctx.fmt == "json":
        result = [{"metric": m, "values": [[t, go_number(v)] for t, v in points]} for m, points in matrix]
        ctx.out(dumps({"resultType": "matrix", "result": result}))
        return 0
    rows = [
        (_series(m), datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), go_number(v))
        for m, points in matrix
        for t, v in points
    ]
    ctx.out(render(["series", "time", "value"], rows, ctx.fmt))
    return 0
