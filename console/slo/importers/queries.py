"""Sloth and OpenSLO PromQL queries read as oncall SLIs: `{{.window}}` filled in, the query parsed
with promql-parser and its tree walked.

What converts: a counter as `sum [by|without (...)] (rate|increase(SELECTOR[w]))` (the grouping
before or after the parentheses), `sum(SELECTOR)` or a bare selector or rate (read as their sum);
errors as such a counter, or as `total − good` (the latency form `_count − _bucket{le="t"}` is one)
where the minuend is the total query itself.  Anything else raises Unsupported saying why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from console.slo.importers.common import Unsupported
from console.store.selectors import Matcher, Selector, SelectorError, parse_selector

__all__ = ["Unsupported", "bucket_sli", "events_sli", "parse_query", "ratio_sli", "raw_sli"]

_WINDOW = re.compile(r"\{\{\s*\.[Ww]indow\s*\}\}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)
_OPS = {
    int(pp.MatchOp.Equal): "=",
    int(pp.MatchOp.NotEqual): "!=",
    int(pp.MatchOp.Re): "=~",
    int(pp.MatchOp.NotRe): "!~",
}
_COUNTERS = ("rate", "increase")


@dataclass(frozen=True)
class Counter:
    """A counter query: the series it sums and how it groups them."""

    selector: Selector
    grouping: tuple[str, tuple[str, ...]]  # ("by" | "without", labels); ("series", ()) with no sum

    @property
    def summed(self) -> bool:
        return self.grouping[0] != "series"


def parse_query(query: Any) -> Any:
    """The query's tree, `{{.window}}` read as 5m (any window gives the same shape)."""
    text = _WINDOW.sub("5m", str(query or "").strip())
    if not text:
        raise Unsupported("empty query")
    other = _TEMPLATE.search(text)
    if other:
        raise Unsupported(f"template {other[0]} (only {{{{.window}}}} is filled in)")
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise Unsupported(f"PromQL does not parse ({exc})") from None


def _same(a: Selector, b: Selector) -> bool:
    """The same series: one name, the same matchers in any order."""
    return a.name == b.name and set(a.matchers) == set(b.matchers)


def _kind(node: Any) -> str:
    return type(node).__name__


def _unwrap(node: Any) -> Any:
    while _kind(node) == "ParenExpr":
        node = node.expr
    return node


def _short(node: Any) -> str:
    text = " ".join(str(node).split())
    return text if len(text) <= 80 else text[:77] + "..."


def counter(node: Any) -> Counter:
    """`sum [by|without] (rate(SEL[w]))`, `sum(SEL)`, `rate(SEL[w])` or `SEL` as a Counter."""
    node = _unwrap(node)
    if _kind(node) != "AggregateExpr":
        return Counter(_series(node), ("series", ()))
    op = str(node.op).strip().lower()
    if op != "sum":
        raise Unsupported(f"{op}(...) in {_short(node)} (only sum() of a counter counts events)")
    modifier = node.modifier
    if modifier is None:
        grouping: tuple[str, tuple[str, ...]] = ("by", ())
    else:
        kind = "by" if modifier.type == pp.AggModifierType.By else "without"
        grouping = (kind, tuple(sorted(set(modifier.labels))))
    return Counter(_series(node.expr), grouping)


def _series(node: Any) -> Selector:
    """The selector under `rate(SEL[w])`, `increase(SEL[w])` or a bare `SEL`."""
    node = _unwrap(node)
    kind = _kind(node)
    if kind == "Call":
        name = node.func.name
        if name not in _COUNTERS:
            raise Unsupported(f"{name}() in {_short(node)} (only rate() or increase() of a counter)")
        return _selector(node.args[0].vector_selector)
    if kind == "VectorSelector":
        return _selector(node)
    if kind == "SubqueryExpr":
        raise Unsupported(f"a subquery in {_short(node)} (only rate() or increase() of a counter)")
    if kind == "AggregateExpr":
        raise Unsupported(f"an aggregation inside another in {_short(node)}")
    raise Unsupported(f"{_short(node)} where a counter was expected (sum(rate(SELECTOR[w])))")


def _selector(node: Any) -> Selector:
    if node.offset is not None or node.at is not None:
        raise Unsupported(f"offset or @ in {_short(node)} (oncall's windows end at the evaluation time)")
    if node.matchers.or_matchers:
        raise Unsupported(f"`or` between matchers in {_short(node)}")
    matchers = [Matcher(m.name, _OPS[int(m.op)], m.value) for m in node.matchers.matchers]
    text = str(Selector(node.name, tuple(matchers)))
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise Unsupported(str(exc)) from None


def _grouping(grouping: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
    kind, labels = grouping
    if kind == "without":
        return {"without": list(labels)}
    return {"by": list(labels)} if labels else {}


def _describe(grouping: tuple[str, tuple[str, ...]]) -> str:
    kind, labels = grouping
    return "no sum()" if kind == "series" else f"{kind} ({', '.join(labels)})"


def _same_grouping(parts: list[tuple[str, Counter]], notes: list[str]) -> dict[str, Any]:
    """The grouping every part shares ({} for sum over all); Unsupported if they differ."""
    summed = [c for _, c in parts if c.summed]
    if len(summed) < len(parts) and any(c.grouping != ("by", ()) for c in summed):
        described = ", ".join(f"{role} {_describe(c.grouping)}" for role, c in parts)
        raise Unsupported(f"the queries group differently ({described})")
    for role, part in parts:
        if not part.summed:
            notes.append(f"the {role} query has no sum(): read as sum({part.selector}), over all its series")
    groupings = {c.grouping for c in summed} or {("by", ())}
    if len(groupings) > 1:
        described = ", ".join(f"{role} {_describe(c.grouping)}" for role, c in parts)
        raise Unsupported(f"the queries group differently ({described})")
    return _grouping(groupings.pop())


def _le(selector: Selector) -> tuple[Selector, float | None]:
    """The selector without its `le="..."` matcher, and that bound (None: no such matcher)."""
    bounds = [m for m in selector.matchers if m.label == "le" and m.op == "="]
    if len(bounds) != 1:
        return selector, None
    try:
        bound = float(bounds[0].value)
    except ValueError:
        return selector, None
    return Selector(selector.name, tuple(m for m in selector.matchers if m is not bounds[0])), bound


def _good_sli(good: Counter, total: Counter, grouping: dict[str, Any]) -> dict[str, Any]:
    """A good/total SLI: a histogram's buckets (`le` t over `le` +Inf) as latency, else a ratio."""
    good_rest, bound = _le(good.selector)
    total_rest, total_bound = _le(total.selector)
    if "without" in grouping and bound is not None and "le" not in grouping["without"]:
        raise Unsupported(
            "without (...) keeps the bucket's `le` label, so Prometheus matches the bucket to no "
            "total: add le to the without list"
        )
    if (
        _same(good_rest, total_rest)
        and bound is not None
        and math.isfinite(bound)
        and total_bound == math.inf
        and str(good_rest.name or "").endswith("_bucket")
    ):
        return {"latency": {"buckets": str(good_rest), "threshold": bound, **grouping}}
    return {"ratio": {"good": str(good.selector), "total": str(total.selector), **grouping}}


def events_sli(error_query: Any, total_query: Any) -> tuple[dict[str, Any], list[str]]:
    """Sloth's error and total queries as an oncall SLI, and what was read loosely."""
    return _events(parse_query(error_query), parse_query(total_query))


def raw_sli(error_ratio_query: Any) -> tuple[dict[str, Any], list[str]]:
    """Sloth's raw error ratio, when it is `errors / total` or `1 − good / total` of counters."""
    node = _unwrap(parse_query(error_ratio_query))
    if _kind(node) == "BinaryExpr" and str(node.op).strip() == "/" and node.modifier is None:
        return _events(node.lhs, node.rhs)
    if (
        _kind(node) == "BinaryExpr"
        and str(node.op).strip() == "-"
        and _kind(_unwrap(node.lhs)) == "NumberLiteral"
        and _unwrap(node.lhs).val == 1
    ):
        ratio = _unwrap(node.rhs)
        if _kind(ratio) == "BinaryExpr" and str(ratio.op).strip() == "/" and ratio.modifier is None:
            good, total = counter(ratio.lhs), counter(ratio.rhs)
            notes: list[str] = []
            grouping = _same_grouping([("good", good), ("total", total)], notes)
            return _good_sli(good, total, grouping), notes
    raise Unsupported(
        f"raw error ratio {_short(node)} (only errors / total or 1 - good / total of counters converts)"
    )


def _zero_fallback(node: Any) -> Any:
    """`X or vector(0)` (and `X or on() vector(0)`) as X: oncall already counts no errors as 0."""
    node = _unwrap(node)
    if _kind(node) != "BinaryExpr" or str(node.op).strip().lower() != "or":
        return node
    zero = _unwrap(node.rhs)
    matching = node.modifier.matching if node.modifier is not None else None
    if (
        _kind(zero) == "Call"
        and zero.func.name == "vector"
        and _kind(_unwrap(zero.args[0])) == "NumberLiteral"
        and _unwrap(zero.args[0]).val == 0
        and (matching is None or not list(matching.labels))
    ):
        return _unwrap(node.lhs)
    return node


def _events(error_node: Any, total_node: Any) -> tuple[dict[str, Any], list[str]]:
    total = counter(total_node)
    error = _zero_fallback(error_node)
    notes: list[str] = []
    if _kind(error) == "BinaryExpr" and str(error.op).strip() == "-":
        minuend, good = _difference(error, total)
        parts = [("error's first", minuend), ("error's second", good), ("total", total)]
        return _good_sli(good, total, _same_grouping(parts, notes)), notes
    bad = counter(error)
    grouping = _same_grouping([("error", bad), ("total", total)], notes)
    return {"ratio": {"bad": str(bad.selector), "total": str(total.selector), **grouping}}, notes


def _difference(node: Any, total: Counter) -> tuple[Counter, Counter]:
    """`A − B` as (A, B) when A is the total query's counter: then B counts the good events."""
    modifier = node.modifier
    if modifier is not None and (modifier.matching is not None or modifier.return_bool):
        raise Unsupported(f"vector matching or bool in {_short(node)} (only plain total − good)")
    minuend, good = counter(node.lhs), counter(node.rhs)
    if not _same(minuend.selector, total.selector):
        raise Unsupported(
            f"errors as {minuend.selector} − {good.selector}, but {minuend.selector} is not the total "
            f"query's {total.selector} (only (total − good) / total converts)"
        )
    return minuend, good


def ratio_sli(good_query: Any, bad_query: Any, total_query: Any) -> tuple[dict[str, Any], list[str]]:
    """OpenSLO's good (or bad) and total queries as an oncall SLI, and what was read loosely."""
    if good_query is None:
        return events_sli(bad_query, total_query)
    good, total = counter(parse_query(good_query)), counter(parse_query(total_query))
    notes: list[str] = []
    grouping = _same_grouping([("good", good), ("total", total)], notes)
    return _good_sli(good, total, grouping), notes


def bucket_sli(query: Any, op: str, value: Any) -> tuple[dict[str, Any], list[str]]:
    """An OpenSLO threshold metric over a histogram's buckets (`op` lte/lt `value`) as a latency SLI."""
    node = _unwrap(parse_query(query))
    if _kind(node) == "Call" and node.func.name == "histogram_quantile":
        raise Unsupported(
            "histogram_quantile() compared per time slice; oncall counts requests: give the "
            "histogram's _bucket series as the query to count requests under the threshold"
        )
    buckets = counter(node)
    notes: list[str] = []
    rest, bound = _le(buckets.selector)
    if not str(rest.name or "").endswith("_bucket") or bound is not None:
        raise Unsupported(
            f"{buckets.selector} is no histogram's _bucket series; a threshold on another metric "
            "is a per-time-slice objective, which oncall does not compute"
        )
    if op not in ("lte", "lt"):
        raise Unsupported(f"op {op} (a histogram counts requests at or under a bound: lte)")
    if op == "lt":
        notes.append("op lt read as lte (a histogram counts requests at or under its `le` bound)")
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise Unsupported(f"threshold value {value!r} is not a number") from None
    grouping = _grouping(buckets.grouping) if buckets.summed else {}
    if "by" in grouping:
        grouping["by"] = [label for label in grouping["by"] if label != "le"]
        if not grouping["by"]:
            del grouping["by"]
    return {"latency": {"buckets": str(rest), "threshold": threshold, **grouping}}, notes
