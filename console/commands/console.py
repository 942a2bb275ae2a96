"""`oncall` / `oncall console`: open the console on the workspace's store."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("console", help="open the console (the default with no command)")
    parser.set_defaults(func=run_console)


def run_console(ctx: Any) -> int:
    from console.session import Session
    from console.tui.app import OncallApp

    session = Session(ctx.workspace, clock=ctx.now)
    if session.holder is not None:
        print(f"oncall: {session.holder}; showing read-only snapshots", file=sys.stderr)
    try:
        OncallApp(session).run()
    finally:
        session.close()
    return 0
