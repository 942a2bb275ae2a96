"""`oncall drift --reference FILE --current FILE` or `oncall drift MODEL`: per-column drift and data quality."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from console.cli.main import CliError
from console.core.output import dumps, render
from console.core.terminal import escape

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
    parser.add_argument(
        "--at", metavar="TIME", help="with MODEL: evaluate the windows as of this UTC time (default: now)"
    )
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
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=path.suffix.lower() != ".json")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # the readers raise many types for malformed files
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CliError(f"{path}: cannot read as {kind}: {first}") from None


def _pairs(items: list[str], flag: str, convert=str) -> dict[str, Any]:
    pairs = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value:
            raise CliError(f"{flag} {item!r}: expected COLUMN=VALUE")
        try:
            pairs[name] = convert(value)
        except ValueError:
            raise CliError(f"{flag} {item!r}: {value!r} is not a number") from None
    return pairs


def _kind(value: str) -> str:
    aliases = {"num": "num", "numeric": "num", "numerical": "num", "cat": "cat", "categorical": "cat"}
    if value.lower() not in aliases:
        raise CliError(f"--column-type: {value!r} is not num or cat")
    return aliases[value.lower()]


def run(ctx: Any) -> int:
    from console.drift.quality import data_quality
    from console.drift.stats import DriftError, dataset_drift

    args = ctx.args
    if args.model:
        if args.reference or args.current:
            raise CliError("give either MODEL or --reference and --current, not both")
        from console.cli.commands.drift_model import run_model

        return run_model(ctx)
    if not (args.reference and args.current):
        raise CliError(
            "give MODEL (the workspace's drift window) or both --reference FILE and --current FILE", 2
        )
    reference, current = read_frame(args.reference), read_frame(args.current)
    kinds = {c: _kind(v) for c, v in _pairs(args.column_type, "--column-type").items()}
    methods = _pairs(args.method, "--method")
    thresholds = _pairs(args.threshold, "--threshold", float)
    shared = [c for c in reference.columns if c in current.columns]
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else shared
    absent = [c for c in columns if c not in shared]
    if absent:
        raise CliError(f"--columns: {', '.join(absent)} not in both files; columns: {', '.join(shared)}")
    if not 0 < args.drift_share <= 1:
        raise CliError("--drift-share must be in (0, 1]")
    try:
        drift = dataset_drift(
            reference,
            current,
            columns=columns,
            kinds=kinds,
            methods=methods,
            thresholds=thresholds,
            drift_share=args.drift_share,
        )
    except DriftError as exc:
        raise CliError(str(exc)) from None
    quality = (
        None
        if args.no_quality
        else data_quality(reference, current, columns=columns if args.columns else None, kinds=kinds)
    )
    found = bool(drift.drifted) or bool(quality and quality.problems)
    if args.record:
        _record(ctx, args.record, drift, quality)
    if ctx.fmt == "json":
        payload = drift.as_dict()
        if quality is not None:
            payload["quality"] = quality.as_dict()
        ctx.out(dumps(payload))
        return 1 if found else 0
    print_report(ctx, drift, quality)
    return 1 if found else 0


def print_report(ctx: Any, drift: Any, quality: Any) -> None:
    """The per-column table, the dataset verdict and the quality findings."""
    rows = [
        (
            c.column,
            c.kind,
            c.method or "",
            c.score if c.score is not None else float("nan"),
            c.threshold,
            _verdict(c),
            c.reference_rows,
            c.current_rows,
        )
        for c in drift.columns
    ]
    ctx.out(
        render(
            ["column", "type", "test", "score", "threshold", "verdict", "ref rows", "cur rows"], rows, "table"
        )
    )
    ctx.out("")
    ctx.out(_summary(drift))
    if quality is not None:
        ctx.out(
            f"quality: {quality.current_rows} current rows, {quality.reference_rows} reference rows; "
            + ("no problems" if not quality.problems else f"{len(quality.problems)} problem(s)")
        )
        for problem in quality.problems:
            ctx.out(f"  - {escape(problem)}")


def _record(ctx: Any, model: str, drift: Any, quality: Any) -> None:
    from console.drift.stats import result_samples
    from console.store import ingest_samples

    store = ctx.write_store()
    ingest_samples(store, result_samples(drift, model, ctx.now(), quality))


def _verdict(column: Any) -> str:
    if column.status != "ok":
        return column.status
    return "DRIFT" if column.drifted else "ok"


def _summary(drift: Any) -> str:
    tested = sum(1 for c in drift.columns if c.status == "ok")
    if drift.share is None:
        return "dataset drift: no data (no column had data on both sides)"
    verdict = "yes" if drift.drifted else "no"
    relation = ">=" if drift.drifted else "<"
    return (
        f"dataset drift: {verdict} ({drift.drifted_columns}/{tested} columns drifted = "
        f"{drift.share:.3g} {relation} {drift.drift_share:g})"
    )
