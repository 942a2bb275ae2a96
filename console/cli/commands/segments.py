"""`oncall segments MODEL --by region[,age_band]`: performance and fairness by segment, as Fairlearn gives them."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, as_of, evaluation_time
from console.core.output import dumps, render_table

if TYPE_CHECKING:
    import argparse

    from console.drift.segments import Group, SegmentReport


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "segments",
        help="a model's performance and fairness per group of one or more columns",
        description="Per group of the --by columns (features, or the record fields version and origin), "
        "on the model's labelled prediction records: count, selection rate, true and false positive "
        "rate, accuracy, precision; and between the groups demographic-parity and equalized-odds "
        "differences and ratios, with Fairlearn's MetricFrame semantics (docs/segments.md). "
        "Exit 0, or 2 when the segments cannot be computed as asked.",
    )
    parser.add_argument("model", metavar="MODEL", help="the model whose prediction records to read")
    parser.add_argument(
        "--by",
        required=True,
        metavar="COL[,COL]",
        help="the grouping columns; two or more make intersectional groups",
    )
    parser.add_argument(
        "--window", default="1d", metavar="DURATION", help="records with at − window < ts <= at (default 1d)"
    )
    add_at(parser, "the window ends at TIME, and only labels known by then count")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="X",
        help="the decided class is 1 when prediction >= X (default 0.5)",
    )
    parser.add_argument(
        "--missing",
        metavar="TEXT",
        help="count records without a value for a --by column in a group named TEXT (default: refuse them, as Fairlearn does)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write the numbers as series at the window's end (oncall_segment_*{model,by,segment}, "
        "oncall_fairness_*{model,by}) into the workspace's store, for rules and SLOs",
    )
    parser.add_argument("--store", help="store file (default: the workspace's)")
    add_format(parser)
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    from console.config.durations import parse_duration
    from console.drift.segments import SegmentError, evaluate_segments

    args = ctx.args
    by = [name.strip() for name in args.by.split(",")]
    if any(not name for name in by):
        raise CliError(f"--by {args.by!r}: a column name is empty; use --by region or --by region,age_band")
    try:
        window = parse_duration(args.window)
    except ValueError:
        raise CliError(f"--window {args.window!r}: not a duration; use e.g. 30m, 6h, 1d") from None
    if window.total_seconds() <= 0:
        raise CliError(f"--window {args.window!r}: must be longer than zero")
    at = evaluation_time(args.at, ctx.now())
    store = ctx.write_store() if args.record else ctx.read_store()
    try:
        report = evaluate_segments(
            store, args.model, by, at, window, threshold=args.threshold, missing=args.missing
        )
    except SegmentError as exc:
        raise CliError(str(exc)) from None
    if args.record:
        from console.store import ingest_samples

        written = ingest_samples(store, report.samples(at))
        print(f"oncall: recorded {written} samples at {at:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    if ctx.fmt == "json":
        ctx.out(dumps(report.as_dict()))
    else:
        ctx.out(_table(report))
    return 0


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.4f}"


def _row(label: str, group: Group) -> list[str]:
    count = "NaN" if math.isnan(group.count) else str(int(group.count))
    rates = [group.selection_rate, group.tpr, group.fpr, group.accuracy, group.precision]
    return [label, count, *(_number(v) for v in rates)]


def _table(report: SegmentReport) -> str:
    from console.drift.segments import segment_text

    start, end = report.window
    left = ", ".join(f"{n} {why}" for why, n in report.left_out.items() if n)
    heading = (
        f"{report.model}, {as_of(end)}: records {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} "
        f"({int(report.overall.count)} labelled{'; left out: ' + left if left else ''}), "
        f"decided class: prediction >= {report.threshold:g}"
    )
    rows = [_row(segment_text(report.by, g.values), g) for g in report.groups]
    rows.append(_row("(overall)", report.overall))
    groups = render_table(["segment", "count", "selection_rate", "tpr", "fpr", "accuracy", "precision"], rows)
    fairness = render_table(
        ["between groups", "value"], [[name, _number(value)] for name, value in report.fairness.items()]
    )
    notes = []
    if any(math.isnan(g.count) for g in report.groups):
        notes.append("NaN rows: combinations of values no record has (listed, as Fairlearn lists them)")
    return "\n\n".join([heading, groups, fairness, *notes])
