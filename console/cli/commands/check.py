"""`oncall check`: validate the workspace and every file it names."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.context import Context
from console.config.workspace import Workspace, WorkspaceError
from console.config.yamlmarks import Problem, YamlLimits, load_marked
from console.core.output import dumps
from console.core.terminal import escape
from console.store import StoreError, StoreMissing
from console.store.footprint import footprint, footprint_lines
from console.store.journal import wal_path

if TYPE_CHECKING:
    from console.runtime.lastgood import Config
    from console.store import Store

# Validators for the files a workspace names, by workspace key.  Each takes a path and the
# workspace, and returns problems; modules that own a file kind add theirs here.
FILE_CHECKS: dict[str, list[Callable[[Any, Workspace | None], list[Problem]]]] = {
    "slos": [],
    "alert_windows": [],
    "rules": [],
    "playbooks": [],
    "canaries": [],
}


def _check_slo_file(path: Any, ws: Workspace | None = None) -> list[Problem]:
    from console.slo.model import check_slo_file  # lazy: keeps `oncall check` fast
    from console.slo.windows import WindowFileError, load_window_file

    windows = {}
    for file in ws.alert_window_files if ws is not None else []:
        try:
            windows.update({spec.name: spec for spec in load_window_file(file)})
        except (WindowFileError, Problem):
            continue  # that file's own check reports it; here only its good specs matter
    return check_slo_file(path, windows)


def _check_window_file(path: Any, ws: Workspace | None = None) -> list[Problem]:
    from console.slo.windows import WindowFileError, load_window_file

    try:
        load_window_file(path)
    except WindowFileError as exc:
        return exc.problems
    return []


FILE_CHECKS["slos"].append(_check_slo_file)
FILE_CHECKS["alert_windows"].append(_check_window_file)


def _check_playbook_file(path: Any, ws: Workspace | None = None) -> list[Problem]:
    from console.playbooks.checking import check_playbook_file  # lazy, like the SLO check

    return check_playbook_file(path)


FILE_CHECKS["playbooks"].append(_check_playbook_file)


def _check_rule_file(path: Any, ws: Workspace | None = None) -> list[Problem]:
    from console.rules.loading import check_rule_file  # lazy, like the SLO check

    return check_rule_file(path)


FILE_CHECKS["rules"].append(_check_rule_file)


def _check_canary_file(path: Any, ws: Workspace | None = None) -> list[Problem]:
    from console.canary.model import CanaryFileError, load_canary_file  # lazy, like the SLO check
    from console.config.yamlmarks import read_text

    try:
        load_canary_file(Path(path), read_text(path))
    except CanaryFileError as exc:
        return exc.problems
    except Problem as problem:
        return [problem]
    return []


FILE_CHECKS["canaries"].append(_check_canary_file)


def _yaml_problems(path: Any, limits: YamlLimits) -> list[Problem]:
    try:
        load_marked(path, limits)
    except Problem as problem:
        return [problem]
    return []


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check",
        help="validate the workspace and the files it names",
        description="Validate oncall.yaml, its includes, and every SLO, canary, "
        "rule and playbook file. Exit 0 ok, 1 problems, 2 usage.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def check_workspace(ws: Workspace) -> list[Problem]:
    """Every problem in the files the workspace names (the workspace itself loaded)."""
    from console.config.plugins import available_collectors
    from console.registry import registry_problems

    limits = ws.config.limits.yaml()
    playbooks = [path for directory in ws.playbook_dirs for path in sorted(directory.glob("*.y*ml"))]
    problems = _file_problems("slos", ws.slo_files, limits, ws)
    problems += _file_problems("alert_windows", ws.alert_window_files, limits, ws)
    problems += _file_problems("rules", ws.rule_files, limits, ws)
    problems += _file_problems("playbooks", playbooks, limits, ws)
    problems += _file_problems("canaries", ws.canary_files, limits, ws)
    _, broken = available_collectors()
    for name, error in broken.items():
        problems.append(Problem(None, None, f"collector plugin {name!r} failed to load: {error}"))
    problems += registry_problems(ws)
    return problems


def _file_problems(kind: str, paths: Iterable[Path], limits: YamlLimits, ws: Workspace) -> list[Problem]:
    """Each file's YAML problems, or when its YAML is sound, what the checks of its kind find."""
    problems: list[Problem] = []
    for path in paths:
        # A file of AlertWindows documents has several; its own check reads them, bounded.
        yaml_problems = [] if kind == "alert_windows" else _yaml_problems(path, limits)
        problems += yaml_problems or [p for check in FILE_CHECKS[kind] for p in check(path, ws)]
    return problems


def store_integrity(store: Store) -> tuple[dict[str, Any], list[str]]:
    """The store's integrity report, and one line per loss not yet read again."""
    from console.store.integrity import integrity_report

    report = integrity_report(store)
    return report, [
        f"store integrity: {f['text']}"
        for f in report["findings"]
        if f["pending"] or f["detected_at"] is None
    ]


def run(ctx: Context) -> int:
    try:
        ws = ctx.workspace
    except WorkspaceError as exc:
        return _unloadable(exc)
    problems = check_workspace(ws)
    summary = _summary(ws)
    lines = _store_checked(ctx, ws, problems, summary)
    lines += _team_checked(ws, summary)
    summary["problems"] = lines
    if ctx.fmt == "json":
        print(dumps(summary))
    else:
        for line in lines:
            print(escape(line))
        _print_summary(ws, summary)
        print(f"{len(lines)} problem(s)" if lines else "ok")
    return 1 if lines else 0


def _unloadable(exc: WorkspaceError) -> int:
    """A workspace that does not load: its problems (no workspace at all is the caller's error)."""
    if len(exc.problems) == 1 and "no workspace here" in exc.problems[0].message:
        raise exc
    for problem in exc.problems:
        print(escape(problem))
    print(f"{len(exc.problems)} problem(s)")
    return 1


def _summary(ws: Workspace) -> dict[str, Any]:
    return {
        "workspace": str(ws.path),
        "files": [str(f) for f in ws.files],
        "store": str(ws.store_path),
        "sources": [
            {"name": s.name, "kind": s.kind, "interval": s.interval.total_seconds(), "enabled": s.enabled}
            for s in ws.config.sources
        ],
        "slo_files": len(ws.slo_files),
        "rule_files": len(ws.rule_files),
        "playbook_dirs": len(ws.playbook_dirs),
        "canary_files": len(ws.canary_files),
        "registries": [r.name for r in ws.config.registries],
        "allow_actions": ws.allow_actions,
    }


def _store_checked(
    ctx: Context, ws: Workspace, problems: list[Problem], summary: dict[str, Any]
) -> list[str]:
    """The problems as lines, with the store's (its counts go into `summary`) and what is in force."""
    from console.runtime.lastgood import load_config

    lines = [str(p) for p in problems]
    try:
        store = ctx.read_store()
        summary["schema_version"] = store.schema_version()
        summary["series"] = store.count("series")
        summary["samples"] = store.count("samples")
        summary["logs"] = store.count("logs")
        summary["footprint"] = footprint(store)
        lines = in_force(lines, problems, load_config(ws, store, ctx.now()))
        summary["integrity"], lost = store_integrity(store)
        lines += [str(Problem(ws.store_path, None, text)) for text in lost]
    except StoreMissing as exc:
        summary["store_exists"] = False
        if wal_path(exc.path).exists():  # a WAL without its store: something was lost
            lines.append(str(Problem(ws.store_path, None, str(exc))))
    except StoreError as exc:
        lines.append(str(Problem(ws.store_path, None, str(exc))))
    return lines


def _team_checked(ws: Workspace, summary: dict[str, Any]) -> list[str]:
    """The team database's health into `summary` (when `team:` is set); its problem as a line."""
    if ws.config.team is None:
        return []
    from console.team import TeamBackend, TeamConfigError  # lazy: psycopg only when a team is set

    try:
        health = TeamBackend.from_config(ws.config.team, ws.root).health()
    except TeamConfigError as exc:
        summary["team"] = {"problem": str(exc)}
        return [str(Problem(ws.path, None, str(exc)))]
    summary["team"] = health.as_dict()
    return [str(Problem(ws.path, None, health.problem))] if health.problem else []


def _team_line(summary: dict[str, Any]) -> str | None:
    team = summary.get("team")
    if team is None:
        return None
    if "where" not in team:
        return "  team        not usable (see the problem above)"
    if not team["reachable"]:
        return f"  team        {team['where']}: unreachable"
    if team["error"] is not None:
        return f"  team        {team['where']}: reachable, but failing (see the problem above)"
    schema = "no schema" if team["schema_version"] is None else f"schema v{team['schema_version']}"
    return f"  team        {team['where']}: reachable, {schema}, {team['latency_ms']:.1f} ms"


def _store_line(ws: Workspace, summary: dict[str, Any]) -> str:
    line = f"  store       {ws.store_path}"
    if "schema_version" in summary:
        line += (
            f" (schema v{summary['schema_version']}, {summary['series']} series, "
            f"{summary['samples']} samples, {summary['logs']} log lines)"
        )
    if summary.get("store_exists") is False:
        line += " (not created yet: `oncall collect`, `oncall import` or the console create it)"
    if "footprint" in summary:
        line += "".join(f"\n{text}" for text in footprint_lines(summary["footprint"]))
    return line


def _integrity_text(integrity: dict[str, Any]) -> str:
    return f"  integrity   {integrity['status']}" + "".join(
        f"\n    {escape(f['text'])}" for f in integrity["findings"]
    )


def _sources_text(ws: Workspace) -> str:
    return f"  sources     {len(ws.config.sources)}" + "".join(
        f"\n    {s.name} ({s.kind}, every {s.interval.total_seconds():g}s{', disabled' if not s.enabled else ''})"
        for s in ws.config.sources
    )


def _print_summary(ws: Workspace, summary: dict[str, Any]) -> None:
    print(f"workspace {ws.path}")
    if len(ws.files) > 1:
        print(f"  includes    {', '.join(str(f) for f in ws.files[1:])}")
    print(_store_line(ws, summary))
    team = _team_line(summary)
    if team is not None:
        print(escape(team))
    if "integrity" in summary:
        print(_integrity_text(summary["integrity"]))
    print(_sources_text(ws))
    print(f"  slo files   {len(ws.slo_files)}")
    print(f"  rule files  {len(ws.rule_files)}")
    print(f"  playbooks   {len(ws.playbook_dirs)} director{'y' if len(ws.playbook_dirs) == 1 else 'ies'}")
    print(f"  canaries    {len(ws.canary_files)} file{'' if len(ws.canary_files) == 1 else 's'}")
    print(f"  registries  {', '.join(summary['registries']) or 'none'}")
    print(f"  actions     {'allowed' if ws.allow_actions else 'read-only'}")


def in_force(lines: list[str], problems: list[Problem], config: Config) -> list[str]:
    """The problems, with what is in force said for each file that does not load (its last
    good version, or nothing) in place of that file's bare problems."""
    failed = {p.file for p in config.problems}
    kept = [line for line, problem in zip(lines, problems) if str(problem.file) not in failed]
    return [line for p in config.problems for line in p.lines()] + kept
