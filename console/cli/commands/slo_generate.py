"""`oncall slo generate`: the workspace's SLOs as Prometheus recording and alerting rules."""

from __future__ import annotations

import argparse
import sys

from console.cli.context import CliError, Context
from console.config.durations import parse_duration
from console.core.private import write_private
from console.core.terminal import escape


def add_generate(commands: argparse._SubParsersAction) -> None:
    """The `generate` subcommand of `oncall slo` (registered by console.cli.commands.slo)."""
    gen = commands.add_parser(
        "generate",
        help="write Prometheus recording and alerting rules for the SLOs (Sloth's series names)",
        description="Print one Prometheus rule file for the SLO named (or every SLO with --all): "
        "the error ratio over every window (slo:sli_error:ratio_rate5m …), Sloth's metadata "
        "series, and one alert per multiwindow burn condition, for a Prometheus, Thanos Ruler "
        "or Mimir ruler to evaluate. Check it with `promtool check rules`.",
    )
    gen.add_argument("name", nargs="?", help="the SLO to generate rules for")
    gen.add_argument("--all", action="store_true", help="every SLO in the workspace")
    gen.add_argument("-o", "--out", metavar="FILE", help="write the rule file here (0600) instead of stdout")
    gen.add_argument(
        "--interval",
        metavar="DURATION",
        help="evaluation interval of every group (default: the ruler's global interval)",
    )
    gen.set_defaults(func=run_generate)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "oncall-" + version("oncall")
    except PackageNotFoundError:
        return "oncall"


def run_generate(ctx: Context) -> int:
    from console.slo.generate import GenerateError, generate_rules

    args = ctx.args
    if args.all == bool(args.name):
        raise CliError("name one SLO or pass --all")
    interval = None
    if args.interval:
        try:
            interval = parse_duration(args.interval)
        except ValueError as exc:
            raise CliError(f"--interval: {exc}") from None
        if interval.total_seconds() <= 0:
            raise CliError("--interval must be positive")
    slos = _load(ctx)
    if args.name:
        slos = [s for s in slos if s.name == args.name] or _unknown(args.name, slos)
    elif not slos:
        raise CliError("no SLOs in this workspace (add files under `slos:` in oncall.yaml)")
    try:
        text = generate_rules(slos, interval=interval, version=_version())
    except GenerateError as exc:
        raise CliError(str(exc)) from None
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        write_private(args.out, text)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote {args.out}: rules for {len(slos)} SLO(s)", file=sys.stderr)
    return 0


def _load(ctx: Context) -> list:
    """The workspace's SLOs from its files as they are on disk (with its own alert-windows
    specs): rules are never written from a last good version."""
    from console.slo.model import SLOFileError, load_slos
    from console.slo.windows import WindowFileError, load_window_files

    try:
        windows = load_window_files(ctx.workspace.alert_window_files)
        return load_slos(ctx.workspace.slo_files, windows)
    except (SLOFileError, WindowFileError) as exc:
        for problem in exc.problems:
            print(f"oncall: {escape(str(problem))}", file=sys.stderr)
        raise CliError("no rules written: fix the files above") from None


def _unknown(name: str, slos: list) -> list:
    names = ", ".join(s.name for s in slos) or "none defined"
    raise CliError(f"no SLO named {name!r} (SLOs: {names})")
