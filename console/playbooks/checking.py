"""`oncall playbook lint`: schema, step targets, reachability and template names, with file:line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from console.config.yamlmarks import Problem, load_marked, locate
from console.playbooks.kinds import ACTION_KINDS
from console.playbooks.lint import argv_findings, unused_inputs
from console.playbooks.loading import PlaybookError, load_playbook, playbook_files
from console.playbooks.model import CONTEXT_NAMES, END, TEMPLATES, Playbook, Step


def _template_fields(step: Step) -> list[tuple[str, str]]:
    """(key, template) for every templated string of a step."""
    out = [("title", step.title), ("text", step.text)]
    out += [(f"params[{i}]", p) for i, p in enumerate(step.params)]
    out += [(f"inputs.{n}.from", spec.source) for n, spec in step.inputs.items()]
    out += [(f"args.{k}", v) for k, v in step.args.items()]
    if step.reason:
        out.append(("reason", step.reason))
    if step.question:
        out.append(("question", step.question))
    return [(k, v) for k, v in out if v]


def _undefined_names(template: str, declared: set[str]) -> list[str]:
    """Names a template uses that the run context will not have (top level and `vars.X`)."""
    tree = TEMPLATES.parse(template)
    missing: list[str] = []
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if (
            name.ctx == "load"
            and name.name not in CONTEXT_NAMES
            and name.name not in bound
            and name.name not in TEMPLATES.globals
        ):
            missing.append(name.name)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "vars":  # type: ignore[attr-defined]  # untyped row or union left for the drift/incidents/playbooks pass
            key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)  # type: ignore[attr-defined]  # untyped row or union left for the drift/incidents/playbooks pass
            if isinstance(key, str) and key not in declared:
                missing.append(f"vars.{key}")
    return missing


def _step_key_line(data: Any, index: int, key: str, path: Path) -> int | None:
    loc: list[Any] = ["steps", index]
    for part in re.split(r"[.\[\]]+", key):
        if part:
            loc.append(int(part) if part.isdigit() else part)
    return locate(data, tuple(loc), path)[1]


def lint_playbook(path: str | Path) -> list[Problem]:
    """Schema, unknown step targets, unreachable steps, undefined template names, with file:line."""
    path = Path(path)
    try:
        playbook = load_playbook(path)
    except PlaybookError as exc:
        return exc.problems
    except Problem as problem:
        return [problem]
    data = load_marked(path)
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for index, step in enumerate(playbook.steps):
        if step.id in ids:
            problems.append(
                Problem(
                    path,
                    _step_key_line(data, index, "id", path),
                    f"duplicate step id {step.id!r} (first at step {ids[step.id] + 1})",
                    f"steps[{index}].id",
                )
            )
        ids.setdefault(step.id, index)
    declared = set(playbook.variables)
    for name, template in playbook.variables.items():
        problems += _template_problems(
            template, declared - {name}, path, locate(data, ("variables", name), path)[1], f"variables.{name}"
        )
    for index, step in enumerate(playbook.steps):
        for key, target in playbook.targets(step):
            if target != END and target not in ids:
                problems.append(
                    Problem(
                        path,
                        _step_key_line(data, index, key, path),
                        f"unknown step {target!r}; steps: {', '.join(ids)}",
                        f"steps[{index}].{key}",
                    )
                )
        if step.kind == "action" and step.action not in ACTION_KINDS:
            problems.append(
                Problem(
                    path,
                    _step_key_line(data, index, "action", path),
                    f"unknown action {step.action!r}; known: {', '.join(sorted(ACTION_KINDS))}",
                    f"steps[{index}].action",
                )
            )
        if step.sql and "{{" in step.sql:
            problems.append(
                Problem(
                    path,
                    _step_key_line(data, index, "sql", path),
                    "`sql` is not templated: pass values through `params` and `?` placeholders",
                    f"steps[{index}].sql",
                )
            )
        for key, template in _template_fields(step):
            problems += _template_problems(
                template, declared, path, _step_key_line(data, index, key, path), f"steps[{index}].{key}"
            )
        problems += _argv_problems(step, index, data, path)
    reachable = _reachable(playbook, ids)
    for index, step in enumerate(playbook.steps):
        if step.id not in reachable and ids.get(step.id) == index:
            problems.append(
                Problem(
                    path,
                    _step_key_line(data, index, "id", path),
                    f"step {step.id!r} is unreachable from the first step",
                    f"steps[{index}]",
                )
            )
    return problems


def _argv_problems(step: Step, index: int, data: Any, path: Path) -> list[Problem]:
    """A command step's unsafe argv elements and unused inputs, each at its own line."""
    if step.kind != "command":
        return []
    problems = [
        Problem(path, _step_key_line(data, index, f"argv[{i}]", path), why, f"steps[{index}].argv[{i}]")
        for i, why in argv_findings(step.argv or [], step.inputs)
    ]
    problems += [
        Problem(
            path,
            _step_key_line(data, index, f"inputs.{name}", path),
            f"declared but no argv element is {{{{ inputs.{name} }}}}: use it or remove it",
            f"steps[{index}].inputs.{name}",
        )
        for name in unused_inputs(step.argv or [], step.inputs)
    ]
    return problems


def _template_problems(
    template: str, declared: set[str], path: Path, line: int | None, key: str
) -> list[Problem]:
    try:
        missing = _undefined_names(template, declared)
    except TemplateSyntaxError as exc:
        return [Problem(path, line, f"template syntax error: {exc.message}", key)]
    return [
        Problem(
            path,
            line,
            f"undefined template variable {name!r}; the context has "
            f"{', '.join(CONTEXT_NAMES)} and vars: "
            f"{', '.join(sorted(declared)) or '(none)'}",
            key,
        )
        for name in dict.fromkeys(missing)
    ]


def _reachable(playbook: Playbook, ids: dict[str, int]) -> set[str]:
    seen: set[str] = set()
    todo = [playbook.steps[0].id]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in ids:
            continue
        seen.add(step_id)
        todo += [t for _, t in playbook.targets(playbook.steps[ids[step_id]])]
    return seen


def lint_paths(paths: Iterable[str | Path]) -> tuple[int, list[Problem]]:
    """Lint every playbook file under `paths`: (files checked, problems), duplicate ids included."""
    files = playbook_files(paths)
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in files:
        found = lint_playbook(path)
        problems += found
        if not found:
            playbook = load_playbook(path)
            if playbook.id in seen:
                problems.append(
                    Problem(path, 1, f"playbook id {playbook.id!r} is also used by {seen[playbook.id]}", "id")
                )
            seen.setdefault(playbook.id, path)
    return len(files), problems


def check_playbook_file(path: Any) -> list[Problem]:
    """For `oncall check`: the lint problems of one playbook file."""
    return lint_playbook(path)
