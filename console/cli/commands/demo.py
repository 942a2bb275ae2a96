"""`oncall demo`: the console on a simulated fraud-scoring service, nothing else needed."""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import Context

if TYPE_CHECKING:
    from console.runtime.session import Session
    from console.store import Store

DEMO_WORKSPACE = Path(__file__).resolve().parents[2] / "demo_workspace"
CANARY_MODES = ("rollback", "dry-run", "off")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the console on a simulated service",
        description="Create a temporary workspace with a simulated fraud-scoring service "
        "(history, a local registry with three versions, SLOs, a canary analysis) and run it "
        "live: 15 s in, CI deploys version 4 as a canary on a fifth of the traffic; a minute "
        "later it degrades, the canary judgement fails it and rolls it back before the latency "
        "SLO pages.",
    )
    parser.add_argument(
        "--canary",
        choices=CANARY_MODES,
        default="rollback",
        help="rollback (default): a failed canary is rolled back; dry-run: only planned, so the "
        "latency SLO pages and the analysis is on the incident; off: CI deploys v4 as champion "
        "(no canary) and the SLO pages about a minute and a half after it degrades",
    )
    parser.add_argument(
        "--dir",
        help="where to create the demo workspace, kept afterwards "
        "(default: a temporary directory, removed when the demo exits)",
    )
    parser.add_argument("--days", type=float, default=3, help="days of history (default 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="run simulated time this many times faster than the clock"
    )
    parser.add_argument(
        "--tick",
        type=float,
        default=None,
        help="wall seconds between collector/rule cycles (default: 1s, or shorter when --speed is high)",
    )
    parser.add_argument(
        "--team",
        metavar="DSN",
        help="share incidents, timeline, alerts, silences and audit through this Postgres "
        "database (a postgresql:// URL, or a 0600 file holding one); the demo starts none. "
        "Two demos on one database are two engineers on one incident",
    )
    parser.add_argument(
        "--headless", action="store_true", help="no console: print state changes until interrupted"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="with --headless, stop after this many wall seconds"
    )
    parser.set_defaults(func=run)


def copy_workspace(target: Path) -> Any:
    """Copy the demo workspace to `target` (kept if already there); return it loaded."""
    from console.config.workspace import load_workspace
    from console.core.private import copy_tree_private

    if not (target / "oncall.yaml").exists():
        copy_tree_private(DEMO_WORKSPACE, target)  # 0600 files, 0700 directories
    return load_workspace(target / "oncall.yaml")


def seed_store(
    store: Store,
    ws: Any,
    *,
    now: Any,
    days: float,
    seed: int,
    predictions_now: Any = None,
    canary: bool = True,
) -> None:
    """Fill a new demo store with history; a store that has it already is left alone.

    With `predictions_now` (a timedelta) the older prediction records are left to the
    running simulator (see `seed_demo`); without `canary`, CI deploys v4 as champion."""
    from collectors.demo import seed_demo

    source = next(s for s in ws.config.sources if s.kind == "demo")
    if store.get_cursor(source.name) is None:
        seed_demo(
            store,
            now=now,
            name=source.name,
            days=days,
            seed=seed,
            degrade_after=source.options.get("degrade_after", "75s"),
            deploy_after=source.options.get("deploy_after", "15s"),
            predictions_now=predictions_now,
            canary_alias=source.options.get("canary_alias") if canary else None,
        )


def prepare(target: Path, *, now: Any, days: float, seed: int, canary: bool = True) -> Any:
    """Copy the demo workspace to `target`, seed its store; return the workspace.  Without
    `canary`, CI deploys v4 as champion (`oncall demo --canary off`)."""
    from console.store import Store

    ws = copy_workspace(target)
    with Store.open(ws.store_path) as store:
        seed_store(store, ws, now=now, days=days, seed=seed, canary=canary)
    return ws


def run(ctx: Context) -> int:
    from console.core import cleanup

    if ctx.args.dir:
        return _run(ctx, Path(ctx.args.dir).resolve())
    target = Path(tempfile.mkdtemp(prefix="oncall-demo-")).resolve()  # 0700
    # It holds the open store: removed after the store is closed, at any exit (signals too).
    removal = cleanup.remove_at_exit(target, at_signal=False)
    try:
        return _run(ctx, target)
    finally:
        cleanup.now(removal)


def _run(ctx: Context, target: Path) -> int:
    from console.runtime.control import emit
    from console.runtime.engine import SimClock
    from console.runtime.session import Session

    if not ctx.args.headless:
        gc.disable()  # while it seeds and the UI starts; the console re-enables it after its first frame
    now = ctx.now().replace(second=0, microsecond=0)
    ws = copy_workspace(target)
    team_line = None
    if ctx.args.team:
        from console.cli.commands.demo_team import join_team, prepare_team

        join_team(target, ctx.args.team, user=None)
        ws = copy_workspace(target)
        team_line = prepare_team(ws, now)
    ctx.workspace = ws
    clock = SimClock(now, ctx.args.speed)
    tick = ctx.args.tick or max(0.1, min(1.0, 15.0 / ctx.args.speed))
    mode = {"rollback": "on", "dry-run": "dry-run", "off": "off"}[ctx.args.canary]
    session = Session(ws, clock=clock, run_command=ctx.run_command, canaries=mode)
    # the drift windows read the last 7 hours of predictions first; the rest follows live
    seed_store(
        session.store,
        ws,
        now=now,
        days=ctx.args.days,
        seed=ctx.args.seed,
        predictions_now=timedelta(hours=8),
        canary=mode != "off",
    )
    clock.restart()
    if team_line is not None:
        print(f"oncall: {team_line}", file=sys.stderr)
    if session.control_problem:
        print(f"oncall: {session.control_problem}", file=sys.stderr)
    if not ctx.args.headless:
        from console.screens.overview import session_overview

        session.read_ahead("overview", session_overview)  # while the UI imports and starts
    try:
        if ctx.args.headless:
            emit(
                f"demo workspace {target} (speed {ctx.args.speed:g}x); "
                f"run `oncall -w {target} …` in another terminal"
            )
            _run_headless(session, tick, ctx.args.duration)
        else:
            from console.core import cleanup
            from console.tui.app import OncallApp

            app = OncallApp(session, refresh_seconds=tick, subtitle=demo_subtitle(target))
            with cleanup.exit_via(lambda code: app.exit(return_code=code)):  # SIGTERM, SIGHUP…
                app.run()
    finally:
        session.close()
    return 0


def demo_subtitle(target: Path) -> str:
    """The header's line: where the demo's workspace is, and how to reach it from another terminal."""
    return f"workspace {target} · another terminal: oncall -w {target} incident list"


def _run_headless(session: Session, tick: float, duration: float | None) -> None:
    from console.cli.commands.demo_watch import HeadlessWatch
    from console.core import cleanup
    from console.runtime.control import emit

    stop = threading.Event()
    cleanup.stop_on_signals(stop.set)  # SIGTERM, SIGINT, SIGHUP: stop after this tick
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True  # a signal's exit does not wait for it
        timer.start()
    watch = HeadlessWatch(session)
    while not stop.is_set():
        for event in session.tick():
            emit(event.line())
        for line in watch.lines():
            emit(line)
        stop.wait(tick)
