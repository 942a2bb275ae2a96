"""The `:metrics` query: a selector, or a rule function of one over a window, optionally
aggregated, evaluated as a range series (one value per step) with the rule engine's SQL.

Accepted (PromQL spelling, the subset rule files can express):

    SELECTOR
    rate(SELECTOR[5m])  increase(SELECTOR[5m])
    avg_over_time|min_over_time|max_over_time|sum_over_time|count_over_time|last_over_time(SELECTOR[5m])
    quantile_over_time(0.9, SELECTOR[5m])
    sum|avg|min|max [by (label, …)] (one of the function forms above)

each optionally followed by the view's range in brackets at the top level: `rate(x[5m]) [1h]`,
`x{job="api"} [1h]`.  Each step's value is what a rule's helper (`console/rules/model.py`,
`SqlPlan.series_sql`) computes at that instant, so the chart shows what a rule would see.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from console.config.durations import parse_duration
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.rules.model import Rule, SqlPlan, Threshold, parse_metric_selector, sql_ts
from console.screens.overview import MetricSeries, metric_series
from console.store.selectors import parse_selector

if TYPE_CHECKING:
    from console.store.db import Store

ACCEPTED = (
    "accepted: SELECTOR, rate|increase(SELECTOR[5m]), "
    "avg|min|max|sum|count|last_over_time(SELECTOR[5m]), quantile_over_time(0.9, SELECTOR[5m]), "
    "optionally in sum|avg|min|max [by (label, …)] (…), then an optional [range] such as [1h]"
)
RANGE_FUNCTIONS = {
    "rate": "rate",
    "increase": "increase",
    **{f"{fn}_over_time": fn for fn in ("avg", "min", "max", "sum", "count", "last", "quantile")},
}
AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "avg": lambda xs: sum(xs) / len(xs),
    "min": min,
    "max": max,
}
_AGG = re.compile(r"^(sum|avg|min|max)\s*(?:by\s*\(([^()]*)\)\s*)?\((.*)\)$", re.S)
_AGG_AFTER = re.compile(r"^(sum|avg|min|max)\s*\((.*)\)\s*by\s*\(([^()]*)\)$", re.S)  # sum(…) by (l)
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)$", re.S)
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class QueryError(ValueError):
    """The text is not a query the view accepts; the message says what is wrong and what is."""


@dataclass(frozen=True)
class Query:
    selector: str
    fn: str | None = None  # a rule function (console/rules/model.py FUNCTIONS); None: raw samples
    window: timedelta | None = None
    q: float | None = None
    agg: str | None = None
    by: tuple[str, ...] = ()
    range: timedelta | None = None

    @property
    def unit(self) -> str:
        if self.fn == "rate":
            return "per second"
        if self.fn == "increase" and self.window is not None:
            return f"increase per {duration_text(self.window)}"
        if self.fn == "count":
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


def _balanced(text: str) -> bool:
    """Whether every ( and { outside quotes closes, in order."""
    depth, quote, escaped = 0, "", False
    for ch in text:
        if quote:
            escaped, quote = (not escaped and ch == "\\"), ("" if ch == quote and not escaped else quote)
        elif ch in "\"'`":
            quote = ch
        else:
            depth += (ch in "({") - (ch in ")}")
            if depth < 0:
                return False
    return depth == 0 and not quote


def _split_range(text: str) -> tuple[str, str | None]:
    """The text without a trailing top-level `[range]`, and the range's text."""
    if not text.endswith("]"):
        return text, None
    opens = [i for i, ch in _top_level(text) if ch == "["]
    if not opens:
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
    if not _balanced(body):
        raise _fail(whole, "unbalanced parentheses or braces")
    agg, by, body = _aggregation(body, whole)
    query = _function(body, whole) if "(" in body else _selector(body, whole)
    if agg and query.fn is None:
        raise _fail(whole, f"{agg}(…) needs a function of a window inside, e.g. {agg}(rate(x[5m]))")
    return Query(query.selector, query.fn, query.window, query.q, agg, by, view_range)


def _aggregation(body: str, whole: str) -> tuple[str | None, tuple[str, ...], str]:
    """(sum|avg|min|max or None, its by labels, what it aggregates) of `body`."""
    if m := _AGG_AFTER.match(body):
        agg, inner, labels = m.group(1), m.group(2), m.group(3)
    elif m := _AGG.match(body):
        agg, inner, labels = m.group(1), m.group(3), m.group(2) or ""
    else:
        return None, (), body
    by = tuple(x.strip() for x in labels.split(",") if x.strip())
    bad = [x for x in by if not _LABEL.match(x)]
    if bad:
        raise _fail(whole, f"bad label name {bad[0]!r} in by (…)")
    return agg, by, inner.strip()


def _selector(text: str, whole: str) -> Query:
    try:
        parse_selector(text)
    except ValueError as exc:
        raise _fail(whole, str(exc)) from None
    return Query(text)


def _function(text: str, whole: str) -> Query:
    m = _CALL.match(text)
    if not m:
        raise _fail(whole, "unbalanced or unexpected parentheses")
    name, args = m.group(1), m.group(2).strip()
    if name not in RANGE_FUNCTIONS:
        raise _fail(whole, f"function {name!r} is not supported")
    fn, q = RANGE_FUNCTIONS[name], None
    if fn == "quantile":
        q_text, comma, args = args.partition(",")
        try:
            q = float(q_text)
        except ValueError:
            comma = ""
        if not comma or q is None or not 0 <= q <= 1:
            raise _fail(whole, f"{name} needs a quantile 0…1 first, e.g. {name}(0.9, x[5m])")
        args = args.strip()
    selector, window = _split_range(args)
    if window is None:
        raise _fail(whole, f"{name} needs a window, e.g. {name}({args or 'x'}[5m])")
    try:
        parse_metric_selector(selector)
    except ValueError as exc:
        raise _fail(whole, str(exc)) from None
    return Query(selector, fn, _duration(window, whole, "window"), q)


# -- evaluation --------------------------------------------------------------------------


def step_seconds(span: timedelta, points: int = 120) -> int:
    return max(1, int(span.total_seconds() // max(points, 1)))


def summary(query: Query, count: int, span: timedelta) -> str:
    """The status line for `count` series of `query` over the last `span`."""
    text = f"{count} series over the last {duration_text(span)}"
    if query.fn is None:
        return text
    return f"{text}, one value per {duration_text(timedelta(seconds=step_seconds(span)))}"


def step_times(start: datetime, end: datetime, points: int) -> list[datetime]:
    """About `points` instants ending at `end`, on a whole-second step."""
    step = step_seconds(end - start, points)
    count = int((end - start).total_seconds() // step)
    return [end - timedelta(seconds=step * i) for i in range(count, -1, -1)]


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
    `windows` is the workspace's `promql.windows`, as the rules read it."""
    if query.fn is None or query.window is None:
        return metric_series(store, query.selector, start, end, max_series=max_series)
    times = step_times(start, end, points)
    parts = []
    for t in times:
        sql = SqlPlan(t, batched=False, windows=windows).series_sql(
            query.selector, query.window, query.fn, None, query.q
        )
        parts.append(f"SELECT {sql_ts(t)} AS t, _labels, value FROM ({sql})")
    rows = store.query(" UNION ALL ".join(parts) + " ORDER BY 2, 1")[1]
    per_series: dict[str, dict[datetime, float]] = defaultdict(dict)
    for t, labels, value in rows:
        if value is not None:
            per_series[labels][t] = float(value)
    if query.agg:
        return _aggregate(query, per_series, times)[:max_series]
    return [
        MetricSeries(json.loads(labels), [(t, values[t]) for t in times if t in values])
        for labels, values in sorted(per_series.items())[:max_series]
    ]


def _aggregate(
    query: Query, per_series: dict[str, dict[datetime, float]], times: list[datetime]
) -> list[MetricSeries]:
    """`agg by (labels)` of the per-series values at each step, as PromQL aggregates."""
    groups: dict[tuple[str, ...], list[dict[datetime, float]]] = defaultdict(list)
    for labels, values in per_series.items():
        parsed = json.loads(labels)
        groups[tuple(str(parsed.get(b, "")) for b in query.by)].append(values)
    combine = AGGREGATIONS[query.agg or "sum"]
    out = []
    for key, members in sorted(groups.items()):
        points = []
        for t in times:
            xs = [m[t] for m in members if t in m]
            if xs:
                points.append((t, combine(xs)))
        out.append(MetricSeries({b: x for b, x in zip(query.by, key, strict=True) if x}, points))
    return out


# -- an alert's rule threshold -----------------------------------------------------------


def rule_threshold(store: Store, fingerprint: str, rules: list[Rule]) -> tuple[str, float] | None:
    """(op, value) of the threshold-form rule in force that raised the alert, or None (an
    SQL or generated rule, an alert from elsewhere, a rule no longer loaded)."""
    rows = store.query("SELECT rule FROM alerts WHERE fingerprint = ?", [fingerprint])[1]
    key = rows[0][0] if rows else None
    rule = next((r for r in rules if key and r.key == key), None)
    if rule is None or not isinstance(rule.expr, Threshold):
        return None
    return rule.expr.op, float(rule.expr.value)
