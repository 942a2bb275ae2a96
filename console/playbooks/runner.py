"""Playbooks: the YAML model, loader and linter, matching, action kinds, and the runner.

The runner's state lives in the store's `playbook_runs` table, so a run survives a
restart at the step where it stopped, with its history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from console.config.durations import parse_duration
from console.config.yamlmarks import MarkedDict, MarkedList, Problem, load_marked, locate
from console.playbooks.args import ArgumentRefused, Input, check_value, input_ref, is_templated, shown
from console.playbooks.lint import argv_findings, unused_inputs

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
STEP_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
END = "end"
CONTEXT_NAMES = ("alert", "incident", "vars", "labels", "annotations")
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "playbooks"

TEMPLATES = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _matcher(text: str) -> str:
    """A label matcher as silences take it (`team="fraud"`, `env=~"prod|canary"`); ValueError if bad."""
    from console.rules.matchers import parse_matcher

    parse_matcher(text)
    return text


class AppliesTo(_Strict):
    """Which alerts a playbook addresses: names, label matchers, SLOs, models."""

    alerts: list[str] = []
    labels: list[Annotated[str, AfterValidator(_matcher)]] = []
    slos: list[str] = []
    models: list[str] = []


class Expectation(_Strict):
    """A check on a query's answer: the first cell (or the row count) compared to a value."""

    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float | str
    of: Literal["first", "rows"] = "first"

    def holds(self, rows: list[tuple]) -> bool:
        if self.of == "rows":
            actual: Any = len(rows)
        else:
            if not rows or not rows[0]:
                return False
            actual = rows[0][0]
        if actual is None:
            return False
        try:
            if isinstance(self.value, (int, float)):
                actual = float(actual)
            else:
                actual = str(actual)
            return {
                "<": actual < self.value,
                "<=": actual <= self.value,
                ">": actual > self.value,
                ">=": actual >= self.value,
                "==": actual == self.value,
                "!=": actual != self.value,
            }[self.op]
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return f"{'row count' if self.of == 'rows' else 'value'} {self.op} {self.value}"


class Step(_Strict):
    """One step; which keys apply depends on `kind`."""

    id: str = Field(pattern=STEP_ID)
    kind: Literal["instruction", "query", "command", "action", "decision", "wait_for"]
    title: str = ""
    text: str = ""
    next: str | None = None
    on_fail: str | None = None
    # query / wait_for
    sql: str | None = None
    params: list[str] = []
    expect: Expectation | None = None
    # command: argv elements are literal or exactly "{{ inputs.NAME }}" of a typed input
    argv: list[str] | None = None
    inputs: dict[str, Input] = {}
    timeout: Duration = timedelta(seconds=60)
    # action
    action: str | None = None
    args: dict[str, str] = {}
    reason: str | None = None
    # decision
    question: str | None = None
    answers: dict[str, str] = {}
    default: str | None = None
    # wait_for
    every: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _kind_fields(self) -> Step:
        need = {
            "query": ["sql"],
            "wait_for": ["sql", "expect"],
            "command": ["argv"],
            "action": ["action"],
            "decision": ["question"],
        }.get(self.kind, [])
        for name in need:
            if getattr(self, name) in (None, []):
                raise ValueError(f"a {self.kind} step needs `{name}`")
        if self.kind == "decision" and not self.answers:
            raise ValueError("a decision step needs `answers` (answer: step id)")
        if self.kind == "command" and not (self.argv and self.argv[0]):
            raise ValueError("`argv` needs the program as its first element")
        if self.default is not None and self.default not in self.answers:
            raise ValueError(f"default {self.default!r} is not one of the answers")
        if self.inputs and self.kind != "command":
            raise ValueError("`inputs` belongs to command steps")
        for name in self.inputs:
            if not INPUT_NAME.match(name):
                raise ValueError(
                    f"input name {name!r}: use letters, digits and _ (it is used as {{{{ inputs.NAME }}}})"
                )
        return self


class Playbook(_Strict):
    """A guided response to one kind of failure."""

    id: str = Field(pattern=STEP_ID)
    title: str = Field(min_length=1)
    description: str = ""
    applies_to: AppliesTo = AppliesTo()
    variables: dict[str, str] = {}
    redact_env: list[str] = []
    steps: list[Step] = Field(min_length=1)
    file: str | None = Field(default=None, exclude=True)
    line_of: dict[str, int] = Field(default_factory=dict, exclude=True)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def place(self, step_id: str | None) -> str:
        """`file:line` of a step (or just the file) for messages."""
        line = self.line_of.get(step_id or "")
        return f"{self.file or self.id}" + (f":{line}" if line else "")

    def after(self, step: Step) -> str:
        """The step that follows `step` when nothing branches: `next`, else the one below."""
        if step.next:
            return step.next
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else END

    def targets(self, step: Step) -> list[tuple[str, str]]:
        """(key, target) for every step this one may lead to."""
        out = [("next", self.after(step))]
        if step.on_fail:
            out.append(("on_fail", step.on_fail))
        out += [(f"answers.{a}", t) for a, t in step.answers.items()]
        if step.kind == "decision":
            out = out[1:] if not step.next else out
        return out


class PlaybookError(Exception):
    """A playbook that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _problem_from(error: dict[str, Any], data: Any, path: Path) -> Problem:
    file, line, key = locate(data, tuple(error["loc"]), path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    return Problem(file, line, message, key or None)


def load_playbook(path: str | Path, text: str | None = None) -> Playbook:
    """One playbook file (or `text` as that file); raise PlaybookError with file:line for
    each problem."""
    path = Path(path)
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        raise PlaybookError([problem]) from None
    if not isinstance(data, MarkedDict):
        raise PlaybookError(
            [Problem(path, getattr(data, "line", 1), "a playbook is a mapping with id, title and steps")]
        )
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError([_problem_from(e, data, path) for e in exc.errors()]) from None  # type: ignore[arg-type]  # untyped row or union left for the drift/incidents/playbooks pass
    playbook.file = str(path)
    steps = data.get("steps")
    if isinstance(steps, MarkedList):
        playbook.line_of = {s.id: steps.item_lines[i] for i, s in enumerate(playbook.steps)}
    return playbook


def playbook_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their *.yaml / *.yml files, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files += sorted(p for p in path.glob("*.y*ml")) if path.is_dir() else [path]
    return files


def load_library(paths: Iterable[str | Path]) -> tuple[dict[str, Playbook], list[Problem]]:
    """Every playbook in these files/directories by id, and the problems of those that failed."""
    library: dict[str, Playbook] = {}
    problems: list[Problem] = []
    for path in playbook_files(paths):
        try:
            playbook = load_playbook(path)
        except PlaybookError as exc:
            problems += exc.problems
            continue
        except Problem as problem:
            problems.append(problem)
            continue
        if playbook.id in library:
            problems.append(
                Problem(
                    path, 1, f"playbook id {playbook.id!r} is also used by {library[playbook.id].file}", "id"
                )
            )
            continue
        library[playbook.id] = playbook
    return library, problems


# -- lint --------------------------------------------------------------------------------


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


# -- matching -----------------------------------------------------------------------------


def matches(playbook: Playbook, alert_name: str, labels: dict[str, str]) -> int:
    """How specifically a playbook addresses an alert (0: it does not)."""
    from console.rules.matchers import parse_matcher

    rule = playbook.applies_to
    score = 0
    if alert_name in rule.alerts or labels.get("alertname") in rule.alerts:
        score += 4
    if labels.get("slo") and labels["slo"] in rule.slos:
        score += 3
    if labels.get("model") and labels["model"] in rule.models:
        score += 1
    if rule.labels:
        if not all(parse_matcher(m).matches(labels) for m in rule.labels):
            return 0
        score += 2 if score else 0
    return score


def match_playbooks(library: dict[str, Playbook], alert_name: str, labels: dict[str, str]) -> list[Playbook]:
    """Playbooks that address this alert, the most specific first."""
    scored = [(matches(p, alert_name, labels), p.id, p) for p in library.values()]
    return [p for score, _, p in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


# -- action kinds -------------------------------------------------------------------------


class ActionUnavailable(Exception):
    """An action kind whose implementation is missing or cannot run here."""


@dataclass
class PlannedAction:
    """What an action step will change, shown before it runs; `apply` does it."""

    kind: str
    text: str
    params: dict[str, Any]
    apply: Any  # callable(reason: str, typed_name: str | None) -> dict
    protected: bool = False
    model: str | None = None


ACTION_KINDS: dict[str, Any] = {}


def register_action_kind(name: str, planner: Any) -> None:
    """Add an action kind: `planner(ctx, args, incident_id) -> PlannedAction`."""
    ACTION_KINDS[name] = planner


def _registry_planner(kind: str) -> Any:
    def planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
        from console import actions
        from console.registry import open_registry, pick_registry

        if "model" not in args:
            raise ActionUnavailable(f"{kind} needs `args.model`")
        registry, protected, where = ctx.registry, list(ctx.protected_models), "oncall.yaml"
        if ctx.workspace is not None:
            where = str(ctx.workspace.path)
            if registry is None:
                config = pick_registry(ctx.workspace, args.get("registry"))
                registry = open_registry(config, store=ctx.store, clock=ctx.clock, workspace=ctx.workspace)
                protected += config.protected_models
        if registry is None:
            raise ActionUnavailable(f"{kind}: no model registry configured in the workspace")
        env = actions.ActionEnv(
            store=ctx.store,
            registry=registry,
            actor=ctx.actor,
            clock=ctx.clock,
            allow_actions=ctx.allows_actions(),
            protected_models=protected,
            incident_id=incident_id,
            workspace_path=where,
        )
        if kind == "rollback":
            action = actions.Rollback(
                env, args["model"], to=args.get("to") or None, alias=args.get("alias") or None
            )
        else:
            if not args.get("version"):
                raise ActionUnavailable("promote needs `args.version`")
            action = actions.Promote(env, args["model"], args["version"], alias=args.get("alias") or None)  # type: ignore[assignment]  # untyped row or union left for the drift/incidents/playbooks pass
        try:
            plan = action.plan()
        except (actions.ActionRefused, actions.RegistryError) as exc:
            raise ActionUnavailable(str(exc)) from None

        def apply(reason: str, typed_name: str | None) -> dict[str, Any]:
            try:
                return action.apply(plan, reason=reason, typed_name=typed_name)
            except (actions.ActionRefused, actions.ActionFailed) as exc:
                raise ActionUnavailable(str(exc)) from None

        return PlannedAction(kind, plan.text(), plan.params, apply, plan.protected, plan.model)

    return planner


def _silence_planner(ctx: RunContext, args: dict[str, str], incident_id: int | None) -> PlannedAction:
    from console.alerts.silences import create_silence
    from console.rules.matchers import Matcher

    matchers = [
        Matcher(k.removeprefix("match."), v) for k, v in sorted(args.items()) if k.startswith("match.")
    ]
    if not matchers:
        raise ActionUnavailable("silence needs at least one `args.match.<label>`")
    try:
        duration = parse_duration(args.get("for", "1h"))
    except ValueError as exc:
        raise ActionUnavailable(f"silence: bad `for`: {exc}") from None
    starts = ctx.clock()
    ends = starts + duration
    text = (
        f"silence {', '.join(str(m) for m in matchers)} from {starts:%Y-%m-%d %H:%M} "
        f"until {ends:%Y-%m-%d %H:%M} UTC"
    )

    def apply(reason: str, typed_name: str | None) -> dict[str, Any]:
        if not ctx.allows_actions():
            raise ActionUnavailable("the workspace is read-only; set `allow_actions: true` to silence")
        silence = create_silence(
            ctx.store, matchers, starts, ends, created_by=ctx.actor, comment=reason, now=starts
        )
        return {"silence_id": silence.id}

    return PlannedAction(
        "silence", text, {"matchers": [str(m) for m in matchers], "starts_at": starts, "ends_at": ends}, apply
    )


register_action_kind("rollback", _registry_planner("rollback"))
register_action_kind("promote", _registry_planner("promote"))
register_action_kind("silence", _silence_planner)


# -- the runner ---------------------------------------------------------------------------

OUTPUT_LIMIT = 20_000
ROW_LIMIT = 200


class RunError(Exception):
    """A run that cannot go on as asked (render failure, missing answer, no confirmation)."""


class RenderError(RunError):
    """A template of the step that does not render: the step is failed and the run stops there."""


class StepRefused(RunError):
    """A command step that may not run (unsafe argv, a value failing its type); audited `denied`."""

    def __init__(self, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass
class RunContext:
    """What a run acts with: the store, who acts, the clock, and the workspace's permissions."""

    store: Any
    actor: str
    clock: Any  # () -> datetime (UTC, naive)
    sleep: Any = None  # (seconds) -> None; time.sleep by default
    workspace: Any = None
    allow_actions: bool | None = None  # overrides the workspace when set
    registry: Any = None  # a Registry to act on instead of the workspace's
    protected_models: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def allows_actions(self) -> bool:
        if self.allow_actions is not None:
            return self.allow_actions
        return bool(self.workspace is not None and self.workspace.allow_actions)


@dataclass
class Preview:
    """A step fully resolved, as it will run: shown before anything happens."""

    step: Step
    title: str
    text: str
    argv: list[str] | None = None  # command: exactly the argv (secrets shown as ***)
    sql: str | None = None
    params: list[str] | None = None
    plan: PlannedAction | None = None
    question: str | None = None
    answers: list[str] = field(default_factory=list)
    error: str | None = None  # the step cannot render / plan: why

    @property
    def needs_confirmation(self) -> bool:
        return self.step.kind in ("command", "action")


@dataclass
class Outcome:
    """What one step did: its outcome, output, and where the run goes next."""

    step_id: str
    kind: str
    outcome: str  # done, passed, failed, answered, timeout, skipped
    actor: str
    ts: Any
    next_step: str | None
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def alert_context(alert: dict[str, Any] | None) -> dict[str, Any]:
    """The template view of an alert row: name, fingerprint, labels, annotations, value."""
    if not alert:
        return {"name": "", "fingerprint": "", "labels": {}, "annotations": {}, "value": None}
    return {
        "name": alert.get("name", ""),
        "fingerprint": alert.get("fingerprint", ""),
        "labels": dict(alert.get("labels") or {}),
        "annotations": dict(alert.get("annotations") or {}),
        "value": alert.get("value"),
        "state": alert.get("state"),
    }


def _redact(text: Any, secrets: list[str]) -> Any:
    if not isinstance(text, str):
        return text
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _audit(
    cur: Any,
    ts: Any,
    actor: str,
    action: str,
    phase: str,
    target: str,
    reason: str | None,
    params: Any,
    result: Any,
) -> None:
    """One audit row; `actor` is an `identity.Actor` or a name claimed by this process's account."""
    from console.store.audit import write_audit

    write_audit(
        cur,
        ts=ts,
        actor=actor,
        action=action,
        phase=phase,
        target=target,
        reason=reason,
        params=params,
        result=result,
    )


def _select_only(sql: str) -> str | None:
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return f"bad SQL: {str(exc).splitlines()[0]}"
    if len(statements) != 1 or str(statements[0].type) != "StatementType.SELECT":
        return "a query step runs exactly one SELECT; it may not change the store"
    return None


class Runner:
    """Walks one playbook run step by step; every outcome lands in the store."""

    def __init__(self, ctx: RunContext, playbook: Playbook, run_id: int) -> None:
        self.ctx, self.playbook, self.run_id = ctx, playbook, run_id
        self._plan: tuple[str, PlannedAction] | None = None
        self._load()

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> None:
        import json

        rows = self.ctx.store.query(
            "SELECT incident_id, status, current_step, variables, state FROM playbook_runs WHERE id = ?",
            [self.run_id],
        )[1]
        if not rows:
            raise RunError(f"no playbook run {self.run_id}")
        self.incident_id, self.status, self.current_step, variables, state = rows[0]
        self.context: dict[str, Any] = json.loads(variables or "{}")
        self.state: dict[str, Any] = json.loads(state or "{}")
        self.state.setdefault("history", [])
        self.state.setdefault("waiting", {})

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.state["history"]

    @property
    def secrets(self) -> list[str]:
        import os

        values = list(self.ctx.secrets) + [os.environ.get(n, "") for n in self.playbook.redact_env]
        return sorted({v for v in values if v}, key=len, reverse=True)

    def current(self) -> Step | None:
        if self.status not in ("running", "failed") or not self.current_step or self.current_step == END:
            return None
        return self.playbook.step(self.current_step)

    def _save(self, cur: Any, *, finished: Any = None) -> None:
        import json

        cur.execute(
            "UPDATE playbook_runs SET status = ?, current_step = ?, state = ?, "
            "finished_at = coalesce(?, finished_at) WHERE id = ?",
            [self.status, self.current_step, json.dumps(self.state, default=str), finished, self.run_id],
        )

    # -- rendering -----------------------------------------------------------------------

    def render(self, template: str, where: str) -> str:
        """Render one template once in the sandbox; its output is never rendered again."""
        from jinja2 import TemplateError

        try:
            return TEMPLATES.from_string(template).render(self.context)
        except TemplateError as exc:
            raise RenderError(
                f"{self.playbook.place(self.current_step)}: {where}: cannot render {template!r}: {exc}"
            ) from None

    def command_argv(self, step: Step) -> list[str]:
        """The argv a command step runs: re-checked for safety, each input rendered and typed."""
        argv = list(step.argv or [])
        findings = argv_findings(argv, step.inputs)
        if findings:
            index, why = findings[0]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise StepRefused(
                f"{self.playbook.place(step.id)}: step {step.id}: argv[{index}] "
                f"{why}{more}; "
                "the step does not run (see `oncall playbook lint`)",
                {"argv": argv, "unsafe": [i for i, _ in findings]},
            )
        values = {name: self._input_value(step, name, spec) for name, spec in step.inputs.items()}
        return [values[input_ref(a)] if is_templated(a) else a for a in argv]  # type: ignore[index]  # untyped row or union left for the drift/incidents/playbooks pass

    def _input_value(self, step: Step, name: str, spec: Input) -> str:
        value = self.render(spec.source, f"step {step.id}.inputs.{name}.from")
        try:
            return check_value(spec, value)
        except ArgumentRefused as exc:
            message = _redact(
                f"{self.playbook.place(step.id)}: step {step.id}: {name}: {exc}; "
                "the step does not run (fix the value at its source, or skip the "
                "step)",
                self.secrets,
            )
            raise StepRefused(
                message,
                {
                    "argv": list(step.argv or []),
                    "input": name,
                    "type": spec.type,
                    "value": _redact(shown(value, 200), self.secrets),
                },
            ) from None

    def preview(self) -> Preview:
        """The current step resolved: the exact argv, SQL and parameters, or the action plan."""
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; nothing to preview")
        where = f"step {step.id}"
        try:
            title = self.render(step.title or step.id, f"{where}.title")
            text = self.render(step.text, f"{where}.text") if step.text else ""
            preview = Preview(step, title, text)
            if step.kind in ("query", "wait_for"):
                preview.sql = step.sql
                preview.params = [self.render(p, f"{where}.params[{i}]") for i, p in enumerate(step.params)]
            elif step.kind == "command":
                preview.argv = [_redact(a, self.secrets) for a in self.command_argv(step)]
            elif step.kind == "decision":
                preview.question = self.render(step.question or "", f"{where}.question")
                preview.answers = list(step.answers)
            elif step.kind == "action":
                preview.plan = self._planned(step)
        except (RunError, ActionUnavailable) as exc:
            return Preview(step, step.title or step.id, step.text, error=str(exc))
        return preview

    def _planned(self, step: Step) -> PlannedAction:
        if self._plan and self._plan[0] == step.id:
            return self._plan[1]
        planner = ACTION_KINDS.get(step.action or "")
        if planner is None:
            raise ActionUnavailable(
                f"action {step.action!r} is not available; known: {', '.join(sorted(ACTION_KINDS))}"
            )
        args = {k: self.render(v, f"step {step.id}.args.{k}") for k, v in step.args.items()}
        planned = planner(self.ctx, args, self.incident_id)
        with self.ctx.store.transaction() as cur:
            _audit(
                cur,
                self.ctx.clock(),
                self.ctx.actor,
                planned.kind,
                "planned",
                f"playbook:{self.playbook.id}/{step.id}",
                None,
                planned.params,
                {"plan": planned.text},
            )
        self._plan = (step.id, planned)
        return planned

    # -- running -------------------------------------------------------------------------

    def advance(
        self,
        *,
        answer: str | None = None,
        confirm: bool = False,
        reason: str | None = None,
        typed_name: str | None = None,
    ) -> Outcome:
        """Run the current step and record its outcome; commands and actions need `confirm`."""
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; no step to run")
        if step.kind in ("command", "action") and not confirm:
            raise RunError(f"step {step.id} changes the world: confirm it after reading the preview")
        if step.kind == "decision" and answer not in step.answers:
            raise RunError(f"step {step.id} asks: {step.question} — answer one of {', '.join(step.answers)}")
        try:
            outcome, output, error = self._execute(step, answer, reason, typed_name)
        except StepRefused as exc:
            return self._record(step, "failed", exc.detail, str(exc), answer, stop="denied")
        except RenderError as exc:
            return self._record(step, "failed", {}, str(exc), answer, stop="failed")
        except RunError as exc:
            outcome, output, error = "failed", {}, str(exc)
        return self._record(step, outcome, output, error, answer)

    def skip(self, reason: str) -> Outcome:
        """Mark the current step skipped (done by hand, or not relevant) and move on."""
        step = self.current()
        if step is None:
            raise RunError(f"run {self.run_id} is {self.status}; no step to skip")
        return self._record(step, "skipped", {"reason": reason}, None, None)

    def _execute(
        self, step: Step, answer: str | None, reason: str | None, typed_name: str | None
    ) -> tuple[str, dict[str, Any], str | None]:
        self._prepare(step)
        if step.kind == "instruction":
            return "done", {}, None
        if step.kind == "query":
            rows, output = self._query(step)
            if step.expect is None:
                return "done", output, None
            held = step.expect.holds(rows)
            return ("passed" if held else "failed"), output, None if held else f"expected {step.expect}"
        if step.kind == "command":
            return self._command(step)
        if step.kind == "decision":
            return "answered", {"answer": answer}, None
        if step.kind == "action":
            return self._action(step, reason, typed_name)
        return self._wait(step)

    def _prepare(self, step: Step) -> None:
        """Render the step's text before it counts as run: a template that fails fails the step."""
        where = f"step {step.id}"
        for key, template in (("title", step.title), ("text", step.text), ("question", step.question)):
            if template:
                self.render(template, f"{where}.{key}")

    def _query(self, step: Step) -> tuple[list[tuple], dict[str, Any]]:
        problem = _select_only(step.sql or "")
        if problem:
            raise RunError(f"step {step.id}: {problem}")
        params = [self.render(p, f"step {step.id}.params[{i}]") for i, p in enumerate(step.params)]
        cur = self.ctx.store.cursor()
        try:
            cur.execute(step.sql, params)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchmany(ROW_LIMIT)
        except Exception as exc:  # noqa: BLE001 - DuckDB raises many kinds; all are the query's
            raise RunError(f"step {step.id}: query failed: {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()
        return rows, {"columns": columns, "rows": [list(r) for r in rows], "params": params}

    def _command(self, step: Step) -> tuple[str, dict[str, Any], str | None]:
        import subprocess

        from console.core.private import child_umask

        argv = self.command_argv(step)
        displayed = [_redact(a, self.secrets) for a in argv]
        timeout = step.timeout.total_seconds()
        output: dict[str, Any] = {"argv": displayed}
        try:
            done = subprocess.run(
                argv,
                shell=False,
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                umask=child_umask(),
            )  # the user's own, not oncall's 077
        except subprocess.TimeoutExpired as exc:
            for name in ("stdout", "stderr"):
                data = getattr(exc, name) or ""
                data = data.decode(errors="replace") if isinstance(data, bytes) else data
                output[name] = _redact(data[-OUTPUT_LIMIT:], self.secrets)
            return "failed", output, f"timed out after {timeout:g}s"
        except (OSError, ValueError, UnicodeError) as exc:
            return "failed", output, f"could not start {displayed[0]!r}: {exc}"
        output.update(
            returncode=done.returncode,
            stdout=_redact(done.stdout[-OUTPUT_LIMIT:], self.secrets),
            stderr=_redact(done.stderr[-OUTPUT_LIMIT:], self.secrets),
        )
        if done.returncode != 0:
            return "failed", output, f"exited {done.returncode}"
        return "passed", output, None

    def _action(
        self, step: Step, reason: str | None, typed_name: str | None
    ) -> tuple[str, dict[str, Any], str | None]:
        try:
            planned = self._planned(step)
        except ActionUnavailable as exc:
            return "failed", {}, str(exc)
        why = reason or (self.render(step.reason, f"step {step.id}.reason") if step.reason else "")
        if not why.strip():
            raise RunError(f"step {step.id}: {planned.kind} needs a reason; it goes in the audit log")
        try:
            result = planned.apply(why, typed_name)
        except ActionUnavailable as exc:
            return "failed", {"plan": planned.text, "reason": why}, str(exc)
        finally:
            self._plan = None
        return "passed", {"plan": planned.text, "reason": why, "result": result}, None

    def _wait(self, step: Step) -> tuple[str, dict[str, Any], str | None]:
        import time
        from datetime import datetime

        sleep = self.ctx.sleep or time.sleep
        started_text = self.state["waiting"].get(step.id)
        if started_text is None:
            started = self.ctx.clock()
            self.state["waiting"][step.id] = started.isoformat()
            with self.ctx.store.transaction() as cur:
                self._save(cur)
                self._timeline(
                    cur,
                    started,
                    "step",
                    f"waiting: {self.render(step.title or step.id, 'title')}",
                    {"step": step.id, "phase": "started"},
                )
        else:
            started = datetime.fromisoformat(started_text)
        polls = 0
        while True:
            rows, output = self._query(step)
            polls += 1
            if step.expect is not None and step.expect.holds(rows):
                output.update(polls=polls, waited_s=(self.ctx.clock() - started).total_seconds())
                return "passed", output, None
            if self.ctx.clock() - started >= step.timeout:
                output.update(polls=polls)
                return (
                    "timeout",
                    output,
                    (f"{step.expect} did not hold within {step.timeout.total_seconds():g}s"),
                )
            sleep(step.every.total_seconds())

    def _timeline(self, cur: Any, ts: Any, kind: str, text: str, detail: Any) -> None:
        if self.incident_id is None:
            return
        from console.incidents.lifecycle import append_timeline

        append_timeline(
            cur,
            self.incident_id,
            ts,
            kind,
            self.ctx.actor,
            text,
            {"playbook": self.playbook.id, "run": self.run_id, **detail},
        )

    def _record(
        self,
        step: Step,
        outcome: str,
        output: dict[str, Any],
        error: str | None,
        answer: str | None,
        stop: str | None = None,
    ) -> Outcome:
        """Store one outcome; `stop` (its audit phase) keeps the run failed at this step."""
        failed = outcome in ("failed", "timeout")
        if stop:
            next_step: str | None = None
        elif step.kind == "decision" and outcome == "answered":
            next_step = step.answers[answer or ""]
        elif failed and step.on_fail:
            next_step = step.on_fail
        elif failed and step.kind in ("command", "action", "wait_for"):
            next_step = None  # stays here: retry, or skip it by hand
        else:
            next_step = self.playbook.after(step)
        now = self.ctx.clock()
        entry = {
            "step": step.id,
            "kind": step.kind,
            "outcome": outcome,
            "actor": self.ctx.actor,
            "ts": now.isoformat(),
            "error": error,
            "output": output,
        }
        self.history.append(entry)
        self.state["waiting"].pop(step.id, None)
        if next_step is None:
            self.status = "failed"
        else:
            self.current_step = next_step
            self.status = "done" if next_step == END else "running"
        try:
            title = self.render(step.title, "title") if step.title else step.id
        except RunError:
            title = step.title or step.id
        text = f"step {step.id} ({title}): {outcome}" + (f" — {error}" if error else "")
        with self.ctx.store.transaction() as cur:
            self._save(cur, finished=now if self.status == "done" else None)
            self._timeline(
                cur,
                now,
                "step",
                text,
                {"step": step.id, "outcome": outcome, "error": error, "output": _brief(output)},
            )
            _audit(
                cur,
                now,
                self.ctx.actor,
                f"playbook.{step.kind}",
                stop or ("failed" if failed else "after"),
                f"playbook:{self.playbook.id}/{step.id}",
                output.get("reason"),
                {
                    "run": self.run_id,
                    "argv": output.get("argv"),
                    "sql": step.sql,
                    "params": output.get("params"),
                    "answer": answer,
                },
                {"outcome": outcome, "error": error, "output": _brief(output)},
            )
            if self.status == "done":
                self._timeline(cur, now, "playbook", f"playbook {self.playbook.id} finished", {})
        return Outcome(
            step.id,
            step.kind,
            outcome,
            self.ctx.actor,
            now,
            None if next_step in (None, END) else next_step,
            output,
            error,
        )


def _brief(output: dict[str, Any]) -> dict[str, Any]:
    """Output trimmed for the timeline: first rows, tail of stdout/stderr."""
    brief = dict(output)
    if "rows" in brief:
        brief["rows"] = brief["rows"][:20]
    for name in ("stdout", "stderr"):
        if isinstance(brief.get(name), str):
            brief[name] = brief[name][-4000:]
    return brief


def _refuse_unsafe(ctx: RunContext, playbook: Playbook, incident_id: int | None) -> None:
    """Refuse, and audit as denied, a run of a playbook with an unsafe command step."""
    unsafe = [
        f"{playbook.place(step.id)}: step {step.id}: argv[{found[0][0]}] {found[0][1]}"
        for step in playbook.steps
        if step.kind == "command" and (found := argv_findings(step.argv or [], step.inputs))
    ]
    if not unsafe:
        return
    message = (
        f"playbook {playbook.id} does not start: {unsafe[0]}"
        + (f" (and {len(unsafe) - 1} more step(s))" if len(unsafe) > 1 else "")
        + "; run `oncall playbook lint`"
    )
    with ctx.store.transaction() as cur:
        _audit(
            cur,
            ctx.clock(),
            ctx.actor,
            "playbook.start",
            "denied",
            f"playbook:{playbook.id}",
            None,
            {"incident": incident_id, "unsafe": unsafe},
            {"error": message},
        )
    raise StepRefused(message, {"unsafe": unsafe})


def start_run(
    ctx: RunContext, playbook: Playbook, *, incident: Any = None, alert: dict[str, Any] | None = None
) -> Runner:
    """Fix the run's variables from the alert and incident, store the run, and return its runner."""
    import json

    inc = (
        {}
        if incident is None
        else {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "commander": incident.commander,
            "created_at": str(incident.created_at),
        }
    )
    if alert is None and incident is not None:
        alert = incident.detail.get("alert")
    _refuse_unsafe(ctx, playbook, None if incident is None else incident.id)
    view = alert_context(alert)
    context: dict[str, Any] = {
        "alert": view,
        "labels": view["labels"],
        "annotations": view["annotations"],
        "incident": inc,
        "vars": {},
    }
    for name, template in playbook.variables.items():
        try:
            context["vars"][name] = TEMPLATES.from_string(template).render(context)
        except Exception as exc:  # noqa: BLE001 - jinja raises several kinds; all mean "cannot render"
            raise RunError(
                f"{playbook.file or playbook.id}: variables.{name}: cannot render {template!r}: {exc}"
            ) from None
    now = ctx.clock()
    incident_id = None if incident is None else incident.id
    with ctx.store.transaction() as cur:
        cur.execute("SELECT nextval('playbook_run_id_seq')")
        run_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO playbook_runs VALUES (?, ?, ?, ?, NULL, 'running', ?, ?, ?)",
            [
                run_id,
                incident_id,
                playbook.id,
                now,
                playbook.steps[0].id,
                json.dumps(context, default=str),
                json.dumps({"history": [], "waiting": {}}),
            ],
        )
        if incident_id is not None:
            from console.incidents.lifecycle import append_timeline

            append_timeline(
                cur,
                incident_id,
                now,
                "playbook",
                ctx.actor,
                f"playbook {playbook.id} started: {playbook.title}",
                {"playbook": playbook.id, "run": run_id, "vars": context["vars"]},
            )
        _audit(
            cur,
            now,
            ctx.actor,
            "playbook.start",
            "after",
            f"playbook:{playbook.id}",
            None,
            {"run": run_id, "incident": incident_id, "vars": context["vars"]},
            None,
        )
    return Runner(ctx, playbook, run_id)


def find_run(store: Any, *, incident_id: int, playbook_id: str | None = None) -> int | None:
    """The latest unfinished run for an incident (and playbook), if any."""
    sql = "SELECT id FROM playbook_runs WHERE incident_id = ? AND status IN ('running', 'failed')"
    params: list[Any] = [incident_id]
    if playbook_id:
        sql += " AND playbook_id = ?"
        params.append(playbook_id)
    rows = store.query(sql + " ORDER BY id DESC LIMIT 1", params)[1]
    return rows[0][0] if rows else None


def resume_run(ctx: RunContext, library: dict[str, Playbook], run_id: int) -> Runner:
    """The runner for a stored run, at the step where it stopped, with its history."""
    rows = ctx.store.query("SELECT playbook_id FROM playbook_runs WHERE id = ?", [run_id])[1]
    if not rows:
        raise RunError(f"no playbook run {run_id}")
    if rows[0][0] not in library:
        raise RunError(f"run {run_id} follows playbook {rows[0][0]!r}, which is no longer in the library")
    return Runner(ctx, library[rows[0][0]], run_id)
