"""Binary operators: arithmetic, comparisons (filtering or `bool`), set operators, vector matching."""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from console.rules.promql import sql as q
from console.rules.promql.errors import PromQLError
from console.rules.promql.nodes import Builder as Compiler
from console.rules.promql.nodes import Grid, Rel


def _op(node: Any) -> str:
    text = str(node.op).strip().lower()
    if text not in q.COMPARISONS | q.ARITHMETIC | q.SET_OPS:
        raise PromQLError(f"operator {text} is not supported", str(node))
    return text


def binary(c: Compiler, node: Any, grid: Grid) -> Rel:

    op = _op(node)
    left, right = c.operand(node.lhs, grid), c.operand(node.rhs, grid)
    modifier = node.modifier
    boolean = bool(modifier and modifier.return_bool)
    for side in (left, right):
        if side.kind not in ("vector", "scalar"):
            raise PromQLError(f"operator {op} needs instant vectors or scalars, not a {side.kind}", str(node))
    if left.kind == "scalar" and right.kind == "scalar":
        value = _value(op, "l.v", "r.v", boolean)
        constant = None
        return Rel(
            "scalar",
            c.cte(f"SELECT l.t, {value} AS v FROM {left.name} l JOIN {right.name} r ON r.t = l.t"),
            constant=constant,
        )
    if op in q.SET_OPS:
        if left.kind == "scalar" or right.kind == "scalar":
            raise PromQLError(f"set operator {op} needs instant vectors on both sides", str(node))
        return _set_op(c, op, left, right, modifier)
    if left.kind == "scalar" or right.kind == "scalar":
        return _with_scalar(c, op, left, right, boolean)
    return _vectors(c, op, left, right, modifier, boolean)


def _value(op: str, left: str, right: str, boolean: bool) -> str:
    if op in q.COMPARISONS:
        if boolean:
            return f"CASE WHEN {q.compare(op, left, right)} THEN 1.0 ELSE 0.0 END"
        return left
    return q.arith(op, left, right)


def _with_scalar(c: Compiler, op: str, left: Rel, right: Rel, boolean: bool) -> Rel:

    vector_left = left.kind == "vector"
    vec, sca = (left, right) if vector_left else (right, left)
    scalar = f"({sca.inline.format(t='x.t')})" if sca.inline else "s.v"  # a number needs no join
    lv, rv = ("x.v", scalar) if vector_left else (scalar, "x.v")
    labels = "x.labels"
    if op in q.ARITHMETIC or boolean:
        labels = q.drop_name(labels)
    if op in q.COMPARISONS and not boolean:
        value, where = "x.v", f"WHERE {q.compare(op, lv, rv)}"
    else:
        value, where = _value(op, lv, rv, boolean), ""
    return Rel(
        "vector",
        c.cte(
            f"SELECT x.t, {labels} AS labels, {value} AS v FROM {vec.name} x "
            f"{'' if sca.inline else f'JOIN {sca.name} s ON s.t = x.t'} {where}"
        ),
        unique=vec.unique,
    )


def _matching(modifier: Any) -> tuple[bool, list[str], str, list[str]]:
    """(on, labels, cardinality, include) of a binary operation's vector matching."""
    if modifier is None:
        return False, [], "one", []
    matching = modifier.matching
    on = bool(matching and matching.type == pp.LabelModifierType.Include)
    names = list(matching.labels) if matching else []
    card = modifier.card
    if card == pp.VectorMatchCardinality.ManyToOne:
        kind = "left"
    elif card == pp.VectorMatchCardinality.OneToMany:
        kind = "right"
    else:
        kind = "one"
    include = list(modifier.group_labels or []) if kind != "one" else []
    return on, names, kind, include


def _set_op(c: Compiler, op: str, left: Rel, right: Rel, modifier: Any) -> Rel:

    on, names, _, _ = _matching(modifier)
    sig_l, sig_r = q.signature("l.labels", on, names), q.signature("r.labels", on, names)
    exists = f"EXISTS (SELECT 1 FROM {right.name} r WHERE r.t = l.t AND {sig_r} = {sig_l})"
    if op == "and":
        return Rel("vector", c.cte(f"SELECT l.t, l.labels, l.v FROM {left.name} l WHERE {exists}"))
    if op == "unless":
        return Rel("vector", c.cte(f"SELECT l.t, l.labels, l.v FROM {left.name} l WHERE NOT {exists}"))
    in_left = f"EXISTS (SELECT 1 FROM {left.name} l WHERE l.t = r.t AND {sig_l} = {sig_r})"
    return Rel(
        "vector",
        c.cte(
            f"SELECT t, labels, v FROM {left.name} UNION ALL "
            f"SELECT r.t, r.labels, r.v FROM {right.name} r WHERE NOT {in_left}"
        ),
    )


def _vectors(c: Compiler, op: str, left: Rel, right: Rel, modifier: Any, boolean: bool) -> Rel:

    on, names, card, include = _matching(modifier)
    sig_l, sig_r = q.signature("l.labels", on, names), q.signature("r.labels", on, names)
    many, one = ("l", "r") if card != "right" else ("r", "l")
    labels = f"{many}.labels"
    if op in q.ARITHMETIC or boolean:
        labels = q.drop_name(labels)
    if card == "one":
        labels = q.keep(labels, names) if on else q.drop(labels, names)
    for name in include:
        labels = q.put(labels, name, q.get(f"{one}.labels", name))
    value = _value(op, "l.v", "r.v", boolean)
    where = f"AND {q.compare(op, 'l.v', 'r.v')}" if op in q.COMPARISONS and not boolean else ""
    _unique_one_side(c, left, right, on, names, card)
    return Rel(
        "vector",
        c.cte(
            f"SELECT l.t, {labels} AS labels, {value} AS v FROM {left.name} l "
            f"JOIN {right.name} r ON r.t = l.t AND {sig_r} = {sig_l} {where}"
        ),
    )


def _unique_one_side(c: Compiler, left: Rel, right: Rel, on: bool, names: list[str], card: str) -> None:
    """Prometheus refuses many-to-many matching: the "one" side must be unique per match group,
    and one-to-one matching takes one sample of the other side per group.  Matched on all labels
    but __name__, sides known to be unique so (aggregations, one metric's rates) need no check."""
    one, side = (left, "left") if card == "right" else (right, "right")
    default = not on and not names
    sig = q.signature("labels", on, names)
    if not (default and one.unique):
        c.check(
            f"SELECT 'found duplicate series for the match group ' || {q.text('sig')} || ' on the {side} hand-side "
            "of the operation; many-to-many matching not allowed: matching labels must be unique on one side' AS err "
            f"FROM (SELECT t, {sig} AS sig FROM {one.name} GROUP BY t, sig HAVING count(*) > 1)"
        )
    if card == "one" and not (default and left.unique and right.unique):
        sig_l, sig_r = q.signature("l.labels", on, names), q.signature("r.labels", on, names)
        c.check(
            f"SELECT 'multiple matches for labels ' || {q.text('sig')} || ': many-to-one matching must be explicit "
            "(group_left/group_right)' AS err FROM (SELECT l.t, "
            f"{sig_l} AS sig FROM {left.name} l JOIN {right.name} r ON r.t = l.t AND {sig_r} = {sig_l} "
            "GROUP BY l.t, sig HAVING count(*) > 1)"
        )
