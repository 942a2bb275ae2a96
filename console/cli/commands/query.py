"""`oncall query "SQL"`: read-only SQL against the store."""

from __future__ import annotations

import argparse

import duckdb

from console.cli.context import CliError, Context
from console.core.output import render
from console.screens.overview import is_read_only_sql, run_read_only_sql


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "query",
        help="run read-only SQL against the store",
        description="Run read-only SQL against the store. Tables: series, "
        "samples, logs, changes, alerts, incidents, timeline, "
        "audit, ...",
    )
    parser.add_argument("sql")
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    sql = ctx.args.sql.strip().rstrip(";")
    if not is_read_only_sql(sql):
        raise CliError("query runs read-only SQL (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN)")
    store = ctx.read_store()
    try:
        columns, rows = run_read_only_sql(store, sql)
    except duckdb.Error as exc:
        raise CliError(f"query failed: {str(exc).splitlines()[0]}", code=1) from None
    ctx.out(render(columns, rows, ctx.fmt))
    return 0
