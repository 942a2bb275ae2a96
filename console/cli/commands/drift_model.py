"""`oncall drift MODEL`: the workspace's drift window of one model, on the stored prediction records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.cli.main import CliError
from console.core.output import dumps


def _at(text: str | None, ctx: Any) -> datetime:
    if not text:
        return ctx.now()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--at {text!r}: not a time; use ISO 8601, e.g. 2026-11-20T12:00") from None
    if value.tzinfo is not None:
        value = (value - value.utcoffset()).replace(tzinfo=None)
    return value


def run_model(ctx: Any) -> int:
    from console.cli.commands.drift import _kind, _pairs, print_report
    from console.drift.stats import DriftError
    from console.drift.windows import WindowError, evaluate_window, find_window

    args = ctx.args
    workspace = ctx.workspace
    try:
        window = find_window(workspace, args.model)
    except WindowError as exc:
        raise CliError(str(exc)) from None
    update: dict[str, Any] = {}
    if args.column_type:
        update["column_types"] = {
            **window.column_types,
            **{c: _kind(v) for c, v in _pairs(args.column_type, "--column-type").items()},
        }
    if args.method:
        update["methods"] = {**window.methods, **_pairs(args.method, "--method")}
    if args.threshold:
        update["thresholds"] = {**window.thresholds, **_pairs(args.threshold, "--threshold", float)}
    if args.columns:
        update["columns"] = [c.strip() for c in args.columns.split(",") if c.strip()]
    if update:
        window = window.model_copy(update=update)
    now = _at(args.at, ctx)
    store = ctx.read_store()
    try:
        result = evaluate_window(store, window, now, workspace.root)
    except (WindowError, DriftError) as exc:
        raise CliError(str(exc)) from None
    drift, quality = result.drift, result.quality
    found = bool(drift.drifted) or any(c.drifted for c in drift.columns) or bool(quality.problems)
    if args.record:
        _record(ctx, args.record, result, now)
    if ctx.fmt == "json":
        ctx.out(dumps(result.as_dict()))
        return 1 if found else 0
    ref = (
        f"{result.reference_bounds[0]:%Y-%m-%d %H:%M}..{result.reference_bounds[1]:%Y-%m-%d %H:%M}"
        if result.reference_bounds
        else window.reference.describe()
    )
    ctx.out(
        f"{window.model}: reference {ref} ({len(result.reference)} rows) vs current "
        f"{result.current_bounds[0]:%Y-%m-%d %H:%M}..{result.current_bounds[1]:%Y-%m-%d %H:%M} "
        f"({len(result.current)} rows)"
    )
    print_report(ctx, drift, quality)
    return 1 if found else 0


def _record(ctx: Any, model: str, result: Any, now: datetime) -> None:
    from console.drift.stats import result_samples
    from console.store import ingest_samples

    ingest_samples(ctx.write_store(), result_samples(result.drift, model, now, result.quality))
