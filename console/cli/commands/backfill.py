"""`oncall import FILE…`: backfill the store from metric, log and sample files."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from console.cli.context import Context
from console.core.output import dumps
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.store.importer import ImportReport

FORMATS = ("prometheus", "openmetrics", "jsonl", "csv", "parquet")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import",
        help="backfill from OpenMetrics/Prometheus text, JSON-lines logs, CSV or Parquet",
        description="Import files into the store. Samples need timestamps. Each file is "
        "committed in batches with its position, so an interrupted import "
        "resumes and a repeated one adds nothing.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument(
        "--file-format",
        dest="file_format",
        choices=FORMATS,
        help="the files' format (default: from the name and content)",
    )
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(ctx: Context) -> int:
    from console.store.importer import ImportFailed, import_file

    store = ctx.write_store()
    reports = []
    failed = False
    for name in ctx.args.files:
        try:
            report = import_file(store, name, now=ctx.now(), fmt=ctx.args.file_format)
        except ImportFailed as exc:
            print(f"oncall: {escape(exc)}")
            failed = True
            continue
        reports.append(report)
        if ctx.fmt == "table":
            _print_report(report)
    if ctx.fmt == "json":
        print(dumps([r.as_dict() for r in reports]))
    return 1 if failed else 0


def _print_report(report: ImportReport) -> None:
    what = "log lines" if report.kind == "logs" else "samples"
    resumed = f", resumed after line {report.resumed_at}" if report.resumed_at else ""
    print(
        f"{report.path}: {report.fmt}, {report.lines} lines read{resumed}, "
        f"{report.added} {what} added, {report.skipped} skipped"
    )
    for line, reason in report.skips:
        print(f"  {escape(report.path.name)}:{line}: {escape(reason)}")
    if report.skipped > len(report.skips):
        print(f"  … and {report.skipped - len(report.skips)} more skipped")
