"""Rule files (Prometheus's shape) into rules and inhibition rules, with problems at file:line;
and the rules a workspace implies (SLO burn, collector health, drift)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from console.config.problems import did_you_mean, fields_at, invalid_value
from console.config.yamlmarks import MarkedDict, Problem, load_marked, locate
from console.rules.matchers import InhibitRule, parse_matcher
from console.rules.model import DEFAULT_INTERVAL, Duration, Rule, Threshold, check_rule
from console.rules.promql import PromQL, PromQLError, looks_like_sql
from console.rules.promql import parse as parse_promql

# -- rule files ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ThresholdSpec(_Strict):
    series: str
    fn: Literal["rate", "increase", "avg", "min", "max", "sum", "count", "last", "quantile"]
    over: Duration
    by: list[str] | None = None
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float
    q: float | None = Field(default=None, ge=0, le=1)


METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"


class RuleSpec(_Strict):
    """An alerting rule (`alert:`) or a recording rule (`record:`, `expr`, `labels` only)."""

    alert: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_:]*$")
    record: str | None = Field(default=None, pattern=METRIC_NAME)
    expr: str | ThresholdSpec
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class GroupSpec(_Strict):
    name: str = Field(min_length=1)
    interval: Duration | None = None
    rules: list[RuleSpec] = Field(default_factory=list)


class InhibitSpec(_Strict):
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=list)


class RuleFileSpec(_Strict):
    templates: Literal["go", "jinja"] = "go"  # how labels and annotations are templated (go: as Prometheus)
    groups: list[GroupSpec] = Field(default_factory=list)
    inhibit_rules: list[InhibitSpec] = Field(default_factory=list)


@dataclass
class RuleSet:
    """Every rule and inhibition rule the workspace's rule files define."""

    rules: list[Rule] = field(default_factory=list)
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failed: bool = False  # a problem other than a rule's SQL: the file as a whole did not load


def _line(data: Any, loc: tuple[Any, ...], path: Path) -> tuple[str, int | None]:
    file, line, _ = locate(data, loc, path)
    return file, line


def load_rule_file(path: str | Path, *, check_sql: bool = True, text: str | None = None) -> RuleSet:
    """Load one rule file (or `text` as that file); every problem is reported with file:line
    (none raised).  `failed` is set when the file as a whole did not load: then its rules are
    not to be used (a rule whose SQL fails still loads, and evaluates with health `error`)."""
    result = _load_rule_file(Path(path), check_sql=check_sql, text=text)
    sql_only = all(p.key == "expr" and p.message.startswith(_SQL_PROBLEM_PREFIXES) for p in result.problems)
    result.failed = bool(result.problems) and not (check_sql and sql_only)
    return result


_SQL_PROBLEM_PREFIXES = ("SQL error: ", "the query must return a `value` column")


def _load_rule_file(path: Path, *, check_sql: bool, text: str | None) -> RuleSet:
    result = RuleSet()
    data = _read(path, text, result)
    if data is None:
        return result
    try:
        spec = RuleFileSpec.model_validate(data)
    except ValidationError as exc:
        result.problems += _spec_problems(exc, data, path)
        return result
    _add_groups(result, spec, data, path, check_sql)
    _add_inhibit_rules(result, spec, data, path)
    return result


def _read(path: Path, text: str | None, result: RuleSet) -> MarkedDict | None:
    """The file's mapping; None (with the problem in `result`, if any) when there is none."""
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        result.problems.append(problem)
        return None
    if data is not None and not isinstance(data, MarkedDict):
        result.problems.append(
            Problem(path, getattr(data, "line", 1), "a rule file is a mapping with `groups:`")
        )
        return None
    return data


# A `str | ThresholdSpec` union reports both branches, a `Duration | None` both too: the
# string branch of an expression and the duration branch of an interval are the unhelpful ones.
_UNHELPFUL_BRANCH = "function-after[parse_duration(), timedelta]"


def _said_otherwise(error: ErrorDetails) -> bool:
    """An error another one says better: a union's other branch."""
    raw = tuple(error["loc"])
    return ("expr" in raw and raw[-1] == "str") or raw[-1] == _UNHELPFUL_BRANCH


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a rule file allows where `loc` points (as written in the file: `for`)."""
    if "expr" in loc:
        return list(ThresholdSpec.model_fields)
    return ["for" if name == "for_" else name for name in fields_at(RuleFileSpec, loc)]


def _message(error: ErrorDetails, loc: tuple[Any, ...]) -> str:
    """The shared translator's words (config/problems.py)."""
    if error["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return "unknown key" + (did_you_mean(str(loc[-1]), known) if known else "")
    if error["type"] == "missing":
        return "missing required key"
    return invalid_value(error)


def _spec_problems(exc: ValidationError, data: MarkedDict, path: Path) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if p != "ThresholdSpec")
        if _said_otherwise(error):
            continue
        file, line, dotted = locate(data, loc, path)
        problems.append(Problem(file, line, _message(error, loc), dotted or None))
    return problems


def _add_groups(result: RuleSet, spec: RuleFileSpec, data: MarkedDict, path: Path, check_sql: bool) -> None:
    seen_groups: dict[str, int | None] = {}
    for gi, group in enumerate(spec.groups):
        file, gline = _line(data, ("groups", gi, "name"), path)
        if group.name in seen_groups:
            result.problems.append(
                Problem(
                    file,
                    gline,
                    f"duplicate group name {group.name!r} (first at line {seen_groups[group.name]})",
                    "name",
                )
            )
            continue
        seen_groups[group.name] = gline
        records: dict[str, int] = {}  # how many rules of the group record each metric
        for ri, spec_rule in enumerate(group.rules):
            base = ("groups", gi, "rules", ri)
            problems = _kind_problems(spec_rule, data, base, path)
            if problems:
                result.problems += problems
                continue
            name_key = "record" if spec_rule.record is not None else "alert"
            try:
                rule = _rule(group, spec_rule, path, _line(data, (*base, name_key), path)[1], spec.templates)
            except PromQLError as exc:
                file, line = _line(data, (*base, "expr"), path)
                result.problems.append(
                    Problem(file, line, f"{exc}; `oncall rules check` re-checks it", "expr")
                )
                continue
            if rule.record is not None:
                # several rules of a group may record one metric (other label sets), as in
                # Prometheus: each gets its own name (and health), `job:x`, `job:x#2`, …
                records[rule.record] = records.get(rule.record, 0) + 1
                if records[rule.record] > 1:
                    rule.name = f"{rule.record}#{records[rule.record]}"
            problems = check_rule(rule, data, base, path, check_sql=False)
            result.problems += problems
            if not problems:
                # A rule whose SQL fails is still loaded: it evaluates as broken, with its
                # error, while every other rule keeps evaluating.
                result.rules.append(rule)
                if check_sql:
                    result.problems += check_rule(rule, data, base, path, check_sql=True)


_NOT_RECORDING = {"for_": "for", "keep_firing_for": "keep_firing_for", "annotations": "annotations"}


def _kind_problems(spec_rule: RuleSpec, data: MarkedDict, base: tuple[Any, ...], path: Path) -> list[Problem]:
    """A rule is `alert:` or `record:`, not both nor neither; a recording rule has no
    `for`, `keep_firing_for` or `annotations` (as Prometheus says: zero or empty ones pass)."""
    if spec_rule.alert is None and spec_rule.record is None:
        file, line = _line(data, base, path)
        return [Problem(file, line, "a rule needs `alert: NAME` or `record: METRIC`")]
    if spec_rule.record is None:
        return []
    if spec_rule.alert is not None:
        file, line = _line(data, (*base, "record"), path)
        return [Problem(file, line, "a rule has `alert:` or `record:`, not both", "record")]
    problems = []
    for field_name, key in _NOT_RECORDING.items():
        if getattr(spec_rule, field_name):
            file, line = _line(data, (*base, key), path)
            problems.append(
                Problem(
                    file,
                    line,
                    f"a recording rule has no `{key}` (only record, expr and labels); remove it, "
                    "or make it an alerting rule",
                    key,
                )
            )
    return problems


def _rule(group: GroupSpec, spec_rule: RuleSpec, path: Path, line: int | None, templates: str = "go") -> Rule:
    """The rule a spec describes; PromQLError when its `expr` is PromQL that does not compile."""
    expr: str | Threshold | PromQL
    if isinstance(spec_rule.expr, ThresholdSpec):
        t = spec_rule.expr
        expr = Threshold(t.series, t.fn, t.over, t.op, t.value, t.by, t.q)
    elif looks_like_sql(spec_rule.expr):
        expr = spec_rule.expr
    else:
        expr = parse_promql(spec_rule.expr)
    return Rule(
        name=spec_rule.record or spec_rule.alert or "",
        expr=expr,
        group=group.name,
        for_=spec_rule.for_,
        keep_firing_for=spec_rule.keep_firing_for,
        labels=spec_rule.labels,
        annotations=spec_rule.annotations,
        interval=group.interval or DEFAULT_INTERVAL,
        file=str(path),
        line=line,
        record=spec_rule.record,
        templates=templates,
    )


def _add_inhibit_rules(result: RuleSet, spec: RuleFileSpec, data: MarkedDict, path: Path) -> None:
    for ii, inhibit in enumerate(spec.inhibit_rules):
        try:
            result.inhibit_rules.append(
                InhibitRule(
                    [parse_matcher(m) for m in inhibit.source_matchers],
                    [parse_matcher(m) for m in inhibit.target_matchers],
                    list(inhibit.equal),
                )
            )
        except ValueError as exc:
            file, line = _line(data, ("inhibit_rules", ii), path)
            result.problems.append(Problem(file, line, str(exc), f"inhibit_rules[{ii}]"))


def check_rule_file(path: Any) -> list[Problem]:
    """The validator `oncall check` and `oncall rules check` run on a rule file."""
    return load_rule_file(path).problems


def load_rules(paths: list[Path]) -> RuleSet:
    """Load every rule file; problems from all of them together."""
    total = RuleSet()
    for path in paths:
        one = load_rule_file(path)
        total.rules += one.rules
        total.inhibit_rules += one.inhibit_rules
        total.problems += one.problems
    return total


def generated_rules(workspace: Any, slos: list[Any], slo_files: dict[str, str] | None = None) -> list[Rule]:
    """Rules the workspace implies: SLO burn (page/ticket), collector health and drift."""
    # Imported here: the drift family loads numpy, which the console's first frame does without.
    from console.rules.drift_family import drift_rules
    from console.rules.families import collector_health_rules, slo_burn_rules

    return collector_health_rules(workspace) + slo_burn_rules(slos, slo_files) + drift_rules(workspace)
