"""The one reader of times given on the command line (`--at`, `--from`, `--to`, `--start`).

Accepted, as Prometheus's HTTP API accepts `time=` (a number first, then RFC 3339), plus
times relative to now: `now`, `-2h`, `now-30m`, `+1d`. A time without an offset is UTC.
Every answer is a naive UTC datetime, the store's time.
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, datetime, timedelta

from console.cli.context import CliError
from console.config.durations import parse_duration

ACCEPTED = (
    "an RFC 3339 time (2026-11-20T12:00:00Z; without an offset it is UTC), "
    "epoch seconds (1795176000), or relative to now (now, -2h, -30m, -1d, now-6h)"
)
_EPOCH = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # as Go's ParseFloat
# what argparse takes for a value, not an option, after `--at`: a negative number, and -2h too
_VALUE_WITH_DASH = re.compile(r"^-[0-9.]")
_RELATIVE = re.compile(r"(?:now)?\s*([+-])\s*(.+)")


def parse_time(text: str, now: datetime, option: str = "--at") -> datetime:
    """`text` as a naive UTC datetime; relative forms count from `now` (naive UTC).

    A CliError (exit 2) naming `option` and the accepted forms otherwise."""
    raw = text.strip()
    try:
        moment = _moment(raw, now)
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None:
        raise CliError(f"{option}: not a time: {text!r}; use {ACCEPTED}")
    return moment


def _moment(raw: str, now: datetime) -> datetime | None:
    if raw.lower() == "now":
        return now
    if _EPOCH.fullmatch(raw):
        seconds = float(raw)
        if not math.isfinite(seconds):
            return None
        return datetime(1970, 1, 1) + timedelta(seconds=seconds)
    relative = _RELATIVE.fullmatch(raw)
    if relative:
        sign, duration = relative.groups()
        span = parse_duration(duration.strip())
        return now - span if sign == "-" else now + span
    moment = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" and raw else raw)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def allow_relative(parser: argparse.ArgumentParser) -> None:
    """Let `--at -2h` (and `--from -1d`) through: argparse reads a value that starts with a dash
    as an option unless it looks like a negative number; here `-2h` looks like one too (no
    option of ours starts with a dash and a digit)."""
    parser._negative_number_matcher = _VALUE_WITH_DASH  # the one knob argparse has


def add_at(parser: argparse.ArgumentParser, what: str, *, under: bool = False) -> None:
    """The `--at TIME` option, its help led by `what`.  `under`: the
    parser is a subcommand of one that has `--at` too (`slo backtest`), whose value it keeps
    when not given again (argparse would otherwise reset it to the default)."""
    allow_relative(parser)
    parser.add_argument(
        "--at",
        metavar="TIME",
        default=argparse.SUPPRESS if under else None,
        help=f"{what}: 2026-11-20T12:00:00Z (no offset: UTC), epoch seconds, or relative (-2h, -30m, -1d, now)",
    )


def evaluation_time(text: str | None, now: datetime, option: str = "--at") -> datetime:
    """The time a command evaluates at: `--at` if given, else `now`."""
    return now if text is None else parse_time(text, now, option)


def as_of(moment: datetime) -> str:
    """The header line that says when the answer holds."""
    return f"as of {moment:%Y-%m-%d %H:%M:%S} UTC"
