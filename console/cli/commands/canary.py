"""`oncall canary`: the workspace's canary analyses, and one judgement of a canary against its baseline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context, add_format
from console.cli.times import add_at, as_of, evaluation_time
from console.config.durations import format_duration
from console.core.output import render_table
from console.core.terminal import escape, escape_text

if TYPE_CHECKING:
    from console.canary.model import CanarySpec
    from console.canary.run import CanaryRun
    from console.store import Store

# The exit code of `oncall canary run` by verdict; 2 is a usage or configuration error.
EXIT_CODES = {"pass": 0, "fail": 1, "marginal": 3, "nodata": 4}

RUN_HELP = (
    "Judge canary NAME against its baseline over the window ending at --at (default now): each "
    "metric's PromQL on the store, one value per interval per version, a Mann-Whitney test and the "
    "ratio of means (docs/canary.md). The analysis is stored (table canary_analyses, series "
    "oncall_canary_score). On a fail with `on_fail: rollback` the rollback of the canary's alias to "
    "the baseline version is planned and shown; it is applied, audited with the analysis as its "
    "reason, only when the workspace allows actions and this is not --dry-run; the canary version "
    "is then marked bad. Exit 0 pass, 1 fail, 3 marginal, 4 nodata, 2 usage or configuration error."
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "canary",
        help="canary analyses: list them, judge one (and roll back on a fail)",
        description="The canary analyses of the workspace (`canaries:` files in oncall.yaml).",
    )
    parser.set_defaults(func=lambda ctx: _usage(parser))
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    listing = commands.add_parser(
        "list",
        help="every canary in force, with its latest verdict",
        description="Every canary in force: model, the two versions or aliases, window, on_fail, "
        "metrics, and its latest stored verdict.",
    )
    add_format(listing)
    listing.set_defaults(func=run_list)
    run = commands.add_parser("run", help="judge one canary now (or --at)", description=RUN_HELP)
    run.add_argument("name", metavar="NAME", help="the canary's name (`oncall canary list`)")
    add_at(run, "judge the window ending at TIME instead of now")
    run.add_argument(
        "--dry-run", action="store_true", help="judge and store the analysis; only show the rollback plan"
    )
    run.add_argument("--registry", help="registry name (default: the first in oncall.yaml)")
    run.add_argument("--confirm", metavar="MODEL", help="the model's name, when it is protected")
    run.add_argument(
        "--incident", type=int, help="incident id for the timeline (default: the newest open incident)"
    )
    add_format(run)
    run.set_defaults(func=run_canary)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _print_json(data: Any) -> None:
    import orjson

    from console.canary.stored import to_json

    text = orjson.dumps(orjson.loads(to_json(data)), option=orjson.OPT_INDENT_2).decode()
    print(escape_text(text))


# -- list ----------------------------------------------------------------------------------


def run_list(ctx: Context) -> int:
    from console.store import StoreMissing

    try:
        store: Store | None = ctx.cache_store()  # writable when free: keeps what loads as last good
    except StoreMissing:
        store = None  # no store yet: the canaries are in the files, no verdict was stored
    specs = ctx.config(store).canaries
    latest = _latest(store)
    root = ctx.workspace.root
    rows = [_list_row(spec, latest.get(spec.name), None if ctx.fmt == "json" else root) for spec in specs]
    if ctx.fmt == "json":
        _print_json([dict(zip(_LIST_COLUMNS, row)) for row in rows])
    elif not rows:
        print(
            "no canary in force: the canaries files named above do not load"
            if ctx.config_failed()
            else "no canaries in this workspace (add files under `canaries:` in oncall.yaml)"
        )
    else:
        print(render_table(_LIST_COLUMNS, rows))
    return 1 if ctx.config_failed() else 0


_LIST_COLUMNS = (
    "name",
    "model",
    "baseline",
    "canary",
    "window",
    "on_fail",
    "metrics",
    "verdict",
    "score",
    "judged_at",
    "source",
)


def _latest(store: Store | None) -> dict[str, Any]:
    from console.canary.stored import latest_analyses

    return latest_analyses(store) if store is not None else {}


def _where(source: str, root: Path | None) -> str:
    """A `file:line` source with the file relative to the workspace's directory when inside it."""
    if root is None or not Path(source).is_relative_to(root):
        return source
    return str(Path(source).relative_to(root))


def _list_row(spec: CanarySpec, latest: Any, root: Path | None) -> tuple[Any, ...]:
    window = f"{format_duration(spec.lookback)} at {format_duration(spec.interval)}"
    return (
        spec.name,
        spec.model,
        spec.baseline,
        spec.canary,
        window,
        spec.on_fail,
        len(spec.metrics),
        latest.verdict if latest else None,
        latest.score if latest else None,
        latest.at if latest else None,
        _where(spec.source, root),
    )


# -- run -----------------------------------------------------------------------------------


def _spec(ctx: Context, store: Store) -> CanarySpec:
    specs = ctx.config(store).canaries
    for spec in specs:
        if spec.name == ctx.args.name:
            return spec
    known = ", ".join(s.name for s in specs) or "none"
    raise CliError(f"no canary named {ctx.args.name!r} in force (known: {known}); see `oncall canary list`")


def run_canary(ctx: Context) -> int:
    from console.canary.collect import CanaryError
    from console.canary.run import RunOptions, run_analysis
    from console.cli.commands.models import _open, _open_incident
    from console.registry import RegistryError

    at = evaluation_time(ctx.args.at, ctx.now())  # a bad --at fails before the store is opened
    store = ctx.write_store()
    spec = _spec(ctx, store)
    config, registry = _open(ctx, store)
    ws = ctx.workspace
    incident = ctx.args.incident
    options = RunOptions(
        actor=ctx.actor(),
        allow_actions=ws.allow_actions,
        dry_run=ctx.args.dry_run,
        protected_models=list(config.protected_models),
        typed_name=ctx.args.confirm,
        incident_id=incident if incident is not None else _open_incident(store),
        workspace_path=str(ws.path),
        windows=ws.config.promql.windows,
        clock=ctx.now,
    )
    try:
        run = run_analysis(store, spec, registry, at, options)
    except (RegistryError, CanaryError) as exc:
        raise CliError(str(exc)) from None
    finally:
        registry.close()
    if ctx.fmt == "json":
        _print_json(run.as_dict())
    else:
        print(_run_text(run, ctx.workspace.root))
    return EXIT_CODES[run.analysis.verdict]


_RUN_COLUMNS = (
    "metric",
    "n base",
    "n canary",
    "median base",
    "median canary",
    "mean base",
    "mean canary",
    "ratio",
    "u",
    "p",
    "class",
    "sentence",
)


def _run_text(run: CanaryRun, root: Path) -> str:
    spec, analysis = run.spec, run.analysis
    window = f"{format_duration(spec.lookback)} at {format_duration(spec.interval)}"
    lines = [
        f"canary {escape(spec.name)} ({escape(_where(spec.source, root))}): {escape(spec.model)} "
        f"v{escape(analysis.baseline_version)} ({escape(spec.baseline)}) against "
        f"v{escape(analysis.canary_version)} ({escape(spec.canary)}), window {window}, {as_of(analysis.at)}",
    ]
    rows = [
        (
            m.name + (" (critical)" if m.critical else ""),
            m.n_baseline,
            m.n_canary,
            m.median_baseline,
            m.median_canary,
            m.mean_baseline,
            m.mean_canary,
            m.ratio,
            m.u,
            m.p,
            m.classification,
            m.sentence,
        )
        for m in analysis.metrics
    ]
    if rows:
        lines.append(render_table(_RUN_COLUMNS, rows, max_width=120))
    lines += [f"not collected: {escape(name)}: {escape(error)}" for name, error in analysis.errors.items()]
    score = "none" if analysis.score is None else f"{analysis.score:.2f}"
    lines += [f"score {score}, verdict {analysis.verdict}", f"reason: {escape(analysis.reason)}"]
    if run.shadow is not None:
        from console.cli.commands.canary_shadow_text import report_lines

        lines.append(f"shadow: v{escape(run.shadow.shadow)} against v{escape(run.shadow.champion)}")
        lines += report_lines(run.shadow)
    lines += [escape(note) for note in run.notes]
    if run.analysis_id is not None:
        lines.append(f"stored as analysis #{run.analysis_id}")
    lines += _rollback_lines(run)
    return "\n".join(lines)


def _rollback_lines(run: CanaryRun) -> list[str]:
    outcome = run.rollback
    if outcome is None:
        if run.analysis.verdict == "fail":
            return [f"on_fail: {run.spec.on_fail}: no rollback"]
        return []
    lines = []
    if outcome.plan is not None:
        lines += ["rollback plan:", "  " + escape(outcome.plan.summary)]
        lines += ["    " + escape(line) for line in outcome.plan.lines]
    return [*lines, escape(outcome.message)]
