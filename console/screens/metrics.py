"""The `:metrics` query: any PromQL expression, evaluated over the view's range as Prometheus's
`query_range` would answer it (console/rules/promql/), or a bare selector's samples.

An optional `[range]` after the expression, at the top level, sets the view's range:
`rate(x[5m]) [1h]`, `x{job="api"} [1h]`.  A bare selector is drawn from its samples (bucketed);
anything else is evaluated at about 120 steps across the range, so the chart shows what a rule
with that expression would see at each step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.config.durations import parse_duration
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.rules.model import Rule, Threshold
from console.rules.promql import Options, PromQL, PromQLError, PromQLEvalError, query_range
from console.rules.promql import parse as parse_promql
from console.screens.overview import MetricSeries, metric_series
from console.store.selectors import parse_selector

if TYPE_CHECKING:
    from console.store.db import Store

ACCEPTED = (
    "accepted: a PromQL expression (e.g. sum by (code) (rate(x[5m]))), then an optional [range] such as [1h]"
)


class QueryError(ValueError):
    """The text is not a query the view accepts; the message says what is wrong and what is."""


@dataclass(frozen=True)
class Query:
    """A selector to draw from its samples, or a PromQL expression to evaluate over the range."""

    text: str
    expr: PromQL | None = field(default=None, compare=False)
    range: timedelta | None = None

    @property
    def selector(self) -> str:
        return self.text

    @property
    def unit(self) -> str:
        return _unit(self.expr.ast) if self.expr is not None else "value"


def _unit(node: Any) -> str:
    """What the values measure, from the outermost function under aggregations and parentheses."""
    kind = type(node).__name__
    if kind in ("ParenExpr", "AggregateExpr") and type(getattr(node, "expr", None)).__name__ != "NoneType":
        if kind == "AggregateExpr" and str(node.op) in ("count", "count_values"):
            return "series"
        return _unit(node.expr)
    if kind == "Call":
        name = node.func.name
        if name in ("rate", "irate", "deriv"):
            return "per second"
        if name == "increase" and type(node.args[0]).__name__ == "MatrixSelector":
            return f"increase per {duration_text(node.args[0].range)}"
        if name == "count_over_time":
            return "samples"
    return "value"


def duration_text(d: timedelta) -> str:
    """`d` as the query syntax writes it: 90m is `90m`, 2 hours `2h`."""
    s = int(d.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"


def _fail(text: str, why: str) -> QueryError:
    return QueryError(f"cannot read {text!r}: {why} — {ACCEPTED}")


def _top_level(text: str) -> list[tuple[int, str]]:
    """(index, char) of the characters outside (), {} and quotes."""
    out, depth, quote, escaped = [], 0, "", False
    for i, ch in enumerate(text):
        if quote:
            escaped, quote = (not escaped and ch == "\\"), ("" if ch == quote and not escaped else quote)
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif depth == 0:
            out.append((i, ch))
    return out


def _split_range(text: str) -> tuple[str, str | None]:
    """The text without a trailing top-level `[range]`, and the range's text."""
    if not text.endswith("]"):
        return text, None
    opens = [i for i, ch in _top_level(text) if ch == "["]
    if not opens or ":" in text[opens[-1] :]:  # `x[10m:1m]` is a subquery, not the view's range
        return text, None
    return text[: opens[-1]].strip(), text[opens[-1] + 1 : -1].strip()


def _duration(text: str, whole: str, what: str) -> timedelta:
    try:
        d = parse_duration(text)
    except ValueError as exc:
        raise _fail(whole, f"bad {what} {text!r} ({exc})") from None
    if d.total_seconds() <= 0:
        raise _fail(whole, f"the {what} must be positive")
    return d


def parse_query(text: str) -> Query:
    """The query in `text`; QueryError (one line: what is wrong, what is accepted) otherwise."""
    whole = " ".join(text.split())
    body, rng = _split_range(whole)
    view_range = _duration(rng, whole, "range") if rng is not None else None
    try:
        expr = parse_promql(body)
    except PromQLError as exc:
        raise _fail(whole, str(exc)) from None
    if type(expr.ast).__name__ == "VectorSelector" and expr.ast.offset is None and expr.ast.at is None:
        try:
            parse_selector(body)  # the samples' reader takes the store's selector syntax
        except ValueError:
            return Query(body, expr, view_range)
        return Query(body, None, view_range)
    return Query(body, expr, view_range)


# -- evaluation --------------------------------------------------------------------------


def step_seconds(span: timedelta, points: int = 120) -> int:
    return max(1, int(span.total_seconds() // max(points, 1)))


def summary(query: Query, count: int, span: timedelta) -> str:
    """The status line for `count` series of `query` over the last `span`."""
    text = f"{count} series over the last {duration_text(span)}"
    if query.expr is None:
        return text
    return f"{text}, one value per {duration_text(timedelta(seconds=step_seconds(span)))}"


def evaluate(
    store: Store,
    query: Query,
    start: datetime,
    end: datetime,
    *,
    points: int = 120,
    max_series: int = 20,
    windows: Windows = DEFAULT_WINDOWS,
) -> list[MetricSeries]:
    """The query's series between start and end (a bare selector: its samples, bucketed);
    `windows` is the workspace's `promql.windows`, as the rules read it.  ValueError (one line)
    when the expression cannot be answered."""
    if query.expr is None:
        return metric_series(store, query.selector, start, end, max_series=max_series)
    step = timedelta(seconds=step_seconds(end - start, points))
    first = end - step * int((end - start) / step)
    cur = store.cursor()
    try:
        answer = query_range(cur, query.expr, first, end, step, Options(windows=windows))
    except PromQLEvalError as exc:
        raise ValueError(str(exc)) from None
    finally:
        cur.close()
    out = []
    for labels, values in sorted(answer.items())[:max_series]:
        drawn = [(_at(t), v) for t, v in values if not (math.isnan(v) or math.isinf(v))]
        out.append(MetricSeries(dict(labels), drawn))
    return out


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


# -- an alert's rule threshold -----------------------------------------------------------


def rule_threshold(store: Store, fingerprint: str, rules: list[Rule]) -> tuple[str, float] | None:
    """(op, value) of the rule in force that raised the alert: a threshold-form rule, or a
    PromQL rule ending in `op NUMBER`; None otherwise (an SQL or generated rule, an alert from
    elsewhere, a rule no longer loaded)."""
    rows = store.shared.query("SELECT rule FROM alerts WHERE fingerprint = ?", [fingerprint])[1]
    key = rows[0][0] if rows else None
    rule = next((r for r in rules if key and r.key == key), None)
    if rule is not None and isinstance(rule.expr, PromQL):
        return promql_threshold(rule.expr)
    if rule is None or not isinstance(rule.expr, Threshold):
        return None
    return rule.expr.op, float(rule.expr.value)


def promql_threshold(expr: PromQL) -> tuple[str, float] | None:
    """(op, value) of a PromQL rule that ends in a filtering comparison with a number, as most
    alerting rules do (`… > 0.01`); None otherwise."""
    node = expr.ast
    while type(node).__name__ == "ParenExpr":
        node = node.expr
    if type(node).__name__ != "BinaryExpr" or (node.modifier and node.modifier.return_bool):
        return None
    op, rhs = str(node.op).strip(), node.rhs
    while type(rhs).__name__ == "ParenExpr":
        rhs = rhs.expr
    if op not in (">", ">=", "<", "<=", "==", "!=") or type(rhs).__name__ != "NumberLiteral":
        return None
    return op, float(rhs.val)
