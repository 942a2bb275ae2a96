"""A promtool unit-test file read as promtool 2.42 reads it (strict keys), with problems at
file:line; rule_files resolved against the test file's folder, globs expanded."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from console.config.durations import parse_duration
from console.config.problems import validation_problems
from console.config.yamlmarks import MarkedDict, Problem, load_marked, locate
from console.rules.promtest.notation import (
    InputSeries,
    NotationError,
    expand_values,
    parse_labels,
    series_name,
)

DEFAULT_EVALUATION_INTERVAL = timedelta(minutes=1)


def _text(value: Any) -> Any:
    """A scalar where Go reads a string: YAML's 500 or true as the text written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Text = Annotated[str, BeforeValidator(_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesSpec(_Strict):
    series: str
    values: str = ""


class ExpAlert(_Strict):
    exp_labels: dict[str, Text] = {}
    exp_annotations: dict[str, Text] = {}


class AlertTest(_Strict):
    eval_time: Duration = timedelta(0)
    alertname: str = Field(min_length=1)
    exp_alerts: list[ExpAlert] = []


class ExpSample(_Strict):
    labels: str = ""
    value: float = 0.0


class ExprTest(_Strict):
    expr: str
    eval_time: Duration = timedelta(0)
    exp_samples: list[ExpSample] = []


class TestGroupSpec(_Strict):
    interval: Duration | None = None
    input_series: list[SeriesSpec] = []
    alert_rule_test: list[AlertTest] = []
    promql_expr_test: list[ExprTest] = []
    external_labels: dict[str, Text] = {}
    external_url: str = ""
    name: str = ""


class TestFileSpec(_Strict):
    rule_files: list[str] = []
    evaluation_interval: Duration | None = None
    group_eval_order: list[str] = []
    tests: list[TestGroupSpec] = []


@dataclass
class TestGroup:
    """One entry of `tests:`, its input series expanded and its expected samples parsed."""

    spec: TestGroupSpec
    interval: timedelta
    series: list[InputSeries]
    exp_samples: list[list[dict[str, str]]]  # per promql_expr_test, the labels of each sample

    @property
    def max_eval_time(self) -> timedelta:
        times = [t.eval_time for t in self.spec.alert_rule_test] + [
            t.eval_time for t in self.spec.promql_expr_test
        ]
        return max(times, default=timedelta(0))


@dataclass
class TestFile:
    path: Path
    rule_files: list[Path] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # rule_files patterns that matched nothing
    evaluation_interval: timedelta = DEFAULT_EVALUATION_INTERVAL
    group_eval_order: list[str] = field(default_factory=list)
    groups: list[TestGroup] = field(default_factory=list)


_HINT = "; see `oncall rules test --help` for the file's shape (promtool's unit-test format)"


def load_test_file(path: str | Path) -> TestFile:
    """The test file; raises Problem (file:line, what to do) on the first thing that is wrong."""
    path = Path(path)
    data = load_marked(path)
    if not isinstance(data, MarkedDict):
        raise Problem(path, getattr(data, "line", 1), "a rule test file is a mapping with `tests:`" + _HINT)
    try:
        spec = TestFileSpec.model_validate(data)
    except ValidationError as exc:
        first = validation_problems(exc, data, path, TestFileSpec)[0]
        raise Problem(first.file, first.line, first.message + _HINT, first.key) from None
    order = _eval_order(spec, data, path)
    result = TestFile(path, group_eval_order=order)
    if spec.evaluation_interval:
        result.evaluation_interval = spec.evaluation_interval
    if result.evaluation_interval <= timedelta(0):
        raise _at(data, ("evaluation_interval",), path, "evaluation_interval must be positive")
    result.rule_files, result.unmatched = resolve_rule_files(path, spec.rule_files)
    for gi, group in enumerate(spec.tests):
        result.groups.append(_group(group, gi, result.evaluation_interval, data, path))
    return result


def _at(data: MarkedDict, loc: tuple[Any, ...], path: Path, message: str) -> Problem:
    file, line, dotted = locate(data, loc, path)
    return Problem(file, line, message, dotted or None)


def _eval_order(spec: TestFileSpec, data: MarkedDict, path: Path) -> list[str]:
    seen: set[str] = set()
    for i, name in enumerate(spec.group_eval_order):
        if name in seen:
            raise _at(data, ("group_eval_order", i), path, f"group name repeated in evaluation order: {name}")
        seen.add(name)
    return list(spec.group_eval_order)


def resolve_rule_files(test_file: Path, patterns: list[str]) -> tuple[list[Path], list[str]]:
    """Each pattern relative to the test file's folder (unless absolute), globbed, sorted."""
    found: list[Path] = []
    unmatched: list[str] = []
    for pattern in patterns:
        full = pattern if not pattern or Path(pattern).is_absolute() else str(test_file.parent / pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            unmatched.append(full)
        found += [Path(m) for m in matches]
    return found, unmatched


def _group(
    spec: TestGroupSpec, gi: int, evaluation_interval: timedelta, data: MarkedDict, path: Path
) -> TestGroup:
    interval = spec.interval or evaluation_interval
    if interval <= timedelta(0):
        raise _at(data, ("tests", gi, "interval"), path, "interval must be positive")
    series = []
    for si, item in enumerate(spec.input_series):
        at = ("tests", gi, "input_series", si)
        try:
            name, labels = series_name(item.series)
        except NotationError as exc:
            raise _at(data, (*at, "series"), path, str(exc)) from None
        try:
            series.append(InputSeries(name, labels, expand_values(item.values)))
        except NotationError as exc:
            raise _at(data, (*at, "values"), path, str(exc)) from None
    exp_samples = []
    for ei, test in enumerate(spec.promql_expr_test):
        parsed = []
        for xi, sample in enumerate(test.exp_samples):
            try:
                parsed.append(parse_labels(sample.labels))
            except NotationError as exc:
                loc = ("tests", gi, "promql_expr_test", ei, "exp_samples", xi, "labels")
                raise _at(data, loc, path, str(exc)) from None
        exp_samples.append(parsed)
    return TestGroup(spec, interval, series, exp_samples)
