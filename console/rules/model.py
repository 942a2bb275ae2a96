"""Alert rules in Prometheus's file shape, validated with file:line, compiled to DuckDB SQL.

A rule's `expr` is DuckDB SQL returning one row per alert instance (label columns and a
`value` column; a JSON-object column `_labels` is merged into the labels), rendered
through a sandboxed Jinja2 environment that offers `now`, `ago('5m')` and series helpers
(`rate`, `increase`, `avg`, `min`, `max`, `sum`, `count`, `last`, `quantile`), or the
short threshold form `{series, fn, over, by, op, value}`.  Rules generated elsewhere (SLO
burn, collector health) are plain `Rule` objects with their own `source`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BeforeValidator

from console.config.durations import parse_duration
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.config.yamlmarks import Problem, locate
from console.rules.promql.nodes import PromQL
from console.store.selectors import Selector, SelectorError, label_sql, parse_selector, where_sql

if TYPE_CHECKING:
    import duckdb

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
DEFAULT_INTERVAL = timedelta(minutes=1)
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FUNCTIONS = ("rate", "increase", "avg", "min", "max", "sum", "count", "last", "quantile")
OPS = (">", ">=", "<", "<=", "==", "!=")


# -- selectors (console/store/selectors.py parses them) --------------------------------------


def parse_metric_selector(text: str) -> tuple[str, Selector]:
    """A selector that names its metric: (metric, selector); ValueError otherwise."""
    selector = parse_selector(text)
    if not selector.name:
        raise SelectorError(f"selector {text!r} must name a metric")
    return selector.name, selector


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ts(value: datetime) -> str:
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def _label_sql(label: str, column: str = "labels") -> str:
    return label_sql(label, column)


def matchers_sql(selector: Selector, column: str = "labels") -> str:
    """The selector's label matchers (not its metric name) as a SQL condition."""
    return where_sql(Selector(None, selector.matchers), labels_column=column)


# -- SQL plan: the helpers a rule's template calls ---------------------------------------

# Per group, from the per-series statistics of `agg_sql`.  `last` of a series whose newest
# sample is a stale marker is NULL (the series is gone) and sums as nothing.
_COMBINE = {
    "rate": "sum(CASE WHEN n >= 2 AND span_s > 0 THEN increase / span_s END)",
    "increase": "sum(CASE WHEN n >= 2 AND span_s > 0 THEN increase / span_s * {w} END)",
    "avg": "sum(total) / sum(n)",
    "min": "min(lo)",
    "max": "max(hi)",
    "sum": "sum(total)",
    "count": "sum(n)",
    "last": "sum(last)",
}


def raw_sql(
    name: str, start: datetime, end: datetime, where: str = "true", windows: Windows = DEFAULT_WINDOWS
) -> str:
    """Samples of one metric in the window from `start` to `end` (`windows` says whether a
    sample exactly at `start` is in), with their series' labels; stale markers (NULL) too."""
    return (
        f"SELECT x.series_id, s.labels, x.ts, x.value FROM samples x "
        f"JOIN series s ON s.id = x.series_id WHERE s.name = {sql_str(name)} "
        f"AND x.ts {windows.after_start} {sql_ts(start)} AND x.ts <= {sql_ts(end)} AND ({where})"
    )


# The per-series statistics of samples (series_id, ts, value, d): a stale marker (a NULL
# value) is not a value: not counted, not summed, not a reset; only `last` sees it.
STATS_SQL = (
    "count(value) AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi, "
    "arg_max_null(value, ts) AS last, "
    "sum(CASE WHEN d IS NULL THEN 0 WHEN d >= 0 THEN d ELSE value END) AS increase, "
    "epoch(max(ts) FILTER (WHERE value IS NOT NULL)) - epoch(min(ts) FILTER (WHERE value IS NOT NULL)) "
    "AS span_s"
)
# Each sample's change since the series' previous value, stale markers skipped.
DELTA_SQL = "value - lag(value IGNORE NULLS) OVER (PARTITION BY {by} ORDER BY ts) AS d"


def agg_sql(raw: str) -> str:
    """Per-series statistics over `raw`: count, sum, min, max, last, reset-aware increase, span."""
    return (
        f"SELECT series_id, any_value(labels) AS labels, {STATS_SQL} FROM ("
        f"SELECT series_id, labels, ts, value, {DELTA_SQL.format(by='series_id')} "
        f"FROM ({raw})) GROUP BY series_id"
    )


@dataclass(frozen=True)
class HelperCall:
    """One helper use: `fn` of a metric's selected series over a window, grouped `by`."""

    name: str
    selector: Selector
    seconds: float
    fn: str
    by: tuple[str, ...] | None
    q: float | None


def _check_function(fn: str, q: float | None) -> None:
    if fn not in FUNCTIONS:
        raise ValueError(f"unknown function {fn!r}; use one of {', '.join(FUNCTIONS)}")
    if fn == "quantile" and q is None:
        raise ValueError("quantile needs q, e.g. quantile(sel, '5m', 0.99)")


def _check_by(by: list[str] | None) -> None:
    for label in by or []:
        if not LABEL_NAME.match(str(label)):
            raise ValueError(f"bad label name {label!r} in by")


def _batched_sql(call_id: int, by: tuple[str, ...] | None) -> str:
    """A helper call's rows from the shared `_calls` table: its group as labels or columns."""
    if by is None:
        cols = "grp AS _labels, "
    else:
        cols = "".join(f'json_extract_string(grp, \'$."{b}"\') AS "{b}", ' for b in by)
    return f"SELECT {cols}value FROM _calls WHERE call = {call_id}"


class SqlPlan:
    """Renders rule templates at one `now`.

    Unbatched, each helper inlines its own scan of the store.  Batched, each helper is
    recorded as a `HelperCall` and reads its rows from the table `_calls` (call, grp,
    value) that the evaluator computes for every call of the cycle in a few shared queries.
    """

    def __init__(self, now: datetime, batched: bool = True, windows: Windows = DEFAULT_WINDOWS) -> None:
        self.now = now
        self.batched = batched
        self.windows = windows
        self.calls: dict[HelperCall, int] = {}

    # names the templates see
    def context(self) -> dict[str, Any]:
        ctx: dict[str, Any] = {"now": sql_ts(self.now), "ago": self.ago}
        for fn in FUNCTIONS:
            ctx[fn] = self._helper(fn)
        return ctx

    def ago(self, duration: str) -> str:
        return sql_ts(self.now - parse_duration(duration))

    def _helper(self, fn: str) -> Any:
        def helper(
            selector: str, over: str, *args: Any, by: list[str] | None = None, q: float | None = None
        ) -> str:
            if fn == "quantile" and args:
                q = args[0]
            return "(" + self.series_sql(selector, over, fn, by, q) + ")"

        return helper

    def call(
        self, selector: str, over: Any, fn: str, by: list[str] | None, q: float | None = None
    ) -> tuple[int, HelperCall]:
        """Validate and record one helper use; return its call id."""
        _check_function(fn, q)
        name, parsed = parse_metric_selector(selector)
        seconds = parse_duration(over).total_seconds()
        if seconds <= 0:
            raise ValueError(f"window must be positive (got {over!r})")
        _check_by(by)
        call = HelperCall(
            name,
            parsed,
            seconds,
            fn,
            tuple(by) if by is not None else None,
            float(q) if q is not None else None,
        )
        return self.calls.setdefault(call, len(self.calls)), call

    def series_sql(
        self, selector: str, over: Any, fn: str, by: list[str] | None, q: float | None = None
    ) -> str:
        """SQL for `fn` of `selector` over the window `over`, one row per `by` group."""
        call_id, call = self.call(selector, over, fn, by, q)
        if self.batched:
            return _batched_sql(call_id, call.by)
        start = self.now - timedelta(seconds=call.seconds)
        raw = raw_sql(call.name, start, self.now, matchers_sql(call.selector), self.windows)
        if fn == "quantile":
            source, value = raw, f"quantile_cont(value, {call.q})"
        else:
            source, value = agg_sql(raw), _COMBINE[fn].format(w=call.seconds)
        if call.by is None:
            rows = f"SELECT labels AS _labels, {value} AS value FROM ({source}) GROUP BY labels"
        elif not call.by:
            rows = f"SELECT {value} AS value FROM ({source}) HAVING count(*) > 0"
        else:
            # a label the series lacks is NULL, as in the batched `_calls` rows
            cols = ", ".join(f"nullif({_label_sql(b)}, '') AS \"{b}\"" for b in call.by)
            rows = f"SELECT {cols}, {value} AS value FROM ({source}) GROUP BY ALL"
        # a group with no value (only stale markers, or too few samples for a rate) is no row
        return f"SELECT * FROM ({rows}) WHERE value IS NOT NULL"


# -- the rule model --------------------------------------------------------------------


@dataclass
class Threshold:
    """The short form: `fn` of `series` over `over`, grouped `by`, compared with `op value`."""

    series: str
    fn: str
    over: timedelta
    op: str
    value: float
    by: list[str] | None = None
    q: float | None = None

    def sql(self, plan: SqlPlan) -> str:
        inner = plan.series_sql(self.series, self.over, self.fn, self.by, self.q)
        op = "=" if self.op == "==" else self.op
        return f"SELECT * FROM ({inner}) WHERE value {op} {float(self.value)!r}"


@dataclass(eq=False)
class Computed:
    """An expression computed in Python for a family of rules at once (e.g. SLO burn).

    `evaluate(store, now)` returns, per rule key of the family, the instances
    (labels, value) where the condition holds; the evaluator calls it once per cycle.
    """

    family: str
    evaluate: Any


TEMPLATE_KINDS = ("go", "jinja")


class JinjaTemplate(str):
    """A label or annotation template of a rule whose file declares `templates: jinja`."""


@dataclass
class Rule:
    """One alerting rule, from a file or generated (SLO burn, collector health); with
    `record` (the metric name its results are written as), a recording rule."""

    name: str
    expr: str | Threshold | Computed | PromQL
    group: str = "default"
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    interval: timedelta = DEFAULT_INTERVAL
    source: str = "rule"
    file: str | None = None
    line: int | None = None
    record: str | None = None
    templates: str = "go"  # how its labels and annotations are templated: go (as Prometheus) or jinja

    def __post_init__(self) -> None:
        if self.templates not in TEMPLATE_KINDS:
            raise ValueError(f"templates must be one of {', '.join(TEMPLATE_KINDS)} (got {self.templates!r})")
        if self.templates == "jinja":  # each text carries its kind to the renderer (alerts/lifecycle)
            self.labels = {k: JinjaTemplate(v) for k, v in self.labels.items()}
            self.annotations = {k: JinjaTemplate(v) for k, v in self.annotations.items()}

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else f"{self.source} rule {self.key}"

    def render(self, plan: SqlPlan) -> str:
        """This rule's SQL at the plan's `now`."""
        if isinstance(self.expr, Threshold):
            return self.expr.sql(plan)
        if isinstance(self.expr, (Computed, PromQL)):
            raise TypeError(f"a {type(self.expr).__name__} rule has no SQL template")
        return _template(self.expr).render(plan.context())


_sql_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=4096)
def _template(text: str) -> jinja2.Template:
    return _sql_env.from_string(text)


# -- checking a rule ------------------------------------------------------------------


def check_rule(
    rule: Rule, data: Any = None, base: tuple[Any, ...] = (), path: Any = None, *, check_sql: bool = True
) -> list[Problem]:
    """What is wrong with one rule: labels, templates, and its SQL against an empty schema."""

    def where(*key: Any) -> tuple[str | None, int | None]:
        if data is None:
            return rule.file, rule.line
        file, line, _ = locate(data, base + key, path)
        return file, line

    problems = _label_problems(rule, where)
    if isinstance(rule.expr, (Computed, PromQL)):  # PromQL is checked as it is parsed
        return problems
    file, line = where("expr")
    problem = _expr_problem(rule, check_sql)
    return [*problems, Problem(file, line, problem, "expr")] if problem else problems


def _label_problems(rule: Rule, where: Callable[..., tuple[str | None, int | None]]) -> list[Problem]:
    """Label names that are not valid, and label or annotation templates that do not parse."""
    problems: list[Problem] = []
    for kind, mapping in (("labels", rule.labels), ("annotations", rule.annotations)):
        for name, text in mapping.items():
            if not LABEL_NAME.match(name):
                problems.append(Problem(*where(kind, name), "not a valid label name", f"{kind}.{name}"))
            problem = template_problem(text, rule.templates)
            if problem:
                problems.append(Problem(*where(kind, name), problem, f"{kind}.{name}"))
    return problems


_JINJA_LOOK = re.compile(r"\{\{-?\s*(?:labels\s*[.\[]|value\s*(?:\||-?\}\}))|\{%")


def template_problem(text: str, kind: str) -> str | None:
    """Why a label or annotation template does not parse as `kind` (go or jinja), or None."""
    if kind == "jinja":
        try:
            _sql_env.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            return f"bad template: {exc.message}"
        return None
    from console.rules.gotemplate import check

    error = check(text)
    jinja = _JINJA_LOOK.search(text)
    if error is None and not jinja:
        return None
    message = (
        f"bad template (Go, line {error.line} col {error.col}): {error.message}" if error else "bad template"
    )
    if jinja:
        message = re.sub(r" \(did you mean [^)]*\)$", "", message)
        return (
            f"{message}; this looks like a Jinja template: write it as Prometheus does "
            "(`{{ $labels.x }}`, `{{ $value }}`, `{{ $value | humanize }}`), "
            "or put `templates: jinja` at the top of the rule file"
        )
    return message


def _expr_problem(rule: Rule, check_sql: bool) -> str | None:
    """Why the rule's expression does not render (or, with `check_sql`, does not run)."""
    try:
        sql = rule.render(SqlPlan(datetime(2000, 1, 1), batched=False))
    except jinja2.TemplateSyntaxError as exc:
        return f"bad template (line {exc.lineno} of expr): {exc.message}"
    except Exception as exc:  # noqa: BLE001 - helper arguments, unknown names: reported as the rule's problem
        if isinstance(exc, (ValueError, jinja2.UndefinedError)):
            return str(exc)
        return f"{type(exc).__name__}: {exc}"
    return sql_problem(sql) if check_sql else None


_schema_con: duckdb.DuckDBPyConnection | None = None  # the empty schema rules are checked against


def sql_problem(sql: str) -> str | None:
    """Why `sql` cannot run against the store's schema, or None (checked on an empty store)."""
    global _schema_con
    import duckdb

    from console.store.schema import MIGRATIONS

    if _schema_con is None:
        con = duckdb.connect()
        for migration in MIGRATIONS:
            con.execute(migration)
        _schema_con = con
    try:
        cur = _schema_con.cursor()
        cur.execute(f"DESCRIBE ({sql})")
        columns = [row[0] for row in cur.fetchall()]
    except duckdb.Error as exc:
        return "SQL error: " + str(exc).splitlines()[0]
    if "value" not in columns:
        return f"the query must return a `value` column (it returns {', '.join(columns)})"
    return None
