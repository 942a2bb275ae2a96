"""`oncall playbook lint`: schema, step targets, reachability and template names, with file:line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from console.config.yamlmarks import MarkedDict, Problem, load_marked, locate
from console.playbooks.kinds import ACTION_KINDS
from console.playbooks.lint import argv_findings, unused_inputs
from console.playbooks.loading import PlaybookError, load_playbook, playbook_files
from console.playbooks.model import CONTEXT_NAMES, END, TEMPLATES, Playbook, Step
from console.playbooks.suspects_context import SUSPECT_FIELDS, unknown_suspect_fields


@dataclass
class _Sheet:
    """The playbook file being linted, as marked YAML: each problem names its own line."""

    path: Path
    data: MarkedDict

    def line(self, index: int, key: str) -> int | None:
        """The line of `key` (`argv[2]`, `inputs.url`) in step `index`."""
        loc: list[Any] = ["steps", index]
        loc += [int(part) if part.isdigit() else part for part in re.split(r"[.\[\]]+", key) if part]
        return locate(self.data, tuple(loc), self.path)[1]

    def at(self, index: int, key: str, message: str, where: str | None = None) -> Problem:
        """A problem at `key` of step `index`, reported under `where` (the key by default)."""
        dotted = f"steps[{index}]" + (f".{key}" if where is None else where)
        return Problem(self.path, self.line(index, key), message, dotted)


def _template_fields(step: Step) -> list[tuple[str, str]]:
    """(key, template) for every templated string of a step."""
    out = [("title", step.title), ("text", step.text), *_listed_fields(step)]
    out += [("reason", step.reason or ""), ("question", step.question or "")]
    return [(k, v) for k, v in out if v]


def _listed_fields(step: Step) -> list[tuple[str, str]]:
    """(key, template) of each of a step's params, inputs and args."""
    out = [(f"params[{i}]", p) for i, p in enumerate(step.params)]
    out += [(f"inputs.{n}.from", spec.source) for n, spec in step.inputs.items()]
    return out + [(f"args.{k}", v) for k, v in step.args.items()]


def _undefined_names(template: str, declared: set[str]) -> list[str]:
    """Names a template uses that the run context will not have (top level and `vars.X`)."""
    tree = TEMPLATES.parse(template)
    return _unknown_names(tree) + _unknown_vars(tree, declared)


def _unknown_names(tree: nodes.Template) -> list[str]:
    known = {*CONTEXT_NAMES, *_bound_names(tree), *TEMPLATES.globals}
    return [n.name for n in tree.find_all(nodes.Name) if n.ctx == "load" and n.name not in known]


def _bound_names(tree: nodes.Template) -> set[str]:
    """Names the template sets itself (`{% set %}`, loop variables, macro parameters)."""
    return {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}


def _unknown_vars(tree: nodes.Template, declared: set[str]) -> list[str]:
    keys = [_vars_key(node) for node in tree.find_all((nodes.Getattr, nodes.Getitem))]
    return [f"vars.{key}" for key in keys if key is not None and key not in declared]


def _vars_key(node: nodes.Node) -> str | None:
    """The X of `vars.X` or `vars['X']`; None for any other lookup."""
    if not isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return None
    if not _is_vars(node.node):
        return None
    key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
    return key if isinstance(key, str) else None


def _is_vars(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "vars"


def lint_playbook(path: str | Path) -> list[Problem]:
    """Schema, unknown step targets, unreachable steps, undefined template names, with file:line."""
    path = Path(path)
    try:
        playbook = load_playbook(path)
    except PlaybookError as exc:
        return exc.problems
    except Problem as problem:
        return [problem]
    sheet = _Sheet(path, load_marked(path))
    ids: dict[str, int] = {}
    for index, step in enumerate(playbook.steps):
        ids.setdefault(step.id, index)
    problems = _duplicate_ids(playbook, ids, sheet) + _variable_problems(playbook, sheet)
    for index in range(len(playbook.steps)):
        problems += _step_problems(playbook, index, ids, sheet)
    return problems + _unreachable(playbook, ids, sheet)


def _duplicate_ids(playbook: Playbook, ids: dict[str, int], sheet: _Sheet) -> list[Problem]:
    return [
        sheet.at(index, "id", f"duplicate step id {step.id!r} (first at step {ids[step.id] + 1})")
        for index, step in enumerate(playbook.steps)
        if ids[step.id] != index
    ]


def _variable_problems(playbook: Playbook, sheet: _Sheet) -> list[Problem]:
    """Each variable may use the others (not itself) and the run context."""
    declared = set(playbook.variables)
    problems: list[Problem] = []
    for name, template in playbook.variables.items():
        line = locate(sheet.data, ("variables", name), sheet.path)[1]
        problems += _template_problems(template, declared - {name}, sheet.path, line, f"variables.{name}")
    return problems


def _step_problems(playbook: Playbook, index: int, ids: dict[str, int], sheet: _Sheet) -> list[Problem]:
    """One step's problems: where it leads, what it names, its templates and its argv."""
    step = playbook.steps[index]
    problems = [
        sheet.at(index, key, f"unknown step {target!r}; steps: {', '.join(ids)}")
        for key, target in playbook.targets(step)
        if target != END and target not in ids
    ]
    problems += _kind_problems(step, index, sheet)
    declared = set(playbook.variables)
    for key, template in _template_fields(step):
        problems += _template_problems(
            template, declared, sheet.path, sheet.line(index, key), f"steps[{index}].{key}"
        )
    return problems + _argv_problems(step, index, sheet)


def _kind_problems(step: Step, index: int, sheet: _Sheet) -> list[Problem]:
    """An action kind that does not exist; SQL with templates in it."""
    problems = []
    if step.kind == "action" and step.action not in ACTION_KINDS:
        known = ", ".join(sorted(ACTION_KINDS))
        problems.append(sheet.at(index, "action", f"unknown action {step.action!r}; known: {known}"))
    if step.sql and "{{" in step.sql:
        message = "`sql` is not templated: pass values through `params` and `?` placeholders"
        problems.append(sheet.at(index, "sql", message))
    return problems


def _unreachable(playbook: Playbook, ids: dict[str, int], sheet: _Sheet) -> list[Problem]:
    reachable = _reachable(playbook, ids)
    return [
        sheet.at(index, "id", f"step {step.id!r} is unreachable from the first step", where="")
        for index, step in enumerate(playbook.steps)
        if step.id not in reachable and ids.get(step.id) == index
    ]


def _argv_problems(step: Step, index: int, sheet: _Sheet) -> list[Problem]:
    """A command step's unsafe argv elements and unused inputs, each at its own line."""
    if step.kind != "command":
        return []
    problems = [sheet.at(index, f"argv[{i}]", why) for i, why in argv_findings(step.argv or [], step.inputs)]
    return problems + _unused_input_problems(step, index, sheet)


def _unused_input_problems(step: Step, index: int, sheet: _Sheet) -> list[Problem]:
    return [
        sheet.at(
            index,
            f"inputs.{name}",
            f"declared but no argv element is {{{{ inputs.{name} }}}}: use it or remove it",
        )
        for name in unused_inputs(step.argv or [], step.inputs)
    ]


def _template_problems(
    template: str, declared: set[str], path: Path, line: int | None, key: str
) -> list[Problem]:
    try:
        missing = _undefined_names(template, declared)
    except TemplateSyntaxError as exc:
        return [Problem(path, line, f"template syntax error: {exc.message}", key)]
    problems = [
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
    fields = ", ".join(sorted(SUSPECT_FIELDS))
    return problems + [
        Problem(path, line, f"a suspect has no {name!r}; it has {fields}", key)
        for name in dict.fromkeys(unknown_suspect_fields(TEMPLATES.parse(template)))
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
        problems += found or _duplicate_playbook(path, seen)
    return len(files), problems


def _duplicate_playbook(path: Path, seen: dict[str, Path]) -> list[Problem]:
    """A playbook that loads but whose id an earlier file already has."""
    playbook = load_playbook(path)
    if playbook.id not in seen:
        seen[playbook.id] = path
        return []
    return [Problem(path, 1, f"playbook id {playbook.id!r} is also used by {seen[playbook.id]}", "id")]


def check_playbook_file(path: str | Path) -> list[Problem]:
    """For `oncall check`: the lint problems of one playbook file."""
    return lint_playbook(path)
