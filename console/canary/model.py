"""Canaries as code: the model of a canaries file, loaded with every problem at file:line.

A canary compares two versions of one model (`baseline` and `canary`, each a version number
or an alias) on metrics whose series a label (`version`) tells apart; docs/canary.md has the
rule the judge applies to each metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from console.config.durations import parse_duration
from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, MarkedList, Problem, load_marked, locate
from console.rules.promql import PromQL
from console.rules.promql import parse as parse_promql

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Direction = Literal["increase", "decrease", "either"]
OnFail = Literal["none", "page", "rollback"]
_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
_LABEL_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _version_text(value: Any) -> Any:
    """`baseline: 3` reads as the int 3: a version number is text, as the registry keeps it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Version = Annotated[str, BeforeValidator(_version_text), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Effect(_Strict):
    """Ratio-of-means limits (canary / baseline): a rise counts at `high` or above, a fall at `low` or below."""

    high: float = Field(default=1.1, allow_inf_nan=False)
    low: float = Field(default=0.9, allow_inf_nan=False)

    @field_validator("high")
    @classmethod
    def _high(cls, value: float) -> float:
        if value <= 1:
            raise ValueError("high is a ratio above 1 (1.1 counts a rise of 10% or more)")
        return value

    @field_validator("low")
    @classmethod
    def _low(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError("low is a ratio between 0 and 1 (0.9 counts a fall of 10% or more)")
        return value


class MetricSpec(_Strict):
    """One metric judged between the two groups: a PromQL `query` giving one series per version,
    or a `sql` query over the store giving rows (ts, <label>, value), at most one per interval."""

    name: str = Field(pattern=_NAME_RE)
    query: str | None = None
    sql: str | None = None
    direction: Direction = "increase"  # which change is bad
    effect: Effect = Effect()
    critical: bool = False  # failing it fails the analysis whatever the score
    _promql: PromQL | None = PrivateAttr(default=None)

    @field_validator("query")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            parse_promql(text)  # PromQLError (a ValueError) names what is wrong and where
        return text

    @field_validator("sql")
    @classmethod
    def _one_select(cls, text: str | None) -> str | None:
        if text is not None and (not text.strip() or ";" in text.strip().rstrip(";")):
            raise ValueError("sql must be one SELECT query (no `;` between statements)")
        return text.strip().rstrip(";") if text is not None else None

    @model_validator(mode="after")
    def _one_source(self) -> MetricSpec:
        if (self.query is None) == (self.sql is None):
            raise ValueError(f"metric {self.name!r}: give exactly one of query (PromQL) or sql")
        return self

    @property
    def promql(self) -> PromQL:
        """The query, parsed (once)."""
        if self.query is None:
            raise ValueError(f"metric {self.name!r} is a sql metric")
        if self._promql is None:
            self._promql = parse_promql(self.query)
        return self._promql


class JudgeOptions(_Strict):
    """The judge's limits: significance, the verdict's score thresholds, the fewest values per group."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alpha: float = Field(default=0.05, gt=0, lt=1)
    pass_: float = Field(default=75, alias="pass", ge=0, le=100)
    marginal: float = Field(default=50, ge=0, le=100)
    min_values: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> JudgeOptions:
        if self.marginal > self.pass_:
            raise ValueError(f"marginal ({self.marginal:g}) must not be above pass ({self.pass_:g})")
        return self


class ShadowOptions(_Strict):
    """Shadow comparison: the decided class's score threshold, the window, the drift test (None: default)."""

    threshold: float = Field(default=0.5, allow_inf_nan=False)
    window: Duration = timedelta(hours=1)
    drift_method: str | None = None

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("window is a positive duration, e.g. 1h")
        return value


class CanarySpec(_Strict):
    """One canary: which model, which two versions, how their series differ, what is judged."""

    name: str = Field(pattern=_NAME_RE)
    model: str = Field(min_length=1)
    baseline: Version
    canary: Version
    label: str = Field(default="version", pattern=_LABEL_RE)
    interval: Duration = timedelta(minutes=1)
    lookback: Duration = timedelta(hours=1)
    on_fail: OnFail = "none"
    judge: JudgeOptions = JudgeOptions()
    metrics: list[MetricSpec] = []
    shadow: ShadowOptions | None = None
    source: str = ""  # "file:line" of the entry, set by the loader

    @field_validator("interval", "lookback")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a positive duration, e.g. 1m or 1h")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CanarySpec:
        if self.baseline == self.canary:
            raise ValueError(f"baseline and canary are both {self.baseline!r}: name two versions or aliases")
        if self.lookback < self.interval:
            raise ValueError("lookback is shorter than interval: the judged window holds no whole interval")
        if not self.metrics and self.shadow is None:
            raise ValueError("give metrics, shadow, or both: there is nothing to judge")
        return self


class CanaryFile(_Strict):
    canaries: list[CanarySpec]


class CanaryFileError(Exception):
    """A canaries file that did not load; `problems` names every place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_canary_file(path: Path | str, text: str | None = None) -> list[CanarySpec]:
    """Load one canaries file (or `text` as that file); CanaryFileError with file:line per problem."""
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        raise CanaryFileError([problem]) from None
    if not isinstance(data, MarkedDict) or "canaries" not in data:
        where = getattr(data, "line", 1) or 1
        raise CanaryFileError([Problem(path, where, "a canaries file is a mapping with a `canaries:` list")])
    try:
        specs = CanaryFile.model_validate(data).canaries
    except ValidationError as exc:
        raise CanaryFileError([_named(p) for p in validation_problems(exc, data, path, CanaryFile)]) from None
    problems = _duplicates(specs, data, path)
    if problems:
        raise CanaryFileError(problems)
    items = data["canaries"]
    for index, spec in enumerate(specs):
        file = (getattr(items, "item_files", None) or [None] * len(specs))[index] or items.file or str(path)
        spec.source = f"{file}:{items.item_lines[index]}" if isinstance(items, MarkedList) else str(path)
    return specs


def _named(problem: Problem) -> Problem:
    """The judge's `pass` is the field `pass_` in Python: a message shows the YAML key."""
    if "pass_" not in problem.message:
        return problem
    return Problem(problem.file, problem.line, problem.message.replace("pass_", "pass"), problem.key)


def _duplicates(specs: list[CanarySpec], data: MarkedDict, path: Path | str) -> list[Problem]:
    """What the model cannot see: two canaries of one name, two metrics of one name in a canary."""
    problems: list[Problem] = []
    seen: dict[str, int | None] = {}
    for index, spec in enumerate(specs):
        file, line, _ = locate(data, ("canaries", index, "name"), path)
        if spec.name in seen:
            problems.append(
                Problem(
                    file,
                    line,
                    f"two canaries are named {spec.name!r} (first at line {seen[spec.name]})",
                    "name",
                )
            )
        else:
            seen[spec.name] = line
        metric_lines: dict[str, int | None] = {}
        for position, metric in enumerate(spec.metrics):
            file, line, dotted = locate(data, ("canaries", index, "metrics", position, "name"), path)
            if metric.name in metric_lines:
                first = metric_lines[metric.name]
                message = (
                    f"two metrics of canary {spec.name!r} are named {metric.name!r} (first at line {first})"
                )
                problems.append(Problem(file, line, message, dotted))
            else:
                metric_lines[metric.name] = line
    return problems


def load_canaries(paths: Iterable[Path | str]) -> list[CanarySpec]:
    """Every canary in the given files; names must be unique across them (CanaryFileError)."""
    specs: list[CanarySpec] = []
    problems: list[Problem] = []
    where: dict[str, str] = {}
    for path in paths:
        try:
            found = load_canary_file(path)
        except CanaryFileError as exc:
            problems += exc.problems
            continue
        for spec in found:
            if spec.name in where:
                file, _, line = spec.source.rpartition(":")
                message = f"canary {spec.name!r} is also defined at {where[spec.name]}; rename one"
                problems.append(Problem(file, int(line) if line.isdigit() else None, message, "name"))
            else:
                where[spec.name] = spec.source
                specs.append(spec)
    if problems:
        raise CanaryFileError(problems)
    return specs
