"""`oncall estimate MODEL`: label-free performance estimates (CBPE) per chunk, beside realized values."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, as_of, evaluation_time, parse_time
from console.core.output import dumps, render_table

if TYPE_CHECKING:
    import argparse
    from datetime import datetime

    from console.drift.estimation_window import EstimationResult, EstimationSpec


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "estimate",
        help="estimate a classifier's performance before its labels arrive (CBPE)",
        description="NannyML's confidence-based performance estimation for a binary classifier: "
        "calibrates the scores on a labelled reference, then estimates ROC AUC, F1, precision, recall "
        "and accuracy per chunk of the recent records, with a ±3 sampling-error band, alert thresholds "
        "(the reference chunks' mean ± 3 std) and the realized value where labels have arrived. "
        "Uses the workspace's `estimation` source for MODEL if it has one; options override it. "
        "Exit 0 no alert, 1 an estimate outside its thresholds, 2 usage error. See docs/estimation.md.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help="the model whose stored prediction records to estimate"
    )
    parser.add_argument(
        "--reference",
        metavar="START..END|FILE",
        help="labelled reference: a window of stored records (times as for --at) or a file with "
        "prediction and label columns (default: the workspace's, else none: required)",
    )
    parser.add_argument(
        "--analysis", metavar="DURATION", help="how far back the analysis reaches (default 1d)"
    )
    chunks = parser.add_mutually_exclusive_group()
    chunks.add_argument("--chunk-size", type=int, metavar="N", help="N records a chunk")
    chunks.add_argument("--chunk-period", metavar="DURATION", help="one chunk per period, e.g. 1h")
    parser.add_argument(
        "--metrics", metavar="A,B", help="roc_auc,f1,precision,recall,accuracy (default: all)"
    )
    parser.add_argument(
        "--threshold", type=float, metavar="X", help="predicted class 1 when score >= X (default 0.5)"
    )
    parser.add_argument("--show-reference", action="store_true", help="also list the reference's own chunks")
    add_at(parser, "estimate as of TIME instead of now")
    add_format(parser)
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    from console.drift.estimation import EstimationError
    from console.drift.estimation_window import evaluate_spec

    now = evaluation_time(ctx.args.at, ctx.now())
    spec = _spec(ctx, now)
    store = ctx.read_store()
    try:
        result = evaluate_spec(store, spec, now, ctx.workspace.root, reference_chunks=ctx.args.show_reference)
    except EstimationError as exc:
        raise CliError(f"estimate {spec.model}: {exc}") from None
    if ctx.fmt == "json":
        ctx.out(dumps(result.as_dict()))
    else:
        _print(ctx, result)
    return 1 if result.alerts else 0


def _spec(ctx: Context, now: datetime) -> EstimationSpec:
    """The workspace's estimation of the model with what the options override."""
    from pydantic import ValidationError

    from console.drift.estimation_window import EstimationSpec, find_spec

    args = ctx.args
    configured = find_spec(ctx.workspace, args.model)
    base: dict[str, Any] = configured.model_dump(exclude_unset=True) if configured else {"model": args.model}
    if args.reference:
        base["reference"] = _reference(args.reference, now)
    elif configured is None:
        raise CliError(
            f"estimate {args.model}: no `estimation` source for this model in the workspace; give "
            "--reference START..END (a labelled window of stored records) or --reference FILE"
        )
    if args.analysis:
        base["analysis"] = args.analysis
    if args.chunk_size is not None or args.chunk_period:
        base["chunk_size"], base["chunk_period"] = args.chunk_size, args.chunk_period
    if args.metrics:
        base["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.threshold is not None:
        base["threshold"] = args.threshold
    try:
        return EstimationSpec.model_validate(base)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "options"
        raise CliError(f"estimate {args.model}: {where}: {problem['msg']}") from None


def _reference(text: str, now: datetime) -> dict[str, Any]:
    if ".." in text:
        start, end = text.split("..", 1)
        return {
            "start": parse_time(start, now, "--reference"),
            "end": parse_time(end, now, "--reference"),
        }
    return {"file": text}


def _print(ctx: Context, result: EstimationResult) -> None:
    estimator = result.estimator
    ref = (
        f"{result.reference_bounds[0]:%Y-%m-%d %H:%M}..{result.reference_bounds[1]:%Y-%m-%d %H:%M}"
        if result.reference_bounds
        else result.spec.reference.describe()
    )
    calibrated = "calibrated" if estimator.calibrated else "scores already calibrated"
    ctx.out(
        f"{result.spec.model}, {as_of(result.now)}: reference {ref} ({len(estimator.reference_data)} rows, "
        f"{calibrated}); analysis {result.analysis_bounds[0]:%Y-%m-%d %H:%M}..{result.analysis_bounds[1]:%Y-%m-%d %H:%M} "
        f"({result.analysis_rows} rows, {result.labelled_rows} labelled), {estimator.chunking.describe()}"
    )
    thresholds = [[m, lo, hi] for m, (lo, hi) in estimator.thresholds.items()]
    ctx.out(render_table(["metric", "lower threshold", "upper threshold"], thresholds))
    if not result.chunks and not result.reference_chunks:
        ctx.out("no analysis records in the window")
        return
    metrics = list(estimator.metrics)
    rows = [
        [c.chunk.key, c.period, c.chunk.rows, *(_cell(c.metrics[m]) for m in metrics)]
        for c in [*result.reference_chunks, *result.chunks]
    ]
    ctx.out(render_table(["chunk", "period", "rows", *metrics], rows, max_width=40))
    ctx.out("each cell: estimate ±band (realized); ! = outside the thresholds")


def _cell(numbers: Any) -> str:
    from console.drift.estimation import SAMPLING_ERROR_RANGE

    if math.isnan(numbers.value):
        return "no data"
    band = SAMPLING_ERROR_RANGE * numbers.sampling_error
    text = f"{numbers.value:.3f}±{band:.3f}" if not math.isnan(band) else f"{numbers.value:.3f}"
    if not math.isnan(numbers.realized):
        text += f" ({numbers.realized:.3f})"
    return text + (" !" if numbers.alert else "")
