"""`oncall canary shadow MODEL --champion V --shadow V`: two versions that scored the same requests.

Registered under `oncall canary` next to the commands of `console.cli.commands.canary`: the
command modules load in name order, so `canary` exists when this one registers; without it
(an older tree) this module adds the `canary` group itself.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from console.cli.context import CliError, Context, Handler, add_format
from console.cli.times import add_at, as_of, evaluation_time
from console.core.output import dumps, render_table
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.canary.model import ShadowOptions
    from console.canary.shadow import ShadowReport
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = _canary_commands(sub).add_parser(
        "shadow",
        help="compare a shadow version's predictions with the champion's on the same requests",
        description="For the requests both versions scored in the window: how often they decide "
        "the same class (score >= threshold), the distribution of score differences (shadow − "
        "champion), drift of the shadow's scores against the champion's (the drift test "
        "Evidently would choose, or --drift-method), and each version's accuracy, precision, "
        "recall, F1 and ROC AUC on the requests whose label has arrived. Requests only one "
        "version scored are counted. Shadow records are those the predictions source stores "
        "apart (its shadow_versions option). Exit 0, 1 when the shadow's scores drift, 2 usage error.",
    )
    parser.add_argument("model", metavar="MODEL", help="the model both versions belong to")
    parser.add_argument("--champion", required=True, metavar="V", help="the served version")
    parser.add_argument("--shadow", required=True, metavar="V", help="the version scoring in the shadow")
    parser.add_argument(
        "--window", default="1h", metavar="DURATION", help="requests of this long before --at (default 1h)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="X",
        help="a score >= X decides the positive class (default 0.5)",
    )
    parser.add_argument(
        "--drift-method",
        metavar="TEST",
        help="the drift test: ks, wasserstein, psi, … (default: Evidently's choice)",
    )
    add_at(parser, "the window ending at TIME instead of now")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write the report as series (oncall_shadow_agreement, oncall_shadow_score_diff_mean, "
        "oncall_shadow_output_drift, …) into the store, for rules",
    )
    parser.add_argument("--store", help="store file (default: the workspace's)")
    add_format(parser)
    parser.set_defaults(func=run)


def _canary_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands of `oncall canary`, made here when no other module made the group."""
    group = sub.choices.get("canary")
    if group is None:
        group = sub.add_parser("canary", help="judge a new model version against the serving one")
        group.set_defaults(func=_group_usage(group))
        return group.add_subparsers(title="canary commands", metavar="COMMAND")
    for action in group._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return group.add_subparsers(title="canary commands", metavar="COMMAND")


def _group_usage(group: argparse.ArgumentParser) -> Handler:
    def usage(ctx: Context) -> int:
        raise CliError(f"choose a command: {group.format_usage().strip()}")

    return usage


def _options(ctx: Context) -> ShadowOptions:
    from pydantic import ValidationError

    from console.canary.model import ShadowOptions

    args = ctx.args
    try:
        return ShadowOptions(threshold=args.threshold, window=args.window, drift_method=args.drift_method)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(f"--{first['loc'][0]}: {first['msg']}".replace("_", "-", 1)) from None


def run(ctx: Context) -> int:
    from console.canary.shadow import record_report, shadow_report
    from console.drift.catalogue import DriftError

    args = ctx.args
    options = _options(ctx)
    now = evaluation_time(args.at, ctx.now())
    store = ctx.write_store() if args.record else ctx.read_store()
    try:
        report = shadow_report(store, args.model, args.champion, args.shadow, now, options)
    except (ValueError, DriftError) as exc:
        raise CliError(str(exc)) from None
    if args.record:
        record_report(store, report)
    if ctx.fmt == "json":
        ctx.out(dumps(report.as_dict()))
    else:
        _print(ctx, report, store)
    return 1 if report.drift.drifted else 0


def _print(ctx: Context, report: ShadowReport, store: Store) -> None:
    from console.cli.commands.canary_shadow_text import report_lines

    seen = None
    if report.coverage.paired == 0:
        from console.canary.shadow import versions_seen

        seen = versions_seen(store, report.model, report.start, report.at)
    head = f"{report.model}: shadow {report.shadow} against champion {report.champion}, {as_of(report.at)}"
    ctx.out(escape(head))
    for line in report_lines(report, seen):
        ctx.out(line)
    if report.performance.status == "ok":
        ctx.out(render_table(*_performance_rows(report)))


def _performance_rows(report: ShadowReport) -> tuple[list[str], list[list[object]]]:
    columns = ["role", "version", "n", "accuracy", "precision", "recall", "f1", "roc auc"]
    rows: list[list[object]] = []
    for role, result in (("champion", report.performance.champion), ("shadow", report.performance.shadow)):
        if result is not None:
            figures = [result.accuracy, result.precision, result.recall, result.f1, result.roc_auc]
            rows.append([role, result.version, result.n, *("undefined" if f is None else f for f in figures)])
    return columns, rows
