"""Running promtool unit-test files on the store (`oncall rules test`).

Each test group gets a fresh store in a private temporary folder.  Its input series go in as
samples at `i × interval` from the Unix epoch (promtool's time 0): a `stale` value is a sample
whose value is NULL (the store's stale marker), `_` no sample at all.  The rule files load
through the rule loader; evaluation time steps from 0 to the largest eval_time by
evaluation_interval, every group evaluated at every step in `group_eval_order`, each rule
through `evaluate` and its alerts through the lifecycle.  An alert test compares the firing
alerts after the step at (or just before) its eval_time; expression tests run after the last
step.  Failures are worded as promtool 2.42 words them (console/rules/promtest/formats.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from console.alerts.lifecycle import Alert, TemplateContext, step
from console.config.promql import DEFAULT_WINDOWS
from console.config.yamlmarks import Problem
from console.rules.evaluation import evaluate
from console.rules.loading import load_rule_file
from console.rules.model import Rule
from console.rules.promql_cycle import template_query
from console.rules.promtest import formats
from console.rules.promtest.notation import OMITTED
from console.rules.promtest.spec import TestFile, TestGroup, load_test_file
from console.rules.recording import record
from console.store import Store, canonical_labels, ingest_samples

EPOCH = datetime(1970, 1, 1)  # promtool's time 0
NO_OUTAGE = timedelta(days=36500)  # every step evaluates every rule: pending timers never restart


@dataclass
class Outcome:
    """One test file's run: promtool-worded errors (none: SUCCESS) and warnings."""

    file: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def run_test_files(paths: list[str]) -> list[Outcome]:
    return [run_test_file(p) for p in paths]


def run_test_file(path: str) -> Outcome:
    """Every test group of one file; a file that does not read is one error with file:line."""
    outcome = Outcome(path)
    try:
        spec = load_test_file(path)
    except Problem as problem:
        outcome.errors.append(f"    {problem}")
        return outcome
    outcome.warnings = [f"  WARNING: no file match pattern {p}" for p in spec.unmatched]
    groups, problems = _load_groups(spec)
    if problems:
        outcome.errors += [f"    {p}" for p in problems]
        return outcome
    for group in spec.groups:
        outcome.errors += run_group(group, groups, spec.evaluation_interval)
    return outcome


def _load_groups(spec: TestFile) -> tuple[list[list[Rule]], list[Problem]]:
    """The rule files' rules by group (file order, then `group_eval_order`), or their problems."""
    by_group: dict[tuple[str, str], list[Rule]] = {}
    problems: list[Problem] = []
    for path in spec.rule_files:
        loaded = load_rule_file(path)
        problems += loaded.problems
        for rule in loaded.rules:
            by_group.setdefault((str(path), rule.group), []).append(rule)
    order = {name: i for i, name in enumerate(spec.group_eval_order)}
    keys = sorted(by_group, key=lambda key: order.get(key[1], 0))  # stable: file order otherwise
    return [by_group[key] for key in keys], problems


@contextmanager
def scratch_store() -> Iterator[Store]:
    """A store of its own in a private (0700) temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="oncall-rules-test-") as folder:
        store = Store.open(Path(folder) / "test.duckdb")
        try:
            yield store
        finally:
            store.close()


def run_group(group: TestGroup, groups: list[list[Rule]], evaluation_interval: timedelta) -> list[str]:
    """One entry of `tests:` on a fresh store: its errors, promtool-worded."""
    with scratch_store() as store:
        ingest_series(store, group)
        errors, stopped = _run_alert_tests(store, group, groups, evaluation_interval)
        return errors if stopped else errors + _run_expr_tests(store, group)


def ingest_series(store: Store, group: TestGroup) -> int:
    """The input series as samples: one per step, None (stale) as NULL, omitted ones left out."""
    import pyarrow as pa

    from console.store.ingest import SAMPLE_SCHEMA

    rows: dict[str, list[object]] = {"name": [], "labels": [], "ts": [], "value": []}
    for series in group.series:
        labels = canonical_labels(series.labels)
        for i, value in enumerate(series.values):
            if value is OMITTED:
                continue
            rows["name"].append(series.name)
            rows["labels"].append(labels)
            rows["ts"].append(EPOCH + i * group.interval)
            rows["value"].append(value)
    if not rows["ts"]:
        return 0
    return ingest_samples(store, pa.table(rows, schema=SAMPLE_SCHEMA))


def _segments(rules: list[Rule]) -> Iterator[list[Rule]]:
    """Rules in runs that end at each recording rule: what a recording rule writes is there
    for the rules after it, at the same step, as in Prometheus."""
    run: list[Rule] = []
    for rule in rules:
        run.append(rule)
        if _recorded_name(rule):
            yield run
            run = []
    if run:
        yield run


def _recorded_name(rule: Rule) -> str | None:
    """The series a recording rule writes (None for an alerting rule)."""
    return getattr(rule, "record", None)


def _run_alert_tests(
    store: Store, group: TestGroup, groups: list[list[Rule]], evaluation_interval: timedelta
) -> tuple[list[str], bool]:
    """Step every rule from 0 to the last eval_time; check each alert test at its step.
    (errors, whether a rule failed to evaluate, which stops the group as in promtool)"""
    tests = sorted(group.spec.alert_rule_test, key=lambda t: t.eval_time)  # stable: file order
    states: dict[int, list[Alert]] = {}
    errors: list[str] = []
    steps = int(group.max_eval_time / evaluation_interval)
    for i in range(steps + 1):
        at = i * evaluation_interval
        context = TemplateContext(
            {k: str(v) for k, v in group.spec.external_labels.items()},
            template_query(store, EPOCH + at, DEFAULT_WINDOWS),
        )
        failing = _evaluate_step(store, groups, EPOCH + at, at, states, context)
        if failing:
            return errors + failing, True  # promtool stops at the first step where a rule fails
        while tests and tests[0].eval_time < at + evaluation_interval:
            test = tests.pop(0)
            got = _firing(groups, states, test.alertname)
            exp = [
                ({**e.exp_labels, "alertname": test.alertname}, dict(e.exp_annotations))
                for e in test.exp_alerts
            ]
            exp, got = formats.sort_alerts(exp), formats.sort_alerts(got)
            if exp != got:
                errors.append(
                    formats.alert_failure(group.spec.name, test.alertname, test.eval_time, exp, got)
                )
    return errors, False


def _firing(groups: list[list[Rule]], states: dict[int, list[Alert]], alertname: str) -> list[formats.Alert]:
    """(labels, annotations) of the firing alerts of every alerting rule named `alertname`
    (one name may be used in several groups)."""
    return [
        (dict(a.labels), dict(a.annotations))
        for rules in groups
        for rule in rules
        if rule.name == alertname and not _recorded_name(rule)
        for a in states.get(id(rule), [])
        if a.state == "firing"
    ]


def _evaluate_step(
    store: Store,
    groups: list[list[Rule]],
    now: datetime,
    at: timedelta,
    states: dict[int, list[Alert]],
    context: TemplateContext,
) -> list[str]:
    """Every group once at `now`, in order: recording rules write, alerting rules step their
    alerts.  Rules between two recording rules read nothing the others write, so they are
    evaluated together (one batched query), whichever groups they are in."""
    errors: list[str] = []
    for segment in _segments([rule for rules in groups for rule in rules]):
        for result in evaluate(store, segment, now):
            rule = result.rule
            if result.error is not None:
                errors.append(formats.rule_error(_recorded_name(rule) or rule.name, at, result.error))
            elif _recorded_name(rule):
                record(store, [result], now)  # the engine's writer; an error becomes the result's
                if result.error is not None:
                    errors.append(formats.rule_error(_recorded_name(rule) or rule.name, at, result.error))
            else:
                states[id(rule)], _, _ = step(
                    rule, result, states.get(id(rule), []), now, tolerance=NO_OUTAGE, context=context
                )
    return errors


def _run_expr_tests(store: Store, group: TestGroup) -> list[str]:
    errors = []
    for test, exp_labels in zip(group.spec.promql_expr_test, group.exp_samples, strict=True):
        got, error = instant(store, test.expr, EPOCH + test.eval_time)
        if error is not None:
            errors.append(formats.expr_error(test.expr, test.eval_time, error))
            continue
        exp = formats.sort_samples(
            [(labels, s.value) for labels, s in zip(exp_labels, test.exp_samples, strict=True)]
        )
        got = formats.sort_samples(got)
        if not _same_samples(exp, got):
            errors.append(formats.expr_failure(test.expr, test.eval_time, exp, got))
    return errors


def _same_samples(exp: list[formats.Sample], got: list[formats.Sample]) -> bool:
    """Equal labels and values; NaN equals nothing, as in promtool 2.42 (reflect.DeepEqual)."""
    return len(exp) == len(got) and all(
        e[0] == g[0] and e[1] is not None and g[1] is not None and e[1] == g[1] for e, g in zip(exp, got)
    )


def instant(store: Store, expr: str, now: datetime) -> tuple[list[formats.Sample], str | None]:
    """One expression's answer at `now`: (labels, value) per sample, or its error.

    The expression goes through the rule loader as a temporary alerting rule, so it is read
    as a rule's `expr` is (SQL or the threshold form today, PromQL when the compiler lands)."""
    text = yaml.safe_dump(
        {"groups": [{"name": "promql_expr_test", "rules": [{"alert": "expr", "expr": expr}]}]}
    )
    loaded = load_rule_file(Path("<promql_expr_test>"), text=text)
    if loaded.problems or not loaded.rules:
        return [], "; ".join(p.message for p in loaded.problems) or "the expression did not load"
    result = evaluate(store, loaded.rules[:1], now)[0]
    if result.error is not None:
        return [], result.error
    return [(dict(i.labels), i.value) for i in result.instances], None


def report_lines(outcome: Outcome) -> list[tuple[str, str]]:
    """(stream, line) as promtool prints one file: the header, SUCCESS, or FAILED and each
    error on stderr with a blank line on stdout after each."""
    lines = [("out", f"Unit Testing:  {outcome.file}")]
    lines += [("err", warning) for warning in outcome.warnings]
    if outcome.ok:
        lines.append(("out", "  SUCCESS"))
    else:
        lines.append(("err", "  FAILED:"))
        for error in outcome.errors:
            lines += [("err", error), ("out", "")]
    lines.append(("out", ""))
    return lines
