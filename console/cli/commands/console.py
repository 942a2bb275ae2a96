"""`oncall` / `oncall console`: open the console on the workspace's store."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

from console.cli.context import Context
from console.config.workspace import Workspace, WorkspaceError, find_workspace, load_workspace
from console.core.terminal import escape
from console.store import StoreError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("console", help="open the console (the default with no command)")
    parser.set_defaults(func=run_console)


def run_console(ctx: Context) -> int:
    """Open the console; while the workspace or its store does not load, say why until it does."""
    try:
        workspace = ctx.workspace
    except WorkspaceError as exc:
        workspace = until_it_works(broken_workspace_app(ctx, exc))
        if workspace is None:
            return 2
        ctx.workspace = workspace
    try:
        session = open_session(ctx, workspace)
    except StoreError as exc:
        session = until_it_works(broken_store_app(ctx, workspace, exc))
        if session is None:
            return 2
    gc.disable()  # no collections while starting; the console re-enables after its first frame
    from console.screens.overview import session_overview

    session.read_ahead("overview", session_overview)  # while the UI below imports and starts
    if session.holder is not None:
        print(f"oncall: {session.holder}; showing read-only snapshots", file=sys.stderr)
    if session.control_problem:
        print(f"oncall: {session.control_problem}", file=sys.stderr)
    try:
        from console.core import cleanup
        from console.tui.app import OncallApp

        app = OncallApp(session)
        with cleanup.exit_via(lambda code: app.exit(return_code=code)):  # SIGTERM, SIGHUP…
            app.run()
    finally:
        session.close()
    return 0


def open_session(ctx: Context, workspace: Workspace) -> Any:
    from console.runtime.session import Session

    return Session(workspace, clock=ctx.now, run_command=ctx.run_command)


def broken_workspace_app(ctx: Context, error: WorkspaceError) -> Any:
    """The minimal console listing `error`'s problems (file:line); `r` loads the workspace again.

    With no workspace file at all there is nothing to show: that error goes to stderr.
    """
    path = find_workspace(ctx.args.workspace)
    from console.tui.broken import BrokenWorkspaceApp, StillBroken

    def attempt() -> Workspace:
        try:
            return load_workspace(path)
        except WorkspaceError as again:
            raise StillBroken(workspace_problems(again, path.parent)) from None

    return BrokenWorkspaceApp(path.name, workspace_problems(error, path.parent), attempt)


def broken_store_app(ctx: Context, workspace: Workspace, error: StoreError) -> Any:
    """The minimal console saying why the store did not open; `r` opens it again."""
    from console.tui.broken import BrokenWorkspaceApp, StillBroken

    def attempt() -> Any:
        try:
            return open_session(ctx, workspace)
        except StoreError as again:
            raise StillBroken([str(again)]) from None

    return BrokenWorkspaceApp(
        f"the store {workspace.store_path.name}",
        [str(error)],
        attempt,
        what_to_fix="Repair or move the store file",
    )


def workspace_problems(error: WorkspaceError, root: Path) -> list[str]:
    """Each problem of a workspace that did not load, `file:line: …` relative to `root`."""
    return [p.relative_to(root) for p in error.problems]


def until_it_works(app: Any) -> Any:
    """Run the minimal console; what it opened, or None if the engineer quit (problems to stderr)."""
    result = app.run()
    if result is None:
        for problem in app.problems:  # still there after the screen is gone
            print(f"oncall: {escape(problem)}", file=sys.stderr)
    return result
