"""`oncall logs PATTERN`: the stored log lines whose message matches a regular expression."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context
from console.core.terminal import escape
from console.screens import logs as lg

if TYPE_CHECKING:
    from console.store import Store

MATCHED, NO_MATCH, USAGE = 0, 1, 2  # as grep: lines matched, none did, the command was wrong
BATCH = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "logs",
        help="stored log lines whose message matches a regular expression",
        description="Print the stored log lines whose message matches PATTERN, oldest first. "
        "PATTERN is RE2 syntax (DuckDB's regexp_matches: linear time), case-sensitive unless "
        f"it starts with (?i), over the first {lg.MATCHED_CHARS:,} characters of each message. "
        "Exit status: 0 when lines matched, 1 when none did, 2 for a bad pattern, time or option.",
    )
    parser.add_argument("pattern", metavar="PATTERN", help="regular expression (RE2) on the message")
    parser.add_argument("--since", help="from: 30m (ago), now-2h or an ISO time (UTC)")
    parser.add_argument("--until", help="to: 30m (ago), now-2h or an ISO time (UTC)")
    parser.add_argument("--service", help="only this service's lines")
    parser.add_argument("--count", action="store_true", help="print how many lines match, not the lines")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: time level service message; json: one object a line, every field",
    )
    parser.add_argument("--store", help="store file (default: the workspace's)")
    parser.set_defaults(func=run)


def _filter(ctx: Context) -> lg.LogFilter:
    args, now = ctx.args, ctx.now()
    try:
        since = lg.parse_when(args.since, now) if args.since else None
        until = lg.parse_when(args.until, now) if args.until else None
    except lg.FilterError as exc:
        raise CliError(str(exc), USAGE) from None
    return lg.LogFilter(service=args.service, regex=args.pattern, since=since, until=until)


def run(ctx: Context) -> int:
    f = _filter(ctx)
    store = ctx.read_store()
    try:
        lg.check_pattern(store, ctx.args.pattern)
    except lg.FilterError as exc:
        raise CliError(str(exc), USAGE) from None
    if ctx.args.count:
        count = lg.logs_count(store, f)
        ctx.out(json.dumps({"count": count}) if ctx.args.format == "json" else str(count))
        return MATCHED if count else NO_MATCH
    shown = _print_lines(store, f, ctx.args.format)
    return MATCHED if shown else NO_MATCH


def _print_lines(store: Store, f: lg.LogFilter, fmt: str) -> int:
    """Stream the matching lines to stdout in batches; how many were printed."""
    where, params = f.where()
    fields = lg.ALL_FIELDS if fmt == "json" else lg.LINE_FIELDS[:4]
    cur = store.cursor()
    shown = 0
    try:
        cur.execute(
            f"SELECT {', '.join(fields)} FROM logs WHERE {where} "
            "ORDER BY ts ASC, origin ASC, line_offset ASC",
            params,
        )
        while rows := cur.fetchmany(BATCH):
            out = (_json_line(row) for row in rows) if fmt == "json" else (_text_line(row) for row in rows)
            sys.stdout.write("\n".join(out) + "\n")
            shown += len(rows)
    finally:
        cur.close()
    return shown


def _when(ts: datetime | None) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z" if ts is not None else "-"


def _text_line(row: tuple[Any, ...]) -> str:
    ts, level, service, message = row
    return " ".join((_when(ts), escape(level or "-"), escape(service or "-"), escape(message or "")))


def _json_line(row: tuple[Any, ...]) -> str:
    record = lg.line_record(row)
    record["ts"] = _when(record["ts"]) if record["ts"] is not None else None
    return escape(json.dumps(record, ensure_ascii=False))
