"""Rules of one shape, evaluated as one: expressions that differ only in their selectors' matchers,
their range windows, the number literals they compare with and which `*_over_time` aggregate
they take share one compiled query, with those values as data per expression (a part).

A team's alerting rules are a few shapes repeated per service, model or threshold; compiled this
way a cycle costs per shape, not per rule.  The shape key spells the expression with each such
value replaced by a slot, numbered by its distinct (printed) text, so two rules share a key only
when their repeated values repeat in the same places.  Anything whose meaning depends on the evaluation time
itself (`offset`, `@`, subqueries, `time()`, `predict_linear`, `timestamp`) or on a selector's
text (`absent`, whose labels are its matchers') is not shaped: such a rule is compiled on its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from console.rules.promql.nodes import PromQL, ms_of

# their answer depends on the evaluation time itself, or (absent) on the selector's own text
_ALONE = frozenset({"time", "predict_linear", "timestamp", "absent", "absent_over_time"})
# one aggregate over a window's values, the same labels out: which one is data too
FAMILY = frozenset(
    {
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "present_over_time",
    }
)


class Unshaped(Exception):
    """The expression is compiled on its own."""


@dataclass
class Slots:
    """One expression's values, in slot order, and (for the first of a group) where they sit."""

    selectors: list[Any] = field(default_factory=list)  # VectorSelector nodes
    ranges: list[int] = field(default_factory=list)  # ms
    numbers: list[float] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # *_over_time names (FAMILY)
    selector_at: dict[str, int] = field(default_factory=dict)  # selector text → slot
    range_at: dict[str, int] = field(default_factory=dict)  # matrix selector text → slot
    number_at: dict[str, int] = field(default_factory=dict)  # literal text → slot
    function_at: dict[str, int] = field(default_factory=dict)  # call text → slot

    def _slot(self, at: dict[str, int], values: list[Any], text: str, value: Any) -> int:
        if text not in at:
            at[text] = len(values)
            values.append(value)
        return at[text]


def shape(ast: Any) -> tuple[str, Slots]:
    """(key, values) of an expression; Unshaped when it is compiled on its own."""
    slots = Slots()
    return _key(ast, slots, operand=False), slots


def _key(node: Any, slots: Slots, operand: bool) -> str:
    kind = type(node).__name__
    if kind == "ParenExpr":
        return f"({_key(node.expr, slots, False)})"
    if kind == "NumberLiteral":
        if not operand:
            return str(node)
        text = str(node)
        return f"$n{slots._slot(slots.number_at, slots.numbers, text, float(node.val))}"
    if kind == "StringLiteral":
        return str(node)
    if kind == "VectorSelector":
        return _selector(node, slots)
    if kind == "MatrixSelector":
        vs = node.vector_selector
        sel = _selector(vs, slots)
        window = ms_of(node.range)
        return f"{sel}[$r{slots._slot(slots.range_at, slots.ranges, str(node), window)}]"
    if kind == "UnaryExpr":
        return f"-({_key(node.expr, slots, False)})"
    if kind == "BinaryExpr":
        modifier = str(node.modifier) if node.modifier else ""
        left = _key(node.lhs, slots, True)
        right = _key(node.rhs, slots, True)
        return f"({left} {str(node.op).strip().lower()} {modifier} {right})"
    if kind == "Call":
        name = node.func.name
        if name in _ALONE:
            raise Unshaped(name)
        args = ", ".join(_key(a, slots, False) for a in node.args)
        if name in FAMILY:
            return f"$f{slots._slot(slots.function_at, slots.functions, str(node), name)}({args})"
        return f"{name}({args})"
    if kind == "AggregateExpr":
        modifier = str(node.modifier) if node.modifier else ""
        param = f"{_key(node.param, slots, False)}, " if node.param is not None else ""
        return f"{str(node.op).strip().lower()} {modifier} ({param}{_key(node.expr, slots, False)})"
    raise Unshaped(kind)


def _selector(node: Any, slots: Slots) -> str:
    if node.offset is not None or node.at is not None:
        raise Unshaped("offset or @")
    return f"$s{slots._slot(slots.selector_at, slots.selectors, str(node), node)}"


@functools.lru_cache(maxsize=8192)
def _shape_of(expr: PromQL) -> tuple[str, Slots] | None:
    """A rule's shape, found once (rules are evaluated every cycle; their text does not change)."""
    try:
        return shape(expr.ast)
    except Unshaped:
        return None


def groups(exprs: list[PromQL]) -> tuple[list[list[int]], dict[int, Slots]]:
    """Indexes of expressions sharing a shape (two or more), and each one's values."""
    by_key: dict[str, list[int]] = {}
    values: dict[int, Slots] = {}
    for i, expr in enumerate(exprs):
        found = _shape_of(expr)
        if found is None:
            continue
        key, slots = found
        by_key.setdefault(key, []).append(i)
        values[i] = slots
    return [members for members in by_key.values() if len(members) > 1], values


def uses(node: Any, slots: Slots) -> tuple[list[int], list[int], list[int], list[int]]:
    """The selector, range, number and function slots a subexpression of a shaped expression reads."""
    sel: list[int] = []
    rng: list[int] = []
    num: list[int] = []
    fns: list[int] = []

    def walk(n: Any, operand: bool) -> None:
        kind = type(n).__name__
        if kind in ("ParenExpr", "UnaryExpr"):
            walk(n.expr, False)
        elif kind == "NumberLiteral" and operand:
            num.append(slots.number_at[str(n)])
        elif kind == "VectorSelector":
            sel.append(slots.selector_at[str(n)])
        elif kind == "MatrixSelector":
            sel.append(slots.selector_at[str(n.vector_selector)])
            rng.append(slots.range_at[str(n)])
        elif kind == "BinaryExpr":
            walk(n.lhs, True)
            walk(n.rhs, True)
        elif kind == "Call":
            if n.func.name in FAMILY:
                fns.append(slots.function_at[str(n)])
            for arg in n.args:
                walk(arg, False)
        elif kind == "AggregateExpr":
            if n.param is not None:
                walk(n.param, False)
            walk(n.expr, False)

    walk(node, False)
    return sel, rng, num, fns
