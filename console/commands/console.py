"""`oncall` / `oncall console`: open the console on the workspace's store."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("console", help="open the console (the default with no command)")
    parser.set_defaults(func=run_console)


def run_console(ctx: Any) -> int:
    gc.disable()      # no collections while starting; the console re-enables after its first frame
    from console.session import Session
    from console.views import session_overview

    session = Session(ctx.workspace, clock=ctx.now)
    session.read_ahead("overview", session_overview)   # while the UI below imports and starts
    if session.holder is not None:
        print(f"oncall: {session.holder}; showing read-only snapshots", file=sys.stderr)
    try:
        from console.tui.app import OncallApp

        OncallApp(session).run()
    finally:
        session.close()
    return 0
