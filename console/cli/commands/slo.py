"""`oncall slo`: SLO status, backtests over history, and imports from Sloth and OpenSLO."""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, as_of, evaluation_time, parse_time
from console.config.durations import format_duration, parse_duration
from console.core.output import dumps, render_table
from console.core.private import write_private
from console.core.terminal import escape

if TYPE_CHECKING:
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
    add_at(parser, "the status as of TIME instead of now")
    parser.set_defaults(func=run_status)
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    back = commands.add_parser(
        "backtest",
        help="replay SLOs over history: burns per window and when alerts would fire",
        description="Per SLO, the SLI, error ratio and burn rate over each window (5m … 3d) on a "
        "grid, the intervals where each multiwindow condition held, and how many "
        "times it would have paged and ticketed.",
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
    add_format(back)
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
    if ctx.args.at is not None and ctx.fmt != "json":
        print(as_of(now))
    if ctx.fmt == "json":
        print(dumps([_status_json(s, now) for s in statuses]))
    elif not statuses:
        print(
            "no SLO in force: the SLO files named above do not load"
            if ctx.config_failed()
            else "no SLOs in this workspace (add files under `slos:` in oncall.yaml)"
        )
    else:
        columns = ("slo", "objective", "window", "sli", "budget", "burn 1h", "burn 6h", "exhaustion", "state")
        print(render_table(columns, [_status_row(s) for s in statuses]))
    return 1 if ctx.config_failed() else 0


def _status_json(s: SLOStatus, now: datetime) -> dict[str, Any]:
    return {
        "slo": s.slo.name,
        "service": s.slo.service,
        "group": s.group,
        "objective": s.slo.objective,
        "window": format_duration(s.slo.window),
        "sli": s.sli,
        "budget_remaining": s.budget_remaining,
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


def _status_row(s: SLOStatus) -> tuple[str, ...]:
    return (
        s.slo.name + (f" {{{_group_text(s.group)}}}" if s.group else ""),
        f"{s.slo.objective:g}%",
        format_duration(s.slo.window),
        _pct(s.sli),
        _bar(s.budget_remaining),
        _burn(s.windows[timedelta(hours=1)]),
        _burn(s.windows[timedelta(hours=6)]),
        _eta(s.time_to_exhaustion, s.budget_remaining),
        s.state,
    )


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(milliseconds=int(ms))).isoformat() + "Z"


def _finite(values: Any) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values.tolist()]


def backtest_json(results: list[Any], start: datetime, end: datetime, step: timedelta) -> list[dict]:
    """Backtests as plain data; no NaN or inf: a missing value is null with its status."""
    from console.slo.backtest import Backtest

    out = []
    for bt in results:
        windows = {}
        for window, ratio in bt.error_ratio.items():
            windows[format_duration(window)] = {
                "sli": [None if r is None else 1 - r for r in _finite(ratio)],
                "error_ratio": _finite(ratio),
                "burn": _finite(ratio / bt.slo.budget),
                "status": [Backtest.STATUS[k] for k in bt.status[window].tolist()],
            }
        out.append(
            {
                "slo": bt.slo.name,
                "group": bt.group,
                "objective": bt.slo.objective,
                "from": start,
                "to": end,
                "step_seconds": step.total_seconds(),
                "times": [_iso(t) for t in bt.times.tolist()],
                "windows": windows,
                "conditions": [
                    {
                        **cond.as_dict(),
                        "intervals": [{"from": _iso(a), "to": _iso(b)} for a, b in bt.intervals(cond.name)],
                    }
                    for cond in bt.conditions
                ],
                "would_page": len(bt.severity_runs("page")),
                "would_ticket": len(bt.severity_runs("ticket")),
            }
        )
    return out


def run_backtest(ctx: Context) -> int:
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
    if (end - start) / step > 200_000:
        raise CliError(f"{(end - start) / step:.0f} grid points is too many; use a larger --step")
    results = backtest(store, slos, start, end, step)
    if ctx.fmt == "json":
        print(dumps(backtest_json(results, start, end, step)))
        return 0
    for bt in results:
        _print_backtest(bt, start, end, step)
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


def _print_backtest(bt: Any, start: datetime, end: datetime, step: timedelta) -> None:
    title = bt.slo.name + (f" {{{_group_text(bt.group)}}}" if bt.group else "")
    print(
        f"{escape(title)}: objective {bt.slo.objective:g}%, {start:%Y-%m-%d %H:%M} → "
        f"{end:%Y-%m-%d %H:%M} every {format_duration(step)}"
    )
    rows = [_window_row(bt, window, ratio) for window, ratio in bt.error_ratio.items()]
    print(render_table(("window", "points", "max burn", "at", "mean burn"), rows))
    cond_rows = []
    for cond in bt.conditions:
        runs = bt.intervals(cond.name)
        cond_rows.append(
            (
                cond.name,
                f"{cond.factor:g}x",
                len(runs),
                "; ".join(f"{_iso(a)} → {_iso(b)}" for a, b in runs[:3])
                + (f" … +{len(runs) - 3}" if len(runs) > 3 else ""),
            )
        )
    if cond_rows:
        print(render_table(("condition", "factor", "times", "held"), cond_rows, max_width=120))
    print(
        f"would have paged {len(bt.severity_runs('page'))} times, "
        f"ticketed {len(bt.severity_runs('ticket'))} times\n"
    )


def _window_row(bt: Any, window: timedelta, ratio: Any) -> tuple[Any, ...]:
    """A burn window's line: points, the worst burn and when, the mean burn."""
    valid = ~(ratio != ratio)
    if not valid.any():
        reason = "no traffic" if (bt.status[window] == 2).any() else "no data"
        return (format_duration(window), 0, reason, "", "")
    worst = int(ratio[valid].argmax())
    return (
        format_duration(window),
        int(valid.sum()),
        f"{ratio[valid].max() / bt.slo.budget:.2f}x",
        _iso(bt.times[valid][worst]),
        f"{(ratio[valid].mean()) / bt.slo.budget:.2f}x",
    )


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
