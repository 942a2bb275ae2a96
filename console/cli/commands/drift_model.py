"""`oncall drift MODEL`: the workspace's drift window of one model, on the stored prediction records."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_common import column_kinds, column_names, pairs, print_report
from console.cli.context import CliError, Context
from console.cli.times import as_of, evaluation_time
from console.core.output import dumps

if TYPE_CHECKING:
    import argparse

    from console.drift.config import DriftWindow
    from console.drift.windows import WindowResult


def run_model(ctx: Context) -> int:
    from console.drift.windows import WindowError, find_window

    args = ctx.args
    try:
        window = _with_options(find_window(ctx.workspace, args.model), args)
    except WindowError as exc:
        raise CliError(str(exc)) from None
    now = evaluation_time(args.at, ctx.now())
    result = _evaluate(ctx, window, now)
    drift, quality = result.drift, result.quality
    found = bool(drift.drifted) or any(c.drifted for c in drift.columns) or bool(quality.problems)
    if args.record:
        _record(ctx, args.record, result, now)
    if ctx.fmt == "json":
        ctx.out(dumps(result.as_dict()))
    else:
        ctx.out(f"{window.model}, {as_of(now)}: {_heading(window, result)}")
        print_report(ctx, drift, quality)
    return 1 if found else 0


def _evaluate(ctx: Context, window: DriftWindow, now: datetime) -> WindowResult:
    from console.drift.stats import DriftError
    from console.drift.windows import WindowError, evaluate_window

    store = ctx.read_store()
    try:
        return evaluate_window(store, window, now, ctx.workspace.root)
    except (WindowError, DriftError) as exc:
        raise CliError(str(exc)) from None


def _with_options(window: DriftWindow, args: argparse.Namespace) -> DriftWindow:
    """The window with what --column-type, --method, --threshold and --columns override."""
    update: dict[str, Any] = {}
    if args.column_type:
        update["column_types"] = {**window.column_types, **column_kinds(args.column_type)}
    if args.method:
        update["methods"] = {**window.methods, **pairs(args.method, "--method")}
    if args.threshold:
        update["thresholds"] = {**window.thresholds, **pairs(args.threshold, "--threshold", float)}
    if args.columns:
        update["columns"] = column_names(args.columns)
    return window.model_copy(update=update) if update else window


def _heading(window: DriftWindow, result: WindowResult) -> str:
    ref = (
        f"{result.reference_bounds[0]:%Y-%m-%d %H:%M}..{result.reference_bounds[1]:%Y-%m-%d %H:%M}"
        if result.reference_bounds
        else window.reference.describe()
    )
    return (
        f"reference {ref} ({len(result.reference)} rows) vs current "
        f"{result.current_bounds[0]:%Y-%m-%d %H:%M}..{result.current_bounds[1]:%Y-%m-%d %H:%M} "
        f"({len(result.current)} rows)"
    )


def _record(ctx: Context, model: str, result: WindowResult, now: datetime) -> None:
    from console.drift.stats import result_samples
    from console.store import ingest_samples

    ingest_samples(ctx.write_store(), result_samples(result.drift, model, now, result.quality))
