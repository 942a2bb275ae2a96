"""Rule files (Prometheus's shape) into rules and inhibition rules, with problems at file:line;
and the rules a workspace implies (SLO burn, collector health, drift)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from console.config.yamlmarks import MarkedDict, Problem, load_marked, locate
from console.rules.matchers import InhibitRule, parse_matcher
from console.rules.model import DEFAULT_INTERVAL, Duration, Rule, Threshold, check_rule

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


class RuleSpec(_Strict):
    alert: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_:]*$")
    expr: str | ThresholdSpec
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class GroupSpec(_Strict):
    name: str = Field(min_length=1)
    interval: Duration | None = None
    rules: list[RuleSpec] = []


class InhibitSpec(_Strict):
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = []


class RuleFileSpec(_Strict):
    groups: list[GroupSpec] = []
    inhibit_rules: list[InhibitSpec] = []


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


def _node(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return {}
    return data


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
    try:
        data = load_marked(path, text=text)
    except Problem as problem:
        result.problems.append(problem)
        return result
    if data is None:
        return result
    if not isinstance(data, MarkedDict):
        result.problems.append(
            Problem(path, getattr(data, "line", 1), "a rule file is a mapping with `groups:`")
        )
        return result
    try:
        spec = RuleFileSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            # a str|ThresholdSpec union reports both branches; keep the helpful one
            if ("expr" in loc and loc[-1] == "str") or loc[
                -1
            ] == "function-after[parse_duration(), timedelta]":
                continue
            loc = tuple(p for p in loc if p not in ("ThresholdSpec",))
            if error["type"] == "missing" and loc[-1] == "alert" and "record" in _node(data, loc[:-1]):
                continue  # said once, as "recording rules are not supported"
            file, line, dotted = locate(data, loc, path)
            kind = error["type"]
            if kind == "extra_forbidden":
                hint = " (recording rules are not supported)" if loc[-1] == "record" else ""
                message = f"unknown key{hint}"
            elif kind == "missing":
                message = "missing required key"
            else:
                message = error["msg"].removeprefix("Value error, ")
            result.problems.append(Problem(file, line, message, dotted or None))
        return result
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
        interval = group.interval or DEFAULT_INTERVAL
        for ri, spec_rule in enumerate(group.rules):
            base = ("groups", gi, "rules", ri)
            file, line = _line(data, (*base, "alert"), path)
            expr: str | Threshold
            if isinstance(spec_rule.expr, ThresholdSpec):
                t = spec_rule.expr
                expr = Threshold(t.series, t.fn, t.over, t.op, t.value, t.by, t.q)
            else:
                expr = spec_rule.expr
            rule = Rule(
                name=spec_rule.alert,
                expr=expr,
                group=group.name,
                for_=spec_rule.for_,
                keep_firing_for=spec_rule.keep_firing_for,
                labels=spec_rule.labels,
                annotations=spec_rule.annotations,
                interval=interval,
                file=str(path),
                line=line,
            )
            problems = check_rule(rule, data, base, path, check_sql=False)
            result.problems += problems
            if not problems:
                # A rule whose SQL fails is still loaded: it evaluates as broken, with its
                # error, while every other rule keeps evaluating.
                result.rules.append(rule)
                if check_sql:
                    result.problems += check_rule(rule, data, base, path, check_sql=True)
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
    return result


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
