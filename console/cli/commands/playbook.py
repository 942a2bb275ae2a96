"""`oncall playbook`: lint playbooks, list the library, run one headless against an incident."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from console.cli.context import CliError, Context
from console.core.terminal import escape


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
    from console.core.output import dumps
    from console.playbooks.checking import lint_paths

    paths = [Path(p) for p in ctx.args.paths] or library_dirs(ctx)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}")
    files, problems = lint_paths(paths)
    if ctx.fmt == "json":
        print(dumps({"files": files, "problems": [str(p) for p in problems]}))
    else:
        for problem in problems:
            print(escape(problem))
        print(
            f"{files} playbook file(s), {len(problems)} problem(s)"
            if problems
            else f"{files} playbook file(s) ok"
        )
    return 1 if problems else 0


def _run(ctx: Context) -> int:
    from console.cli.commands.incident import actor
    from console.config.workspace import WorkspaceError
    from console.incidents import lifecycle as incidents
    from console.playbooks.context import RunContext, RunError
    from console.playbooks.loading import load_library
    from console.playbooks.runs import find_run, resume_run, start_run

    args = ctx.args
    answers = dict(a.split("=", 1) for a in args.answer if "=" in a)
    library, problems = load_library(library_dirs(ctx))
    if args.playbook_id not in library:
        raise CliError(
            f"no playbook {args.playbook_id!r}; known: {', '.join(sorted(library))}"
            + (f" ({len(problems)} failed to load; run `oncall playbook lint`)" if problems else "")
        )
    store = ctx.write_store()
    try:
        incident = incidents.get_incident(store, args.incident)
    except incidents.IncidentError as exc:
        raise CliError(str(exc)) from None
    try:
        workspace = ctx.workspace
    except WorkspaceError:  # headless runs without a workspace stay read-only
        workspace = None
    run_ctx = RunContext(store=store, actor=actor(ctx), clock=ctx.now, workspace=workspace)
    try:
        existing = find_run(store, incident_id=incident.id, playbook_id=args.playbook_id)
        if existing is not None:
            runner = resume_run(run_ctx, library, existing)
            print(
                f"resuming run {existing} at step {runner.current_step} ({len(runner.history)} step(s) done)"
            )
        else:
            runner = start_run(run_ctx, library[args.playbook_id], incident=incident)
            print(f"run {runner.run_id}: {escape(runner.playbook.title)}")
        return _drive(runner, args, answers)
    except RunError as exc:
        raise CliError(str(exc), 1) from None


def _drive(runner: Any, args: Any, answers: dict[str, str]) -> int:
    """Run steps until the playbook ends or needs a person; exit 1 when a step is left failed."""
    while (step := runner.current()) is not None:
        preview = runner.preview()
        print(f"\n[{step.id}] {escape(preview.title)}  ({step.kind})")
        if preview.text:
            print(f"  {preview.text.strip()}")
        if preview.error:
            print(f"  cannot prepare this step: {escape(preview.error)}")
        if preview.argv:
            print(f"  will run: {preview.argv}")
        if preview.sql:
            print(escape(f"  SQL: {' '.join(preview.sql.split())}  params {preview.params}"))
        if preview.plan:
            print("  plan: " + preview.plan.text.replace("\n", "\n  "))
        kwargs: dict[str, Any] = {}
        if step.kind == "decision":
            answer = answers.get(step.id) or (step.default if args.yes else None)
            if answer is None:
                print(
                    f"  {escape(preview.question)} — answer with --answer {step.id}=<"
                    f"{'|'.join(step.answers)}>"
                )
                return 0
            kwargs["answer"] = answer
        if step.kind in ("command", "action", "instruction"):
            if not args.yes:
                print(
                    "  stopped here: pass --yes to confirm commands and actions and tick "
                    "instructions; the run resumes at this step"
                )
                return 0
            kwargs.update(confirm=True, reason=args.reason, typed_name=args.confirm_name)
        outcome = runner.advance(**kwargs)
        repeated = outcome.error and outcome.error == preview.error  # already said above
        said = f": {escape(outcome.error)}" if outcome.error and not repeated else ""
        print(f"  → {outcome.outcome}{said}")
        if outcome.output.get("rows") is not None:
            from console.core.output import render_table

            print(
                "  "
                + render_table(outcome.output["columns"], outcome.output["rows"][:20]).replace("\n", "\n  ")
            )
        if outcome.output.get("stdout"):
            print("  " + outcome.output["stdout"].strip().replace("\n", "\n  "))
        sys.stdout.flush()
        if runner.status == "failed":
            break
    print(f"\nrun {runner.run_id} {runner.status}")
    return 1 if runner.status == "failed" else 0
