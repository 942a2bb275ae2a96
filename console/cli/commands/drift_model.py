"""`oncall drift MODEL`: the workspace's drift window of one model, on the stored prediction records."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_analysis import Analysis, analyse
from console.cli.commands.drift_common import column_names, labelled, outcome, print_report
from console.cli.context import CliError, Context
from console.cli.times import as_of, evaluation_time
from console.core.output import dumps

if TYPE_CHECKING:
    import argparse

    from console.cli.commands.drift_options import Plan
    from console.drift.config import DriftWindow
    from console.drift.windows import WindowResult


def run_model(ctx: Context, plan: Plan) -> int:
    from console.drift.windows import WindowError, find_window

    args = ctx.args
    try:
        window = _with_options(find_window(ctx.workspace, args.model), args, plan)
    except WindowError as exc:
        raise CliError(str(exc)) from None
    now = evaluation_time(args.at, ctx.now())
    result = _evaluate(ctx, window, now)
    if _global(plan):
        _reanalyse(result, window, plan)
    drift, quality = result.drift, result.quality
    found = outcome(drift, quality)
    if args.record:
        _record(ctx, args.record, result, now)
    if args.report:
        from console.cli.commands.drift_report import write_report

        analysis = Analysis(drift, quality)
        title = f"{window.model}, {as_of(now)}"
        write_report(args.report, analysis, plan.left_out, found, result.reference, result.current, title)
    if ctx.fmt == "json":
        payload = result.as_dict()
        labelled(payload, drift, plan.left_out, found)
        ctx.out(dumps(payload))
    else:
        ctx.out(f"{window.model}, {as_of(now)}: {_heading(window, result)}")
        print_report(ctx, drift, quality, plan.left_out, found)
    return found.exit_code


def _global(plan: Plan) -> bool:
    """Options the window's own evaluation cannot take: global tests, left-out columns, quality limits."""
    return plan.methods.has_global or plan.thresholds.has_global or bool(plan.left_out or plan.quality_limits)


def _reanalyse(result: WindowResult, window: DriftWindow, plan: Plan) -> None:
    """The window's frames again, with everything the plan asks on top of the window's own choices."""
    from dataclasses import replace

    from console.cli.commands.drift_options import Choice

    columns = [c.column for c in result.drift.columns]
    unknown = sorted(c for c in plan.left_out if c not in columns)
    if unknown:
        raise CliError(
            f"--exclude/--column-type names {', '.join(map(repr, unknown))}, which is not a column of "
            f"the window; columns: {', '.join(columns)}"
        )
    merged = replace(
        plan,
        kinds={**window.column_types, **plan.kinds},
        methods=Choice({**window.methods, **plan.methods.columns}, *_kind_values(plan.methods)),
        thresholds=Choice({**window.thresholds, **plan.thresholds.columns}, *_kind_values(plan.thresholds)),
    )
    again = analyse(
        merged,
        result.reference,
        result.current,
        drift_columns=columns,
        quality_columns=columns,
        drift_share=window.drift_share,
        quality_defaults={"min_rows": window.min_rows},
    )
    result.drift, result.quality = again.drift, again.quality


def _kind_values(choice: Any) -> tuple[Any, Any, Any]:
    return choice.every, choice.num, choice.cat


def _evaluate(ctx: Context, window: DriftWindow, now: datetime) -> WindowResult:
    from console.drift.stats import DriftError
    from console.drift.windows import WindowError, evaluate_window

    store = ctx.read_store()
    try:
        return evaluate_window(store, window, now, ctx.workspace.root)
    except (WindowError, DriftError) as exc:
        raise CliError(str(exc)) from None


def _with_options(window: DriftWindow, args: argparse.Namespace, plan: Plan) -> DriftWindow:
    """The window with what per-column --column-type, --method, --threshold and --columns override."""
    update: dict[str, Any] = {}
    if plan.kinds:
        update["column_types"] = {**window.column_types, **plan.kinds}
    if plan.methods.columns:
        update["methods"] = {**window.methods, **plan.methods.columns}
    if plan.thresholds.columns:
        update["thresholds"] = {**window.thresholds, **plan.thresholds.columns}
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
