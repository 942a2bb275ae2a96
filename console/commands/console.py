"""`oncall` / `oncall console`: open the console on the workspace's store."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from console.workspace import Workspace, WorkspaceError, find_workspace


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("console", help="open the console (the default with no command)")
    parser.set_defaults(func=run_console)


def run_console(ctx: Any) -> int:
    try:
        workspace = ctx.workspace
    except WorkspaceError as exc:
        fixed = until_it_loads(ctx, exc)
        if fixed is None:
            return 2
        ctx._workspace = workspace = fixed
    gc.disable()      # no collections while starting; the console re-enables after its first frame
    from console.session import Session
    from console.views import session_overview

    session = Session(workspace, clock=ctx.now)
    session.read_ahead("overview", session_overview)   # while the UI below imports and starts
    if session.holder is not None:
        print(f"oncall: {session.holder}; showing read-only snapshots", file=sys.stderr)
    try:
        from console.tui.app import OncallApp

        OncallApp(session).run()
    finally:
        session.close()
    return 0


def broken_workspace_app(ctx: Any, error: WorkspaceError) -> Any:
    """The minimal console that lists `error`'s problems (file:line) and reloads on `r`."""
    path = find_workspace(ctx.args.workspace)
    from console.tui.broken import BrokenWorkspaceApp, workspace_problems

    return BrokenWorkspaceApp(path, workspace_problems(error, path.parent))


def until_it_loads(ctx: Any, error: WorkspaceError) -> Workspace | None:
    """Show why the workspace did not load until it does (`r`); None if the engineer quits.

    With no workspace file at all there is nothing to show: that error goes to stderr.
    """
    app = broken_workspace_app(ctx, error)
    workspace = app.run()
    if workspace is None:
        for problem in app.problems:       # still there after the screen is gone
            print(f"oncall: {problem}", file=sys.stderr)
    return workspace
