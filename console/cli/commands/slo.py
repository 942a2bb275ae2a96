"""`oncall slo`: SLO status, backtests over history, and imports from Sloth and OpenSLO."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.commands.slo_generate import add_generate
from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, as_of, evaluation_time, parse_time
from console.config.durations import format_duration, parse_duration
from console.core.output import dumps, render_table
from console.core.private import write_private
from console.core.terminal import escape
from console.slo.coverage import TOLERANCE

if TYPE_CHECKING:
    from console.slo.backtest import TimeSlices
    from console.slo.model import SLO
    from console.slo.status import SLOStatus, WindowValue
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "slo",
        help="SLO status, backtests and imports",
        description="Status of every SLO in the workspace: SLI over its window, error budget "
        "remaining, burn rates, time to exhaustion, state.",
    )
    add_format(parser)
    parser.add_argument(
        "--timeslices",
        nargs="?",
        const="1m",
        metavar="STEP",
        help="also the SLI and budget as Sloth's dashboards compute them: the mean of the 5m "
        "error ratio over the window, one slice every STEP (default 1m, Prometheus's default "
        "evaluation interval)",
    )
    add_at(parser, "the status as of TIME instead of now")
    parser.set_defaults(func=run_status)
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    back = commands.add_parser(
        "backtest",
        help="replay SLOs over history: burns per window and when alerts would fire",
        description="Per SLO, the SLI, error ratio and burn rate over each window (5m … 3d) on a "
        "grid, the intervals where each multiwindow condition held, and how many "
        "times it would have paged and ticketed. --format json: every grid point, the "
        "conditions' intervals and the page/ticket union intervals; --format csv: one row "
        "per SLO group and grid point (page, ticket, then each window's error ratio, burn "
        "and status).",
    )
    back.add_argument("name", nargs="?", help="the SLO to replay")
    back.add_argument("--all", action="store_true", help="every SLO in the workspace")
    back.add_argument(
        "--from",
        dest="start",
        default="now-1d",
        help="start: ISO time (UTC), epoch seconds or relative, e.g. -1d (default -1d; counts from --at)",
    )
    back.add_argument("--to", dest="end", default="now", help="end (default now, or --at)")
    back.add_argument("--step", default="1m", help="grid step (default 1m)")
    add_format(back, ("table", "json", "csv"))
    back.add_argument("--indent", action="store_true", help="indent the JSON (compact by default)")
    add_at(back, "what now means: the default --to, what relative --from/--to count from", under=True)
    back.set_defaults(func=run_backtest)

    imp = commands.add_parser(
        "import",
        help="convert Sloth prometheus/v1 or OpenSLO v1 SLOs into oncall's format",
        description="Print the converted SLO file (or write it with --output); every part that "
        "could not be carried over is reported on stderr.",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("-o", "--output", help="write the SLO file here instead of stdout")
    imp.set_defaults(func=run_import)
    add_generate(commands)


def _slos(ctx: Context, store: Store) -> list[SLO]:
    """The SLOs in force; an SLO file that does not load is said on stderr (its last good
    version is used) and the command exits 1."""
    return ctx.config(store).slos


def _pct(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _bar(remaining: float | None, width: int = 10) -> str:
    if remaining is None:
        return "no traffic"
    filled = max(0, min(width, round(remaining * width)))
    return f"[{'#' * filled}{'-' * (width - filled)}] {remaining * 100:.1f}%"


def _burn(value: WindowValue) -> str:
    return f"{value.burn:.2f}x" if value.burn is not None else value.status


def _eta(value: timedelta | None, remaining: float | None) -> str:
    """Time to exhaustion in its two largest units, e.g. `3h57m`."""
    if remaining is not None and remaining <= 0:
        return "exhausted"
    if value is None or value >= timedelta(days=3650):
        return "—"
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts[:2])


def _group_text(group: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(group.items()))


def run_status(ctx: Context) -> int:
    from console.slo.status import slo_status

    now = evaluation_time(ctx.args.at, ctx.now())  # a bad --at fails before the store is opened
    store = ctx.cache_store()
    slos = _slos(ctx, store)
    statuses = slo_status(store, slos, now, cache=False)  # rollups in the store
    slices = _timeslices(ctx, store, slos, now)
    if ctx.args.at is not None and ctx.fmt != "json":
        print(as_of(now))
    if ctx.fmt == "json":
        print(dumps([_status_json(s, now, slices) for s in statuses]))
    elif not statuses:
        print(
            "no SLO in force: the SLO files named above do not load"
            if ctx.config_failed()
            else "no SLOs in this workspace (add files under `slos:` in oncall.yaml)"
        )
    else:
        print(render_table(_status_columns(slices), [_status_row(s, slices) for s in statuses]))
    return 1 if ctx.config_failed() else 0


def _timeslices(ctx: Context, store: Store, slos: list[SLO], now: datetime) -> dict[tuple, TimeSlices]:
    """With --timeslices: each SLO group's time-slice budget, by (SLO name, group)."""
    if not getattr(ctx.args, "timeslices", None):
        return {}
    from console.slo.backtest import timeslices

    try:
        step = parse_duration(ctx.args.timeslices)
    except ValueError as exc:
        raise CliError(f"--timeslices: {exc}") from None
    if step <= timedelta(0) or any(slo.window / step > 200_000 for slo in slos):
        raise CliError("--timeslices: the step must be positive and give at most 200,000 slices a window")
    return {_key(t.slo, t.group): t for t in timeslices(store, slos, now, step)}


def _key(slo: SLO, group: dict[str, str]) -> tuple:
    return slo.name, tuple(sorted(group.items()))


def _span(delta: timedelta) -> str:
    """`4d`, `7h`: how much of a window, in whole days from 23h30m, else whole hours."""
    if delta >= timedelta(hours=23, minutes=30):
        return f"{delta / timedelta(days=1):.0f}d"
    return f"{delta / timedelta(hours=1):.0f}h"


def _covers(s: SLOStatus) -> str:
    """` (4d/30d)` after the SLI and budget when the data covers only part of the window."""
    cover = s.coverage
    if cover is None or not cover.partial or s.period.status != "ok":
        return ""
    return f" ({_span(cover.covered)}/{_span(cover.window)})"


def _status_columns(slices: dict[tuple, TimeSlices]) -> tuple[str, ...]:
    if not slices:
        return ("slo", "objective", "window", "sli", "budget", "burn 1h", "burn 6h", "exhaustion", "state")
    return (
        *("slo", "objective", "window", "sli (events)", "budget (events)"),
        *("sli (5m slices)", "budget (5m slices)", "burn 1h", "burn 6h", "exhaustion", "state"),
    )


def _coverage_json(s: SLOStatus) -> dict[str, Any] | None:
    cover = s.coverage
    if cover is None:
        return None
    return {
        "data_since": cover.data_since,
        "covered_seconds": cover.covered.total_seconds(),
        "window_seconds": cover.window.total_seconds(),
        "partial": cover.partial,
    }


def _timeslices_json(t: TimeSlices | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "step_seconds": t.step.total_seconds(),
        "slices": t.slices,
        "slices_with_value": t.with_value,
        "error_ratio": t.error_ratio,
        "sli": t.sli,
        "budget_remaining": t.budget_remaining,
    }


def _status_json(s: SLOStatus, now: datetime, slices: dict[tuple, TimeSlices]) -> dict[str, Any]:
    found = {"timeslices": _timeslices_json(slices.get(_key(s.slo, s.group)))} if slices else {}
    return {
        "slo": s.slo.name,
        "service": s.slo.service,
        "group": s.group,
        "objective": s.slo.objective,
        "window": format_duration(s.slo.window),
        "sli": s.sli,
        "budget_remaining": s.budget_remaining,
        "coverage": _coverage_json(s),
        **found,
        "time_to_exhaustion_seconds": (
            None if s.time_to_exhaustion is None else s.time_to_exhaustion.total_seconds()
        ),
        "state": s.state,
        "now": now,
        "windows": {
            format_duration(w): {
                "error_ratio": v.error_ratio,
                "burn": v.burn,
                "total": v.total,
                "errors": v.errors,
                "status": v.status,
            }
            for w, v in s.windows.items()
        },
        "conditions": [{"name": c.name, "severity": c.severity, "holds": held} for c, held in s.conditions],
    }


def _status_row(s: SLOStatus, slices: dict[tuple, TimeSlices]) -> tuple[str, ...]:
    covers = _covers(s)
    by_slices: tuple[str, ...] = ()
    if slices:
        t = slices.get(_key(s.slo, s.group))
        share = ""
        if t is not None and (t.slices - t.with_value) * t.step > TOLERANCE:
            share = f" ({_span(t.with_value * t.step)}/{_span(s.slo.window)})"
        by_slices = (_pct(t.sli) + share, _bar(t.budget_remaining) + share) if t is not None else ("—", "—")
    return (
        s.slo.name + (f" {{{_group_text(s.group)}}}" if s.group else ""),
        f"{s.slo.objective:g}%",
        format_duration(s.slo.window),
        _pct(s.sli) + covers,
        _bar(s.budget_remaining) + covers,
        *by_slices,
        _burn(s.windows[timedelta(hours=1)]),
        _burn(s.windows[timedelta(hours=6)]),
        _eta(s.time_to_exhaustion, s.budget_remaining),
        s.state,
    )


def run_backtest(ctx: Context) -> int:
    from console.cli.commands.slo_backtest import backtest_json, print_csv, print_json, print_table
    from console.slo.backtest import backtest

    args = ctx.args
    now = evaluation_time(args.at, ctx.now())  # --at moves "now": the default end, relative times
    start, end = parse_time(args.start, now, "--from"), parse_time(args.end, now, "--to")
    store = ctx.cache_store()
    slos = _chosen(args.name, args.all, _slos(ctx, store))
    try:
        step = parse_duration(args.step)
    except ValueError as exc:
        raise CliError(f"--step: {exc}") from None
    if step <= timedelta(0) or end < start:
        raise CliError("need --from before --to and a positive --step")
    if args.indent and ctx.fmt != "json":
        raise CliError("--indent is for --format json")
    if (end - start) / step > 200_000:
        raise CliError(f"{(end - start) / step:.0f} grid points is too many; use a larger --step")
    results = backtest(store, slos, start, end, step)
    if ctx.fmt == "json":
        print_json(backtest_json(results, start, end, step), indent=args.indent)
    elif ctx.fmt == "csv":
        print_csv(results)
    else:
        for bt in results:
            print_table(bt, start, end, step)
    return 0


def _chosen(name: str | None, every: bool, slos: list[Any]) -> list[Any]:
    """The SLO named, or all of them with --all."""
    if every == bool(name):
        raise CliError("name one SLO or pass --all")
    if not name:
        return slos
    chosen = [s for s in slos if s.name == name]
    if not chosen:
        names = ", ".join(s.name for s in slos) or "none defined"
        raise CliError(f"no SLO named {name!r} (SLOs: {names})")
    return chosen


def run_import(ctx: Context) -> int:
    from console.slo.importers import SLOImportError, convert_file

    try:
        text, notes = convert_file(Path(ctx.args.file))
    except SLOImportError as exc:
        raise CliError(str(exc)) from None
    for note in notes:
        print(f"oncall: not carried over: {escape(note)}", file=sys.stderr)
    if ctx.args.output:
        try:
            write_private(ctx.args.output, text)  # 0600, as every file oncall writes
        except OSError as exc:
            raise CliError(f"cannot write {ctx.args.output}: {exc.strerror}") from None
        print(f"wrote {ctx.args.output}; {len(notes)} part(s) not carried over", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
