"""`oncall audit`: the audit log — who (OS account, on behalf of whom) did or tried what."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.cli.context import Context, add_format
from console.core.output import render


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "audit",
        help="the audit log: actions, their phases, refused attempts",
        description="The newest audit rows, oldest first. `who` is the OS account of the "
        "process that acted (for a forwarded command, the client's), with any "
        "--actor / $ONCALL_ACTOR claim as 'on behalf of'. Refused attempts have "
        "phase `denied` and the reason in `error`.",
    )
    parser.add_argument("--action", help="only this action (e.g. rollback, silence.create)")
    parser.add_argument("--phase", help="only this phase (planned, before, after, failed, denied)")
    parser.add_argument("--limit", type=int, default=100, help="at most this many rows (default 100)")
    add_format(parser, ("table", "json", "csv"))
    parser.set_defaults(func=run)


def _error(result: Any) -> str | None:
    try:
        value = json.loads(result) if result else None
    except ValueError:
        return None
    return value.get("error") if isinstance(value, dict) else None


def run(ctx: Context) -> int:
    from console.store.audit import list_audit, who

    rows = list_audit(ctx.read_store(), action=ctx.args.action, phase=ctx.args.phase, limit=ctx.args.limit)
    if ctx.fmt == "json":
        columns = [
            "id",
            "ts",
            "actor",
            "uid",
            "on_behalf_of",
            "action",
            "phase",
            "target",
            "reason",
            "params",
            "result",
        ]
        ctx.out(render(columns, [[r[c] for c in columns] for r in rows], "json"))
        return 0
    columns = ["ts", "who", "uid", "action", "phase", "target", "reason", "error"]
    ctx.out(
        render(
            columns,
            [
                [
                    r["ts"],
                    who(r),
                    r["uid"],
                    r["action"],
                    r["phase"],
                    r["target"],
                    r["reason"],
                    _error(r["result"]),
                ]
                for r in rows
            ],
            ctx.fmt,
        )
    )
    return 0
