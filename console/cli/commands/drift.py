"""`oncall drift --reference FILE --current FILE` or `oncall drift MODEL`: per-column drift and data quality."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_analysis import analyse
from console.cli.commands.drift_common import (
    EXIT_CODES_HELP,
    column_names,
    labelled,
    outcome,
    print_report,
    rules_help,
)
from console.cli.commands.drift_model import run_model
from console.cli.commands.drift_options import Plan, add_options, build_plan, refuse_unknown
from console.cli.commands.drift_report import report_kind, write_report
from console.cli.context import CliError, Context
from console.cli.times import add_at
from console.core.output import dumps

if TYPE_CHECKING:
    from console.drift.quality import QualityReport
    from console.drift.stats import DatasetDrift

# texts pandas reads as missing by default; here they are values, and a column of numbers that
# holds one is read as text: said in a note
NA_LIKE = ("NA", "N/A", "n/a", "NaN", "nan", "-nan", "NULL", "null", "None", "#N/A", "<NA>", "#NA")
READERS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "drift",
        help="compare a current data file with a reference: drift and data quality",
        description="Per-column drift with Evidently's default tests (KS / chi-square / Z-test up to "
        "1000 reference rows; normed Wasserstein / Jensen-Shannon above), the dataset "
        "verdict, and data quality. Files: CSV, Parquet or JSON lines. "
        + rules_help()
        + " docs/drift.md has the details.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="check the workspace's drift window of this model (a `drift` source's "
        "windows) on the stored prediction records, instead of two files",
    )
    parser.add_argument("--reference", metavar="FILE", help="the reference data")
    parser.add_argument("--current", metavar="FILE", help="the data to check")
    add_at(parser, "with MODEL: the windows as of TIME instead of now")
    add_options(parser)
    parser.add_argument("--columns", metavar="A,B", help="only these columns")
    parser.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        metavar="X",
        help="dataset drift when at least this share of columns drift (default 0.5)",
    )
    parser.add_argument("--no-quality", action="store_true", help="skip the data-quality checks")
    parser.add_argument(
        "--na-values",
        action="append",
        default=[],
        metavar="TEXT",
        help="CSV: also read this text as missing (repeat for more). By default only an empty "
        "field is missing: NA, None, null, nan and N/A are values (NA may be North America)",
    )
    parser.add_argument(
        "--report",
        metavar="FILE.md|FILE.html",
        help="also write a report with each column's reference and current histograms "
        "(HTML: one self-contained file)",
    )
    parser.add_argument(
        "--record",
        metavar="MODEL",
        help="also write the results as series labelled model=MODEL into the "
        "workspace's store (oncall_drift_score, oncall_drift_detected, "
        "oncall_drift_share, oncall_dataset_drift, oncall_quality_*), for rules",
    )
    parser.add_argument("--store", help="store file for --record (default: the workspace's)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def read_frame(path_text: str, na_values: list[str] | None = None) -> Any:
    """A CSV, Parquet or JSON-lines file as a DataFrame; a one-line CliError naming the file otherwise."""
    import pandas as pd

    path = Path(path_text)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise CliError(f"{path}: unknown file type {path.suffix or '(none)'!r}; use .csv, .parquet or .jsonl")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        return _read(path, kind, na_values or [])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - the readers raise many types for malformed files; said as one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CliError(f"{path}: cannot read as {kind}: {first}") from None


def _read(path: Path, kind: str, na_values: list[str]) -> Any:
    """Only an empty CSV field (and `na_values`) is missing; JSON numbers parse to the nearest double."""
    import pandas as pd

    if kind == "csv":
        return pd.read_csv(path, keep_default_na=False, na_values=["", *na_values])
    if kind == "parquet":
        return pd.read_parquet(path)
    return _read_json(path)


def _read_json(path: Path) -> Any:
    """JSON lines (or one JSON document) through the standard parser, whose numbers are Python's
    float(): pandas' own JSON reader rounds some, and refuses subnormal ones."""
    import json

    import pandas as pd

    with path.open(encoding="utf-8") as handle:
        if path.suffix.lower() == ".json":
            document = json.load(handle)
            return (
                pd.DataFrame.from_records(document) if isinstance(document, list) else pd.DataFrame(document)
            )
        rows = []
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise CliError(f"{path}:{number}: expected one JSON object a line")
            rows.append(row)
    return pd.DataFrame.from_records(rows)


def run(ctx: Context) -> int:
    args = ctx.args
    plan = build_plan(args)
    if not 0 < args.drift_share <= 1:
        raise CliError("--drift-share must be in (0, 1]")
    if args.report:
        report_kind(args.report)
    if args.model:
        if args.reference or args.current:
            raise CliError("give either MODEL or --reference and --current, not both")
        if args.na_values:
            raise CliError("--na-values is for CSV files; MODEL reads the stored records")
        return run_model(ctx, plan)
    if args.at is not None:
        raise CliError("--at needs MODEL: two files are compared as they are")
    if not (args.reference and args.current):
        raise CliError(
            "give MODEL (the workspace's drift window) or both --reference FILE and --current FILE", 2
        )
    return _run_files(ctx, plan)


def _run_files(ctx: Context, plan: Plan) -> int:
    args = ctx.args
    reference = read_frame(args.reference, args.na_values)
    current = read_frame(args.current, args.na_values)
    shared = [str(c) for c in reference.columns if c in current.columns]
    refuse_unknown(plan, shared, {str(c) for c in [*reference.columns, *current.columns]})
    columns = _columns(args.columns, shared)
    quality_columns = columns if args.columns else [str(c) for c in reference.columns]
    result = analyse(
        plan,
        reference,
        current,
        drift_columns=columns,
        quality_columns=None if args.no_quality else quality_columns,
        drift_share=args.drift_share,
    )
    drift, quality = result.drift, result.quality
    found = outcome(drift, quality)
    csv = any(READERS.get(Path(f).suffix.lower()) == "csv" for f in (args.reference, args.current))
    notes = na_like_notes(reference, current, [c.column for c in drift.columns]) if csv else []
    if args.record:
        _record(ctx, args.record, drift, quality)
    if args.report:
        write_report(args.report, result, plan.left_out, found, reference, current, _title(args))
    if ctx.fmt == "json":
        payload = drift.as_dict()
        labelled(payload, drift, plan.left_out, found, notes)
        if quality is not None:
            payload["quality"] = quality.as_dict()
        ctx.out(dumps(payload))
    else:
        print_report(ctx, drift, quality, plan.left_out, found, notes)
    return found.exit_code


def na_like_notes(reference: Any, current: Any, columns: list[str]) -> list[str]:
    """A note for each text column whose values are numbers but for texts like NA (read as values)."""
    import pandas as pd

    notes = []
    for column in columns:
        sides = (reference[column], current[column])
        if all(pd.api.types.is_numeric_dtype(side.dtype) for side in sides):
            continue  # bool counts as numeric here: no text in it
        values = pd.concat(sides, ignore_index=True).dropna()
        na_like = values.isin(NA_LIKE)
        rest = values[~na_like]
        if na_like.any() and len(rest) and pd.to_numeric(rest, errors="coerce").notna().all():
            texts = sorted({str(v) for v in values[na_like].unique()})
            notes.append(
                f"column {column!r} holds numbers and {int(na_like.sum())} texts {', '.join(texts)}, so "
                f"it is categorical; {' '.join('--na-values ' + t for t in texts)} reads them as missing"
            )
    return notes


def _title(args: argparse.Namespace) -> str:
    return f"{Path(args.current).name} against {Path(args.reference).name}"


def _columns(option: str | None, shared: list[str]) -> list[str]:
    """--columns, each in both files; else the columns the files share."""
    columns = column_names(option) if option else shared
    absent = [c for c in columns if c not in shared]
    if absent:
        raise CliError(f"--columns: {', '.join(absent)} not in both files; columns: {', '.join(shared)}")
    return columns


def _record(ctx: Context, model: str, drift: DatasetDrift, quality: QualityReport | None) -> None:
    from console.drift.stats import result_samples
    from console.store import ingest_samples

    store = ctx.write_store()
    ingest_samples(store, result_samples(drift, model, ctx.now(), quality))
