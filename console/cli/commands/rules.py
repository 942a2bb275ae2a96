"""`oncall rules`: list rules and their health, check rule files, evaluate once, backtest,
run rule tests in promtool's format."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, allow_relative, evaluation_time, parse_time
from console.config.durations import parse_duration
from console.core.output import dumps, render
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.alerts.state import CycleReport
    from console.rules.model import Rule
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rules",
        help="alert rules: health, check, evaluate, backtest",
        description="Every alert rule of the workspace (rule files, SLO burn, "
        "collector health) with its last evaluation and health.",
    )
    add_format(parser)
    parser.set_defaults(func=run_list)
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    check = commands.add_parser(
        "check",
        help="validate rule files (like promtool check rules)",
        description="Validate rule files: YAML, keys, durations, label "
        "names, templates, and each rule's SQL against the "
        "store's schema. Exit 0 ok, 1 problems.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    add_format(check)
    check.set_defaults(func=run_check)

    once = commands.add_parser(
        "eval",
        help="evaluate the rules once and update alerts",
        description="One evaluation cycle at now: alert states are "
        "updated in the store and, when the workspace names an "
        "Alertmanager, firing and resolved alerts are sent there. With --dry-run nothing "
        "is written or sent: the rules are replayed on the stored history up to --at "
        "(default now) and the alerts at that time are shown.",
    )
    once.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing, send nothing: show the alerts the rules give at --at",
    )
    add_at(once, "with --dry-run: evaluate at TIME instead of now")
    once.add_argument(
        "--due-only",
        action="store_true",
        help="only groups whose interval has passed since their last evaluation",
    )
    add_format(once)
    once.set_defaults(func=run_eval)

    back = commands.add_parser(
        "backtest",
        help="when the rules would have been pending, firing, resolved over history",
        description="Replay the alerting rules over stored history with the "
        "engine's state machine (for, keep_firing_for; nothing is written): per "
        "rule and label set, the intervals it was pending, firing and resolved. "
        "Exit 0, or 1 when a rule failed to evaluate.",
    )
    allow_relative(back)
    back.add_argument("rules", nargs="*", metavar="RULE", help="rule names (default: all)")
    back.add_argument(
        "--from",
        dest="start",
        default="now-1d",
        help="start: ISO time (UTC), epoch seconds or relative, e.g. -1d (default -1d)",
    )
    back.add_argument("--to", dest="end", default="now", help="end (default now)")
    back.add_argument("--step", help="one evaluation step for every rule (default: each group's interval)")
    add_format(back)
    back.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    back.set_defaults(func=run_backtest)

    _register_test(commands)


_TEST_SHAPE = """\
the file (docs/rule-tests.md):
  rule_files: [rules/*.yml]          # relative to the test file; globs
  evaluation_interval: 1m            # default 1m
  group_eval_order: [group, ...]
  tests:
    - interval: 1m                   # input spacing; default evaluation_interval
      name: optional
      input_series:
        - series: 'up{job="a"}'
          values: '1 0x5 1+2x3 _x2 stale'
      alert_rule_test:
        - eval_time: 5m
          alertname: Down
          exp_alerts:
            - exp_labels: {job: a}
              exp_annotations: {summary: ...}
      promql_expr_test:
        - expr: EXPR
          eval_time: 5m
          exp_samples:
            - labels: '{job="a"}'
              value: 0
"""


def _register_test(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser(
        "test",
        help="run rule unit tests in promtool's format (like promtool test rules)",
        description="Run promtool unit-test files unchanged: rule_files, evaluation_interval,\n"
        "group_eval_order, input_series in the expanding notation (1+2x10, _x3, stale),\n"
        "alert_rule_test and promql_expr_test, on a scratch store of their own.\n"
        "Failures are printed as promtool prints them. Exit 0 all pass, 1 a test failed.",
        epilog=_TEST_SHAPE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("files", nargs="+", metavar="FILE")
    add_format(test)
    test.set_defaults(func=run_test)


def run_test(ctx: Context) -> int:
    import sys

    from console.alerts.promtest import report_lines, run_test_file

    outcomes = [run_test_file(name) for name in ctx.args.files]
    if ctx.fmt == "json":
        ctx.out(
            dumps(
                [{"file": o.file, "ok": o.ok, "errors": o.errors, "warnings": o.warnings} for o in outcomes]
            )
        )
    else:
        for outcome in outcomes:
            for stream, line in report_lines(outcome):
                print(line, file=sys.stderr if stream == "err" else sys.stdout, flush=True)
    return 0 if all(o.ok for o in outcomes) else 1


def workspace_rules(ctx: Context, store: Store | None) -> tuple[list[Any], list[Any]]:
    """The rules in force (rule files, SLO burn, collector health, drift, meta-alerts); a file
    that does not load is said on stderr and its last good version is used."""
    config = ctx.config(store)
    return config.all_rules(), config.inhibit_rules


def run_list(ctx: Context) -> int:
    from console.alerts.state import load_rule_states
    from console.store import StoreMissing

    try:
        store = ctx.read_store()
    except StoreMissing:  # nothing evaluated yet: the rules are still listed
        store = None
    rules, _ = workspace_rules(ctx, store)
    config = ctx.config(store)
    states = load_rule_states(store) if store is not None else {}
    columns = [
        "rule",
        "kind",
        "source",
        "file",
        "config",
        "interval",
        "for",
        "health",
        "last_eval",
        "instances",
        "error",
    ]
    rows = []
    for rule in rules:
        state = states.get(rule.key, {})
        rows.append(
            [
                rule.key,
                "record" if rule.record else "alert",
                rule.source,
                rule.where if rule.file else None,
                config.status.get(rule.file, "current") if rule.file else "current",
                rule.interval.total_seconds(),
                rule.for_.total_seconds(),
                state.get("health", "never evaluated"),
                state.get("last_eval"),
                state.get("instances"),
                state.get("last_error"),
            ]
        )
    ctx.out(render(columns, rows, ctx.fmt))
    failing = any(states.get(r.key, {}).get("health") == "error" for r in rules)
    return 1 if ctx.config_failed() or failing else 0


def run_check(ctx: Context) -> int:
    from console.rules.loading import load_rule_file

    report = []
    for name in ctx.args.files:
        loaded = load_rule_file(Path(name))
        report.append(
            {
                "file": name,
                "rules": len(loaded.rules),
                "recording": sum(r.record is not None for r in loaded.rules),
                "problems": [str(p) for p in loaded.problems],
            }
        )
    if ctx.fmt == "json":
        ctx.out(dumps(report))
    else:
        for item in report:
            for problem in item["problems"]:
                ctx.out(escape(problem))
            if item["problems"]:
                ctx.out(f"FAILED: {escape(item['file'])}: {len(item['problems'])} problem(s)")
            else:
                recording = f" ({item['recording']} recording)" if item["recording"] else ""
                ctx.out(f"SUCCESS: {escape(item['file'])}: {item['rules']} rules found{recording}")
    return 1 if any(item["problems"] for item in report) else 0


def run_eval(ctx: Context) -> int:
    from console.alerts.alertmanager import from_workspace
    from console.alerts.state import AlertEngine

    if ctx.args.dry_run:
        from console.cli.commands.rules_dry_run import dry_run

        at = evaluation_time(ctx.args.at, ctx.now())  # a bad --at fails before the store is opened
        store = ctx.read_store()
        return dry_run(ctx, store, workspace_rules(ctx, store)[0], at)
    if ctx.args.at is not None:
        raise CliError("rules eval --at needs --dry-run: the store's alerts hold for the clock only")
    if ctx.workspace.config.team is not None:
        raise CliError(
            "with team:, the alert state is the team's and the console holding the evaluator lease "
            'drives it (docs/team.md, "Who evaluates"); `oncall rules eval --dry-run` shows a cycle',
            1,
        )
    store = ctx.write_store()
    rules, inhibit = workspace_rules(ctx, store)
    now = ctx.now()
    notifier = from_workspace(ctx.workspace)
    report = AlertEngine(
        store,
        rules,
        inhibit,
        notifier=notifier,
        orphans=ctx.config(store).orphan_reason,
        windows=ctx.workspace.config.promql.windows,
        external_labels=ctx.workspace.config.external_labels,
    ).run(now, only_due=ctx.args.due_only)
    if ctx.fmt == "json":
        ctx.out(dumps(_eval_json(ctx, store, now, report)))
    else:
        _print_eval(ctx, now, report)
    return 1 if report.broken or report.notify_error or ctx.config_failed() else 0


def _eval_json(ctx: Context, store: Store, now: datetime, report: CycleReport) -> dict[str, Any]:
    return {
        "now": now,
        "evaluated": report.evaluated,
        "seconds": report.seconds,
        "failing": report.broken,
        "warnings": report.warnings,
        "transitions": [
            {
                "rule": t.rule,
                "fingerprint": t.fingerprint,
                "from": t.from_state,
                "to": t.to_state,
                "value": t.value,
                "reason": t.reason,
                "labels": t.labels,
            }
            for t in report.transitions
        ],
        "stale": report.stale,
        "recorded": report.recorded,
        "config_problems": [p.as_dict() for p in ctx.config(store).problems],
        "alertmanager_error": report.notify_error,
    }


def _print_eval(ctx: Context, now: datetime, report: CycleReport) -> None:
    ctx.out(f"evaluated {report.evaluated} rule(s) at {now:%Y-%m-%d %H:%M:%S} in {report.seconds:.2f}s")
    for key, count in report.recorded.items():
        ctx.out(escape(f"  {key}: recorded {count} series"))
    for t in report.transitions:
        # the transition's own labels: a pending alert gone inactive is not among report.alerts
        labels = ",".join(f"{k}={v}" for k, v in sorted(t.labels.items()) if k != "alertname")
        why = f" ({t.reason})" if t.reason else ""
        ctx.out(escape(f"  {t.rule} {{{labels}}}: {t.from_state} -> {t.to_state}{why}"))
    for key, error in report.broken.items():
        ctx.out(f"  failing: {escape(key)}: {escape(error)}; its alerts keep their state")
    for key, why in report.stale.items():
        ctx.out(f"  kept: {escape(key)}: {escape(why)}")
    if report.notify_error:
        ctx.out(f"  alertmanager: {escape(report.notify_error)}")


def run_backtest(ctx: Context) -> int:
    from console.alerts.backtest import TABLE_COLUMNS, as_json, backtest, table_rows
    from console.core.output import render_table

    store = ctx.read_store()
    rules = _backtest_rules(ctx, workspace_rules(ctx, store)[0])
    start, end, step = _backtest_grid(ctx)
    result = backtest(store, rules, start, end, step, windows=ctx.workspace.config.promql.windows)
    failed = 1 if any(h.errors for h in result.rules + result.recording) else 0
    if ctx.fmt == "json":
        ctx.out(dumps(as_json(result)))
        return failed
    every = f"every {step.total_seconds():g}s" if step else "each rule on its group's interval"
    ctx.out(f"backtest {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}, {every}")
    ctx.out(render_table(TABLE_COLUMNS, table_rows(result)))
    for history in result.recording:
        ctx.out(escape(f"  replayed: {history.rule.key}: recorded {history.samples} sample(s)"))
    for history in result.rules + result.recording:
        if history.first_error:
            at, error = history.first_error
            ctx.out(
                escape(
                    f"  failing: {history.rule.key}: {history.errors} of {history.evaluations} "
                    f"evaluation(s), first at {at:%Y-%m-%d %H:%M:%S}: {error}; "
                    + ("it recorded nothing then" if history.rule.record else "its alerts kept their state")
                )
            )
    return failed


def _backtest_grid(ctx: Context) -> tuple[datetime, datetime, timedelta | None]:
    """--from, --to and --step, checked."""
    now = ctx.now()
    start, end = parse_time(ctx.args.start, now, "--from"), parse_time(ctx.args.end, now, "--to")
    if end <= start:
        raise CliError("--to must be after --from")
    step = parse_duration(ctx.args.step) if ctx.args.step else None
    if step is not None and step <= timedelta(0):
        raise CliError("--step must be positive")
    return start, end, step


def _backtest_rules(ctx: Context, rules: list[Rule]) -> list[Rule]:
    """The rules named by --rule (all but the meta-alerts, which have no history, by default)."""
    rules = [r for r in rules if r.source != "oncall"]
    if not ctx.args.rules:
        return rules
    from console.alerts.backtest import with_recordings

    wanted = set(ctx.args.rules)
    unknown = wanted - {r.name for r in rules} - {r.key for r in rules}
    if unknown:
        raise CliError(f"no rule named {', '.join(sorted(unknown))}; see `oncall rules`")
    return with_recordings([r for r in rules if r.name in wanted or r.key in wanted], rules)
