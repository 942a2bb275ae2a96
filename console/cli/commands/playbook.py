"""`oncall playbook`: lint playbooks, list the library, run one headless against an incident."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import CliError, Context
from console.core.terminal import escape

if TYPE_CHECKING:
    from console.config.workspace import Workspace
    from console.config.yamlmarks import Problem
    from console.incidents.lifecycle import Incident
    from console.playbooks.context import Outcome, Preview, RunContext
    from console.playbooks.model import Playbook, Step
    from console.playbooks.runner import Runner
    from console.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "playbook",
        help="lint, list and run playbooks",
        description="Playbooks guide the response to one kind of failure.",
    )
    verbs = parser.add_subparsers(title="verbs", metavar="VERB", dest="verb", required=True)
    lint = verbs.add_parser(
        "lint",
        help="check playbooks: schema, step targets, unreachable "
        "steps, undefined template variables, command arguments that could "
        "become a program, an option or code (exit 1 on problems)",
    )
    lint.add_argument(
        "paths",
        nargs="*",
        help="files or directories (default: the shipped library and the workspace's playbook directories)",
    )
    lint.add_argument("--format", choices=("table", "json"), default="table")
    run_p = verbs.add_parser("run", help="run a playbook headless for an incident")
    run_p.add_argument("playbook_id")
    run_p.add_argument("--incident", type=int, required=True)
    run_p.add_argument(
        "--yes", action="store_true", help="confirm commands and actions, and take decisions' default answers"
    )
    run_p.add_argument("--answer", action="append", default=[], metavar="STEP=ANSWER")
    run_p.add_argument("--reason", help="reason for actions (else the playbook's)")
    run_p.add_argument("--confirm-name", help="type a protected model's name")
    parser.set_defaults(func=run)


def library_dirs(ctx: Context) -> list[Path]:
    """The shipped playbooks plus the workspace's playbook directories (if there is one)."""
    from console.config.workspace import WorkspaceError
    from console.playbooks.loading import SHIPPED_DIR

    dirs = [SHIPPED_DIR] if SHIPPED_DIR.is_dir() else []
    with contextlib.suppress(WorkspaceError):  # no workspace: the shipped library only
        dirs += [d for d in ctx.workspace.playbook_dirs if d.resolve() != SHIPPED_DIR]
    return dirs


def run(ctx: Context) -> int:
    if ctx.args.verb == "lint":
        return _lint(ctx)
    return _run(ctx)


def _lint(ctx: Context) -> int:
    from console.playbooks.checking import lint_paths

    paths = [Path(p) for p in ctx.args.paths] or library_dirs(ctx)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}")
    files, problems = lint_paths(paths)
    _print_lint(ctx, files, problems)
    return 1 if problems else 0


def _print_lint(ctx: Context, files: int, problems: list[Problem]) -> None:
    from console.core.output import dumps

    if ctx.fmt == "json":
        print(dumps({"files": files, "problems": [str(p) for p in problems]}))
        return
    for problem in problems:
        print(escape(problem))
    print(
        f"{files} playbook file(s), {len(problems)} problem(s)"
        if problems
        else f"{files} playbook file(s) ok"
    )


def _run(ctx: Context) -> int:
    from console.cli.commands.incident import actor
    from console.playbooks.context import RunContext, RunError

    args = ctx.args
    answers = dict(a.split("=", 1) for a in args.answer if "=" in a)
    library = _library_with(ctx, args.playbook_id)
    store = ctx.write_store()
    incident = _incident(store, args.incident)
    workspace = _workspace_or_none(ctx)
    slos = ctx.config(store).slos if workspace is not None else None  # the ones in force rank suspects
    run_ctx = RunContext(store=store, actor=actor(ctx), clock=ctx.now, workspace=workspace, slos=slos)
    try:
        runner = _open_runner(run_ctx, library, incident, args.playbook_id)
        return _drive(runner, args, answers)
    except RunError as exc:
        raise CliError(str(exc), 1) from None


def _library_with(ctx: Context, playbook_id: str) -> dict[str, Playbook]:
    """The library, which must hold `playbook_id`."""
    from console.playbooks.loading import load_library

    library, problems = load_library(library_dirs(ctx))
    if playbook_id not in library:
        raise CliError(
            f"no playbook {playbook_id!r}; known: {', '.join(sorted(library))}"
            + (f" ({len(problems)} failed to load; run `oncall playbook lint`)" if problems else "")
        )
    return library


def _incident(store: Store, incident_id: int) -> Incident:
    from console.incidents import lifecycle as incidents

    try:
        return incidents.get_incident(store, incident_id)
    except incidents.IncidentError as exc:
        raise CliError(str(exc)) from None


def _workspace_or_none(ctx: Context) -> Workspace | None:
    from console.config.workspace import WorkspaceError

    try:
        return ctx.workspace
    except WorkspaceError:  # headless runs without a workspace stay read-only
        return None


def _open_runner(
    run_ctx: RunContext, library: dict[str, Playbook], incident: Incident, playbook_id: str
) -> Runner:
    """The incident's unfinished run of the playbook, resumed, or a new one."""
    from console.playbooks.runs import find_run, resume_run, start_run

    existing = find_run(run_ctx.store, incident_id=incident.id, playbook_id=playbook_id)
    if existing is None:
        runner = start_run(run_ctx, library[playbook_id], incident=incident)
        print(f"run {runner.run_id}: {escape(runner.playbook.title)}")
        return runner
    runner = resume_run(run_ctx, library, existing)
    print(f"resuming run {existing} at step {runner.current_step} ({len(runner.history)} step(s) done)")
    return runner


def _drive(runner: Runner, args: argparse.Namespace, answers: dict[str, str]) -> int:
    """Run steps until the playbook ends or needs a person; exit 1 when a step is left failed."""
    while (step := runner.current()) is not None:
        preview = runner.preview()
        print(f"\n[{step.id}] {escape(preview.title)}  ({step.kind})")
        for line in _preview_lines(preview):
            print(line)
        given = _given(step, preview, args, answers)
        if given is None:
            return 0
        outcome = runner.advance(**given)
        _print_outcome(outcome, preview)
        sys.stdout.flush()
        if runner.status == "failed":
            break
    print(f"\nrun {runner.run_id} {runner.status}")
    return 1 if runner.status == "failed" else 0


def _preview_lines(preview: Preview) -> list[str]:
    lines = []
    if preview.text:
        lines.append(f"  {preview.text.strip()}")
    if preview.error:
        lines.append(f"  cannot prepare this step: {escape(preview.error)}")
    if preview.argv:
        lines.append(f"  will run: {preview.argv}")
    if preview.sql:
        lines.append(escape(f"  SQL: {' '.join(preview.sql.split())}  params {preview.params}"))
    if preview.plan:
        lines.append("  plan: " + preview.plan.text.replace("\n", "\n  "))
    return lines


def _given(
    step: Step, preview: Preview, args: argparse.Namespace, answers: dict[str, str]
) -> dict[str, Any] | None:
    """What `advance` gets for this step; None (after saying why) where a person must act."""
    if step.kind == "decision":
        return _answered(step, preview, args, answers)
    if step.kind in ("command", "action", "instruction"):
        return _confirmed(args)
    return {}


def _answered(
    step: Step, preview: Preview, args: argparse.Namespace, answers: dict[str, str]
) -> dict[str, Any] | None:
    answer = answers.get(step.id) or (step.default if args.yes else None)
    if answer is None:
        print(f"  {escape(preview.question)} — answer with --answer {step.id}=<{'|'.join(step.answers)}>")
        return None
    return {"answer": answer}


def _confirmed(args: argparse.Namespace) -> dict[str, Any] | None:
    if not args.yes:
        print(
            "  stopped here: pass --yes to confirm commands and actions and tick "
            "instructions; the run resumes at this step"
        )
        return None
    return {"confirm": True, "reason": args.reason, "typed_name": args.confirm_name}


def _print_outcome(outcome: Outcome, preview: Preview) -> None:
    repeated = outcome.error and outcome.error == preview.error  # already said above
    said = f": {escape(outcome.error)}" if outcome.error and not repeated else ""
    print(f"  → {outcome.outcome}{said}")
    if outcome.output.get("rows") is not None:
        from console.core.output import render_table

        table = render_table(outcome.output["columns"], outcome.output["rows"][:20])
        print("  " + table.replace("\n", "\n  "))
    if outcome.output.get("stdout"):
        print("  " + outcome.output["stdout"].strip().replace("\n", "\n  "))
