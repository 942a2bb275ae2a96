"""The playbook model: a playbook, its steps and their checks, as the YAML says them."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from console.config.durations import parse_duration
from console.playbooks.args import Input

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
STEP_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
END = "end"
CONTEXT_NAMES: tuple[str, ...] = ("alert", "incident", "vars", "labels", "annotations")
# the incident's ranked suspects (console.playbooks.suspects_context)
CONTEXT_NAMES += ("suspects", "top_suspect", "new_version", "suspects_error")

TEMPLATES = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# the keys each kind of step cannot do without
_NEEDS = {
    "query": ["sql"],
    "wait_for": ["sql", "expect"],
    "command": ["argv"],
    "action": ["action"],
    "decision": ["question"],
}


def _missing_key(step: Step) -> str | None:
    missing = [name for name in _NEEDS.get(step.kind, []) if getattr(step, name) in (None, [])]
    return f"a {step.kind} step needs `{missing[0]}`" if missing else None


def _decision_problem(step: Step) -> str | None:
    if step.kind == "decision" and not step.answers:
        return "a decision step needs `answers` (answer: step id)"
    return None


def _incident_problem(step: Step) -> str | None:
    if step.incident and step.kind != "instruction":
        return "`incident` (a lifecycle transition) belongs on an instruction step"
    return None


def _program_problem(step: Step) -> str | None:
    if step.kind == "command" and not (step.argv and step.argv[0]):
        return "`argv` needs the program as its first element"
    return None


def _default_problem(step: Step) -> str | None:
    if step.default is not None and step.default not in step.answers:
        return f"default {step.default!r} is not one of the answers"
    return None


def _inputs_problem(step: Step) -> str | None:
    if step.inputs and step.kind != "command":
        return "`inputs` belongs to command steps"
    return None


def _input_name_problem(step: Step) -> str | None:
    bad = [name for name in step.inputs if not INPUT_NAME.match(name)]
    if bad:
        return f"input name {bad[0]!r}: use letters, digits and _ (it is used as {{{{ inputs.NAME }}}})"
    return None


# in the order a step's problems are reported (the first one found is)
_STEP_CHECKS = (
    _missing_key,
    _decision_problem,
    _program_problem,
    _incident_problem,
    _default_problem,
    _inputs_problem,
    _input_name_problem,
)


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
        actual = self._actual(rows)
        if actual is None:
            return False
        try:
            typed = float(actual) if isinstance(self.value, (int, float)) else str(actual)
            return bool(_COMPARE[self.op](typed, self.value))
        except (TypeError, ValueError):
            return False

    def _actual(self, rows: list[tuple]) -> Any:
        """The compared value: the row count, or the first cell (None when there is none)."""
        if self.of == "rows":
            return len(rows)
        return rows[0][0] if rows and rows[0] else None

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
    # instruction: move the incident along its lifecycle (audited, on the timeline)
    incident: Literal["acknowledge", "mitigate", "resolve"] | None = None
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
        for check in _STEP_CHECKS:
            problem = check(self)
            if problem:
                raise ValueError(problem)
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
