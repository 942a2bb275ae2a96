"""`oncall collect`: run the workspace's collectors once, in the foreground, or show health."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context
from console.core.output import dumps, render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "collect",
        help="run collectors: once, in the foreground, or show their health",
        description="Without options, run every enabled source on its interval until "
        "SIGINT/SIGTERM/SIGHUP (a running batch finishes first), each source in its own "
        "lane. --once runs the named sources (default: all enabled) one time, up "
        "to 8 at once; exit 1 if any failed. Each run ends by its source's "
        "`timeout`. --status shows each source's health, last success, last "
        "error, rows and skipped runs. Sent to a running console, `collect` "
        "shows the status (the console runs the collectors) and --once runs "
        "there.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run each collector one time")
    mode.add_argument("--status", action="store_true", help="show collector health")
    parser.add_argument("names", nargs="*", metavar="NAME", help="source names (default: all)")
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.add_argument(
        "--max-backoff",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="longest wait between retries of a failing source (default 600)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def _selected(ctx: Context) -> list[Any]:
    """The collectors to run: every enabled one, or those named (each must exist and be enabled)."""
    from console.config.workspace import build_collectors

    _check_names(ctx, [s.name for s in ctx.workspace.config.sources])
    collectors = build_collectors(ctx.workspace)
    if not ctx.args.names:
        return collectors
    by_name = {c.name: c for c in collectors}
    disabled = [n for n in ctx.args.names if n not in by_name]
    if disabled:
        raise CliError(
            f"source {', '.join(map(repr, disabled))} is disabled (enabled: false in {ctx.workspace.path})"
        )
    return [by_name[n] for n in ctx.args.names]


def _check_names(ctx: Context, sources: list[str]) -> None:
    unknown = [n for n in ctx.args.names if n not in sources]
    if unknown:
        raise CliError(
            f"no source named {', '.join(map(repr, unknown))} in "
            f"{ctx.workspace.path}; sources: {', '.join(sources) or 'none'}"
        )


def _outcome_row(outcome: Any) -> list[Any]:
    result = "ok" if outcome.ok else "skipped" if outcome.skipped else "FAILED"
    return [
        outcome.name,
        result,
        outcome.rows,
        round(outcome.seconds, 3),
        outcome.error or "",
        sum(entry["count"] for entry in outcome.refused),
    ]


def _print_refused(named: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Under the table, what each source refused, a reason a line (a cell would be cut)."""
    for name, entries in named:
        for entry in entries:
            print(f"{escape(name)}: {escape(entry['text'])}")


def run(ctx: Context) -> int:
    if ctx.args.status:
        return _status(ctx)
    if ctx.shared_store is not None and not ctx.args.once:
        print(
            "oncall: the console holding the store already runs the collectors; their "
            "status follows (`oncall collect --once NAME` runs one now, in the console)",
            file=sys.stderr,
        )
        return _status(ctx)
    collectors = _selected(ctx)
    store = ctx.write_store()
    if ctx.args.once:
        return _run_once(ctx, store, collectors)
    if not collectors:
        print("oncall: no enabled sources in the workspace; nothing to collect", file=sys.stderr)
        return 0
    return _run_until_stopped(ctx, store, collectors)


def _run_once(ctx: Context, store: Store, collectors: list[Any]) -> int:
    from collectors.lanes import run_all

    outcomes = run_all(store, collectors, ctx.now())
    if ctx.fmt == "json":
        print(
            dumps(
                [
                    {
                        "name": o.name,
                        "ok": o.ok,
                        "skipped": o.skipped,
                        "rows": o.rows,
                        "seconds": o.seconds,
                        "error": o.error,
                        "refused": o.refused,
                    }
                    for o in outcomes
                ]
            )
        )
    else:
        print(
            render(
                ["source", "result", "rows", "seconds", "error", "refused"],
                [_outcome_row(o) for o in outcomes],
                ctx.fmt,
            )
        )
        _print_refused([(o.name, o.refused) for o in outcomes])
    return 0 if all(o.ok for o in outcomes) else 1


def _report(outcome: Any) -> None:
    """One line a run, as it ends."""
    status = "ok" if outcome.ok else f"FAILED: {escape(outcome.error)}"
    refused = "".join(f"; {escape(entry['text'])}" for entry in outcome.refused)
    print(
        f"{outcome.at:%Y-%m-%d %H:%M:%S} {outcome.name}: {outcome.rows} rows "
        f"in {outcome.seconds:.2f}s, {status}{refused}",
        flush=True,
    )


def _run_until_stopped(ctx: Context, store: Store, collectors: list[Any]) -> int:
    from collectors.scheduler import CollectorScheduler
    from console.core import cleanup

    intervals = {s.name: s.interval.total_seconds() for s in ctx.workspace.config.sources}
    stop = threading.Event()
    scheduler = CollectorScheduler(
        store,
        [(c, intervals[c.name]) for c in collectors],
        ctx.now,
        max_backoff=ctx.args.max_backoff,
        on_run=_report,
    )
    restore = cleanup.stop_on_signals(stop.set)  # SIGTERM, SIGINT, SIGHUP
    print(f"collecting {', '.join(c.name for c in collectors)} into {store.path}; Ctrl-C to stop", flush=True)
    try:
        scheduler.start()
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping: letting running collectors finish", flush=True)
        for name in scheduler.stop():
            print(f"oncall: {name} is still running past its deadline; not waiting for it", file=sys.stderr)
        restore()
    return 0


STATUS_COLUMNS = [
    "source",
    "kind",
    "health",
    "last_success",
    "last_error_at",
    "rows_ingested",
    "last_error",
    "notes",
    "skipped",
    "refused",
]  # `refused` stays last


def _status(ctx: Context) -> int:
    sources = ctx.workspace.config.sources
    store = ctx.read_store()
    _, rows = store.query(
        "SELECT name, healthy, last_success, last_error, last_error_at, "
        "rows_ingested, notes, runs_skipped, last_skipped_at, refused "
        "FROM collector_state"
    )
    state = {r[0]: r for r in rows}
    table = [_status_row(source, state.get(source.name)) for source in sources]
    if ctx.fmt == "json":
        print(dumps(_status_json(table, state)))
    else:
        _print_status(table, ctx.fmt)
    return 1 if any(r[2] == "UNHEALTHY" for r in table) else 0


def _print_status(table: list[list[Any]], fmt: str) -> None:
    """The status table, refused rows counted, then what each source refused."""
    refused = [sum(e["count"] for e in r[-1]["last_run"]) for r in table]
    print(render(STATUS_COLUMNS, [[*r[:-1], n] for r, n in zip(table, refused)], fmt))
    _print_refused([(r[0], r[-1]["last_run"]) for r in table])


def _status_json(table: list[list[Any]], state: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The status rows as objects, with each source's skipped runs."""
    skips = {name: {"runs_skipped": row[7] or 0, "last_skipped_at": row[8]} for name, row in state.items()}
    never = {"runs_skipped": 0, "last_skipped_at": None}
    return [{**dict(zip(STATUS_COLUMNS, r)), **skips.get(r[0], never)} for r in table]


def _status_row(source: Any, row: tuple[Any, ...] | None) -> list[Any]:
    """A source's line of `collect --status`, from its `collector_state` row (None: never ran)."""
    from collectors.lanes import skipped_text
    from console.core.secrets import redact
    from console.store.notes import notes_text
    from console.store.refused import refused_json

    health = _health(source, row)
    if row is None:
        return [source.name, source.kind, health, None, None, 0, "", "", "", refused_json(None)]
    return [
        source.name,
        source.kind,
        health,
        row[2],
        row[4],
        row[5],
        redact(row[3] or "") if not row[1] else "",
        notes_text(row[6]),
        skipped_text(row[7]),
        refused_json(row[9]),
    ]


def _health(source: Any, row: tuple[Any, ...] | None) -> str:
    if not source.enabled:
        return "disabled"
    if row is None or row[1] is None:
        return "never run"
    return "healthy" if row[1] else "UNHEALTHY"
