"""`oncall` / `oncall console`: open the console on the workspace's store."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("console", help="open the console (the default with no command)")
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.set_defaults(func=run_console)


def run_console(ctx: Any) -> int:
    from console.tui.app import OncallApp

    store = ctx.read_store()  # creates/migrates and reports a holder before the screen opens
    store.close()
    ctx._stores.remove(store)
    name = ctx.workspace.path.parent.name if not getattr(ctx.args, "store", None) else ""
    OncallApp(ctx.store_path(), workspace_name=name).run()
    return 0
