"""`oncall demo`: the console on a simulated fraud-scoring service, nothing else needed."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

DEMO_WORKSPACE = Path(__file__).resolve().parents[1] / "demo_workspace"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the console on a simulated service",
                            description="Create a temporary workspace with a simulated "
                                        "fraud-scoring service's history and open the console.")
    parser.add_argument("--dir", help="where to create the demo workspace (default: a temp dir)")
    parser.add_argument("--days", type=float, default=3, help="days of history (default 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--headless", action="store_true",
                        help="build the workspace, print a summary, and exit without the console")
    parser.set_defaults(func=run)


def run(ctx: Any) -> int:
    from collectors.demo import generate_history
    from console.store import Store
    from console.workspace import load_workspace

    target = Path(ctx.args.dir or tempfile.mkdtemp(prefix="oncall-demo-")).resolve()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_WORKSPACE / "oncall.yaml", target / "oncall.yaml")
    ws = load_workspace(target / "oncall.yaml")
    ctx._workspace = ws
    now = ctx.now().replace(second=0, microsecond=0)
    with Store.open(ws.store_path) as store:
        added = generate_history(store, end=now, days=ctx.args.days, seed=ctx.args.seed)
        store.apply_retention(now + timedelta(seconds=1), ws.config.retention.days())
    print(f"demo workspace {target}: {added['samples']:,} samples, {added['logs']:,} log lines, "
          f"{added['changes']} model changes")
    if ctx.args.headless:
        return 0
    from console.tui.app import OncallApp

    OncallApp(ws.store_path, workspace_name="demo: fraud-scoring").run()
    return 0

