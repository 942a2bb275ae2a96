"""`oncall models unmark MODEL VERSION --reason TEXT`: lift a version's rollback mark by hand.

A version rolled away from stays marked bad until a forced promote or rollback puts it back
in service, or until someone who knows it is fixed says so here; the lifting is audited.
"""

from __future__ import annotations

import argparse

from console.cli.context import CliError, Context, add_format
from console.core.output import dumps
from console.core.terminal import escape


def register_unmark(inner: argparse._SubParsersAction) -> None:
    unmark = inner.add_parser(
        "unmark",
        help="lift a version's mark so rollback and promote may propose it again",
        description="Lift the standing mark of a version rolled away from before (needs "
        "allow_actions and --reason; audited). `oncall models history MODEL` shows the marks.",
    )
    unmark.add_argument("model")
    unmark.add_argument("version")
    unmark.add_argument("--reason", default="", help="why the version is safe again (required; audited)")
    add_format(unmark)
    unmark.set_defaults(func=run_unmark)


def run_unmark(ctx: Context) -> int:
    from console.registry.marks import clear_mark, marks
    from console.store.audit import write_audit

    model, version = ctx.args.model, str(ctx.args.version).removeprefix("v")
    target = f"{model}/v{version}"
    if not ctx.workspace.allow_actions:
        ctx.deny("unmark", target, f"set `allow_actions: true` in {ctx.workspace.path} to lift marks")
    if not ctx.args.reason.strip():
        ctx.deny("unmark", target, "say why the version is safe again: --reason TEXT")
    store = ctx.write_store()
    mark = marks(store, model).get(version)
    if mark is None:
        raise CliError(
            f"{model} v{version} has no standing mark; `oncall models history {model}` lists them", 1
        )
    now, actor = ctx.now(), ctx.actor()
    with store.shared.transaction() as cur:
        clear_mark(cur, ts=now, model=model, version=version, actor=actor, reason=ctx.args.reason)
        write_audit(
            cur,
            ts=now,
            actor=actor,
            action="unmark",
            phase="after",
            target=target,
            reason=ctx.args.reason,
            params={"model": model, "version": version},
            result={"ok": True, "cleared_mark": mark.as_dict()},
        )
    if ctx.fmt == "json":
        print(dumps({"model": model, "version": version, "cleared_mark": mark.as_dict()}))
    else:
        print(escape(f"unmarked {target}: was {mark.text()}"))
    return 0
