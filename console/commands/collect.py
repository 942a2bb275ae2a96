"""`oncall collect`: run the workspace's collectors once, in the foreground, or show health."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from console.output import dumps, render
from console.terminal_text import escape


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "collect", help="run collectors: once, in the foreground, or show their health",
        description="Without options, run every enabled source on its interval until "
                    "SIGINT/SIGTERM/SIGHUP (a running batch finishes first). --once runs the named "
                    "sources (default: all enabled) one time; exit 1 if any failed. "
                    "--status shows each source's health, last success, last error and rows.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run each collector one time")
    mode.add_argument("--status", action="store_true", help="show collector health")
    parser.add_argument("names", nargs="*", metavar="NAME", help="source names (default: all)")
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.add_argument("--max-backoff", type=float, default=600.0, metavar="SECONDS",
                        help="longest wait between retries of a failing source (default 600)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def _selected(ctx: Any) -> list[Any]:
    from console.cli import CliError
    from console.workspace import build_collectors

    sources = {s.name: s for s in ctx.workspace.config.sources}
    unknown = [n for n in ctx.args.names if n not in sources]
    if unknown:
        raise CliError(f"no source named {', '.join(map(repr, unknown))} in "
                       f"{ctx.workspace.path}; sources: {', '.join(sources) or 'none'}")
    collectors = build_collectors(ctx.workspace)
    if ctx.args.names:
        by_name = {c.name: c for c in collectors}
        disabled = [n for n in ctx.args.names if n not in by_name]
        if disabled:
            raise CliError(f"source {', '.join(map(repr, disabled))} is disabled "
                           f"(enabled: false in {ctx.workspace.path})")
        collectors = [by_name[n] for n in ctx.args.names]
    return collectors


def _outcome_row(outcome: Any) -> list[Any]:
    return [outcome.name, "ok" if outcome.ok else "FAILED", outcome.rows,
            round(outcome.seconds, 3), outcome.error or ""]


def run(ctx: Any) -> int:
    if ctx.args.status:
        return _status(ctx)
    from collectors.scheduler import CollectorScheduler, run_once
    from console import cleanup

    collectors = _selected(ctx)
    store = ctx.write_store()
    if ctx.args.once:
        outcomes = [run_once(store, c, ctx.now()) for c in collectors]
        if ctx.fmt == "json":
            print(dumps([{"name": o.name, "ok": o.ok, "rows": o.rows, "seconds": o.seconds,
                          "error": o.error} for o in outcomes]))
        else:
            print(render(["source", "result", "rows", "seconds", "error"],
                         [_outcome_row(o) for o in outcomes], ctx.fmt))
        return 0 if all(o.ok for o in outcomes) else 1
    if not collectors:
        print("oncall: no enabled sources in the workspace; nothing to collect", file=sys.stderr)
        return 0
    intervals = {s.name: s.interval.total_seconds() for s in ctx.workspace.config.sources}
    stop = threading.Event()

    def report(outcome: Any) -> None:
        status = "ok" if outcome.ok else f"FAILED: {escape(outcome.error)}"
        print(f"{outcome.at:%Y-%m-%d %H:%M:%S} {outcome.name}: {outcome.rows} rows "
              f"in {outcome.seconds:.2f}s, {status}", flush=True)

    scheduler = CollectorScheduler(store, [(c, intervals[c.name]) for c in collectors], ctx.now,
                                   max_backoff=ctx.args.max_backoff, on_run=report)
    restore = cleanup.stop_on_signals(stop.set)        # SIGTERM, SIGINT, SIGHUP
    print(f"collecting {', '.join(c.name for c in collectors)} into {store.path}; "
          "Ctrl-C to stop", flush=True)
    try:
        scheduler.start()
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping: letting running collectors finish", flush=True)
        scheduler.stop()
        restore()
    return 0


def _status(ctx: Any) -> int:
    sources = ctx.workspace.config.sources
    store = ctx.read_store()
    from console.store.notes import notes_text

    _, rows = store.query("SELECT name, healthy, last_success, last_error, last_error_at, "
                          "rows_ingested, notes FROM collector_state")
    state = {r[0]: r for r in rows}
    columns = ["source", "kind", "health", "last_success", "last_error_at", "rows_ingested",
               "last_error", "notes"]
    table = []
    for source in sources:
        row = state.get(source.name)
        if not source.enabled:
            health = "disabled"
        elif row is None or row[1] is None:
            health = "never run"
        else:
            health = "healthy" if row[1] else "UNHEALTHY"
        table.append([source.name, source.kind, health, row[2] if row else None,
                      row[4] if row else None, row[5] if row else 0,
                      (row[3] or "") if row and not row[1] else "",
                      notes_text(row[6]) if row else ""])
    if ctx.fmt == "json":
        print(dumps([dict(zip(columns, r)) for r in table]))
    else:
        print(render(columns, table, ctx.fmt))
    return 1 if any(r[2] == "UNHEALTHY" for r in table) else 0
