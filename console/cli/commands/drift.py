"""`oncall drift --reference FILE --current FILE` or `oncall drift MODEL`: per-column drift and data quality."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.commands.drift_common import column_kinds, column_names, pairs, print_report
from console.cli.commands.drift_model import run_model
from console.cli.context import CliError, Context
from console.cli.times import add_at
from console.core.output import dumps

if TYPE_CHECKING:
    from console.drift.quality import QualityReport
    from console.drift.stats import DatasetDrift

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
        "verdict, and data quality. Files: CSV, Parquet or JSON lines. Exit 0 no drift "
        "and no quality problem, 1 drift or a quality problem, 2 usage error.",
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
    parser.add_argument(
        "--column-type",
        action="append",
        default=[],
        metavar="COL=num|cat",
        help="a column's type (default: inferred as Evidently does)",
    )
    parser.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="COL=TEST",
        help="a column's test: ks, chisquare, z, wasserstein, jensenshannon, psi, kl_div, hellinger",
    )
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="COL=X",
        help="a column's drift threshold (default: the test's)",
    )
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
        "--record",
        metavar="MODEL",
        help="also write the results as series labelled model=MODEL into the "
        "workspace's store (oncall_drift_score, oncall_drift_detected, "
        "oncall_drift_share, oncall_dataset_drift, oncall_quality_*), for rules",
    )
    parser.add_argument("--store", help="store file for --record (default: the workspace's)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def read_frame(path_text: str) -> Any:
    """A CSV, Parquet or JSON-lines file as a DataFrame; a one-line CliError naming the file otherwise."""
    import pandas as pd

    path = Path(path_text)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise CliError(f"{path}: unknown file type {path.suffix or '(none)'!r}; use .csv, .parquet or .jsonl")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        return _read(path, kind)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # noqa: BLE001 - the readers raise many types for malformed files; said as one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CliError(f"{path}: cannot read as {kind}: {first}") from None


def _read(path: Path, kind: str) -> Any:
    import pandas as pd

    if kind == "csv":
        return pd.read_csv(path)
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=path.suffix.lower() != ".json")


def run(ctx: Context) -> int:
    args = ctx.args
    if args.model:
        if args.reference or args.current:
            raise CliError("give either MODEL or --reference and --current, not both")
        return run_model(ctx)
    if args.at is not None:
        raise CliError("--at needs MODEL: two files are compared as they are")
    if not (args.reference and args.current):
        raise CliError(
            "give MODEL (the workspace's drift window) or both --reference FILE and --current FILE", 2
        )
    return _run_files(ctx)


def _run_files(ctx: Context) -> int:
    args = ctx.args
    reference, current = read_frame(args.reference), read_frame(args.current)
    kinds = column_kinds(args.column_type)
    columns = _columns(args.columns, reference, current)
    if not 0 < args.drift_share <= 1:
        raise CliError("--drift-share must be in (0, 1]")
    drift = _dataset_drift(args, reference, current, columns, kinds)
    quality = None if args.no_quality else _quality(args, reference, current, columns, kinds)
    if args.record:
        _record(ctx, args.record, drift, quality)
    if ctx.fmt == "json":
        ctx.out(dumps(_payload(drift, quality)))
    else:
        print_report(ctx, drift, quality)
    return 1 if drift.drifted or (quality and quality.problems) else 0


def _quality(
    args: argparse.Namespace, reference: Any, current: Any, columns: list[str], kinds: dict[str, str]
) -> QualityReport:
    from console.drift.quality import data_quality

    return data_quality(reference, current, columns=columns if args.columns else None, kinds=kinds)


def _payload(drift: DatasetDrift, quality: QualityReport | None) -> dict[str, Any]:
    payload = drift.as_dict()
    if quality is not None:
        payload["quality"] = quality.as_dict()
    return payload


def _columns(option: str | None, reference: Any, current: Any) -> list[str]:
    """--columns, each in both files; else the columns the files share."""
    shared = [c for c in reference.columns if c in current.columns]
    columns = column_names(option) if option else shared
    absent = [c for c in columns if c not in shared]
    if absent:
        raise CliError(f"--columns: {', '.join(absent)} not in both files; columns: {', '.join(shared)}")
    return columns


def _dataset_drift(
    args: argparse.Namespace, reference: Any, current: Any, columns: list[str], kinds: dict[str, str]
) -> DatasetDrift:
    from console.drift.stats import DriftError, dataset_drift

    try:
        return dataset_drift(
            reference,
            current,
            columns=columns,
            kinds=kinds,
            methods=pairs(args.method, "--method"),
            thresholds=pairs(args.threshold, "--threshold", float),
            drift_share=args.drift_share,
        )
    except DriftError as exc:
        raise CliError(str(exc)) from None


def _record(ctx: Context, model: str, drift: DatasetDrift, quality: QualityReport | None) -> None:
    from console.drift.stats import result_samples
    from console.store import ingest_samples

    store = ctx.write_store()
    ingest_samples(store, result_samples(drift, model, ctx.now(), quality))
