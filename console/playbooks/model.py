"""The playbook model: a playbook, its steps and their checks, as the YAML says them."""

from __future__ import annotations

import re
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
CONTEXT_NAMES = ("alert", "incident", "vars", "labels", "annotations")

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
