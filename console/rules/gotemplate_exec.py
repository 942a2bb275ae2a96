"""Executing a parsed Go template over plain values, bounded.

Values are only str, int, float, bool, None (nil), dicts (maps), `Sample`, `QueryResult`
and `Struct`: a field is a map key or a declared struct field, never a Python attribute,
and functions are the declared ones.  Output, steps, range iterations and `query` calls
are bounded; passing a bound is an error like any other (never a hang).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.rules.gotemplate_builtins import SPECIAL, truth
from console.rules.gotemplate_fmt import (
    MAX_STRING,
    AnyMap,
    QueryResult,
    Sample,
    Struct,
    format_value,
    type_name,
)
from console.rules.gotemplate_funcs import BUILTINS, PROMETHEUS, Func, FuncError
from console.rules.gotemplate_lex import position
from console.rules.gotemplate_parse import (
    Action,
    Chain,
    Command,
    Control,
    Dot,
    Jump,
    Literal,
    Node,
    Pipe,
    Text,
    Var,
)
from console.rules.gotemplate_parse import Func as FuncNode

QueryFunc = Callable[[str], "list[tuple[dict[str, str], float]]"]


@dataclass(frozen=True)
class Limits:
    output: int = MAX_STRING  # characters a template may produce (and any one string it builds)
    steps: int = 100_000  # commands evaluated
    iterations: int = 10_000  # range iterations, all ranges together
    queries: int = 10  # `query` calls
    query_rows: int = 10_000  # rows one `query` may return


class ExecError(Exception):
    """Why a template did not expand: the message, with line and column."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_MISSING = object()  # no final value piped into a command


@dataclass
class Context:
    """What one expansion may use beyond its data: `query`, `now`, the external URL."""

    query: QueryFunc | None = None
    now: datetime | None = None
    external_url: str = ""
    limits: Limits = Limits()


class State:
    def __init__(self, source: str, data: Any, variables: dict[str, Any], context: Context) -> None:
        self.source, self.context, self.limits = source, context, context.limits
        self.out: list[str] = []
        self.size = self.steps = self.iterations = self.queries = 0
        self.vars: list[tuple[str, Any]] = [("$", data), *variables.items()]

    def fail(self, node: Node, message: str) -> ExecError:
        line, col = position(self.source, node.pos)
        return ExecError(f"line {line}, col {col}: {message}")

    def write(self, text: str, node: Node) -> None:
        self.size += len(text)
        if self.size > self.limits.output:
            raise self.fail(node, f"output is longer than {self.limits.output} characters")
        self.out.append(text)

    # -- the tree
    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.write(node.text, node)
            elif isinstance(node, Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.write(_printed(value), node)
            elif isinstance(node, Control):
                self.control(dot, node)
            elif isinstance(node, Jump):
                raise _Break() if node.kind == "break" else _Continue()

    def control(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(dot, node)
                return
            value = self.pipe(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            else:
                self.walk(dot, node.orelse)
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, node: Control) -> None:
        value = self.pipe(dot, node.pipe, declare=False)
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif value is None:
            items = []
        else:
            raise self.fail(node, f"range can't iterate over {format_value(value)}")
        if not items:
            self.walk(dot, node.orelse)
            return
        mark = len(self.vars)
        for key, elem in items:
            self.iterations += 1
            if self.iterations > self.limits.iterations:
                raise self.fail(node, f"more than {self.limits.iterations} range iterations")
            del self.vars[mark:]
            decl = node.pipe.decl
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars += [(decl[0], key), (decl[1], elem)]
            try:
                self.walk(elem, node.body)
            except _Break:
                break
            except _Continue:
                continue

    # -- pipelines and commands
    def pipe(self, dot: Any, pipe: Pipe, declare: bool = True) -> Any:
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        if declare and pipe.decl:
            if pipe.assign:
                self.set_var(pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return

    def var(self, name: str) -> Any:
        for key, value in reversed(self.vars):
            if key == name:
                return value
        return None

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise self.fail(cmd, f"more than {self.limits.steps} steps")
        head = cmd.args[0]
        if isinstance(head, FuncNode):
            return self.call(dot, head, cmd.args[1:], final)
        if len(cmd.args) > 1 or final is not _MISSING:
            raise self.fail(head, f"can't give argument to non-function {_show(head)}")
        if isinstance(head, Literal) and head.value is None:
            raise self.fail(head, "nil is not a command")
        return self.arg(dot, head)

    def arg(self, dot: Any, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Var):
            return self.var(node.name)
        if isinstance(node, Chain):
            if node.base is None:
                value = dot
            elif isinstance(node.base, Pipe):
                value = self.pipe(dot, node.base, declare=False)
            else:
                value = self.arg(dot, node.base)
            for name in node.fields:
                value = self.field(node, value, name)
            return value
        if isinstance(node, FuncNode):
            return self.call(dot, node, [], _MISSING)
        raise self.fail(node, "can't evaluate this operand")

    def field(self, node: Node, value: Any, name: str) -> Any:
        if isinstance(value, AnyMap):
            return value.get(name)
        if isinstance(value, dict):
            return value.get(name, "")  # missingkey=zero on map[string]string
        if isinstance(value, Struct) and name in value.fields:
            return value.fields[name]
        if isinstance(value, Sample) and name in ("Labels", "Value"):
            return value.labels if name == "Labels" else value.value
        if value is None:
            raise self.fail(node, f"nil pointer evaluating interface {{}}.{name}")
        raise self.fail(node, f"can't evaluate field {name} in type {type_name(value)}")

    # -- functions
    def call(self, dot: Any, node: FuncNode, args: list[Node], final: Any) -> Any:
        name = node.name
        if name in ("and", "or"):
            return self.and_or(dot, node, args, final)
        values = [self.arg(dot, a) for a in args] + ([] if final is _MISSING else [final])
        try:
            if name in SPECIAL:
                return SPECIAL[name](values)
            if name in _CONTEXT:
                return _CONTEXT[name](self, values)
            func = PROMETHEUS.get(name) or BUILTINS[name]
            result = func.fn(*_typed(name, func, values, args))
        except (FuncError, ValueError, OverflowError) as exc:
            raise self.fail(node, f"error calling {name}: {exc}") from None
        except _ArgError as exc:
            raise self.fail(node, str(exc)) from None
        if isinstance(result, str) and len(result) > self.limits.output:
            raise self.fail(node, f"{name} made a string longer than {self.limits.output} characters")
        return result

    def and_or(self, dot: Any, node: FuncNode, args: list[Node], final: Any) -> Any:
        if not args and final is _MISSING:
            raise self.fail(node, f"wrong number of args for {node.name}: want at least 1 got 0")
        value: Any = None
        thunks: list[Any] = [*args, *([] if final is _MISSING else [_Value(final)])]
        for thunk in thunks:
            value = thunk.value if isinstance(thunk, _Value) else self.arg(dot, thunk)
            if truth(value) == (node.name == "or"):
                return value
        return value


@dataclass
class _Value:
    value: Any


class _ArgError(Exception):
    pass


def _typed(name: str, func: Func, values: list[Any], nodes: list[Node]) -> list[Any]:
    """The operands converted to the function's Go parameter types, or _ArgError."""
    fixed = func.params
    if len(values) < len(fixed) or (func.variadic is None and len(values) != len(fixed)):
        want = f"at least {len(fixed)}" if func.variadic else str(len(fixed))
        raise _ArgError(f"wrong number of args for {name}: want {want} got {len(values)}")
    out = []
    for i, value in enumerate(values):
        kind = fixed[i] if i < len(fixed) else func.variadic or "any"
        literal = i < len(nodes) and isinstance(nodes[i], Literal)
        out.append(_convert(name, kind, value, literal))
    return out


_KIND_TYPES: dict[str, tuple[type, str]] = {
    "string": (str, "string"),
    "sample": (Sample, "*template.sample"),
    "result": (QueryResult, "template.queryResult"),
}


def _convert(name: str, kind: str, value: Any, literal: bool) -> Any:
    if kind == "any":
        return value
    if kind == "float":
        if isinstance(value, float) or (literal and isinstance(value, int) and not isinstance(value, bool)):
            return float(value)
        raise _ArgError(f"wrong type for value; expected float64; got {type_name(value)}")
    cls, go_name = _KIND_TYPES[kind]
    if isinstance(value, cls) and not isinstance(value, bool):
        return value
    if value is None and kind == "sample":
        raise _ArgError(f"error calling {name}: nil sample")
    raise _ArgError(f"wrong type for value; expected {go_name}; got {type_name(value)}")


def _printed(value: Any) -> str:
    return "<no value>" if value is None else format_value(value)


def _show(node: Node) -> str:
    if isinstance(node, Literal):
        return format_value(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Chain):
        return "." + ".".join(node.fields)
    return "."


def _query(state: State, values: list[Any]) -> QueryResult:
    if len(values) != 1 or not isinstance(values[0], str):
        raise FuncError("query takes one string, the PromQL expression")
    if state.context.query is None:
        raise FuncError("no query function here: `query` is answered only where rules are evaluated")
    state.queries += 1
    if state.queries > state.limits.queries:
        raise FuncError(f"more than {state.limits.queries} queries in one template")
    try:
        rows = state.context.query(values[0])
    except Exception as exc:  # noqa: BLE001 - the query's own error is the template's error text
        raise FuncError(str(exc) or type(exc).__name__) from None
    if len(rows) > state.limits.query_rows:
        raise FuncError(f"the query returned more than {state.limits.query_rows} series")
    return QueryResult(
        Sample({str(k): str(v) for k, v in labels.items()}, float(value)) for labels, value in rows
    )


def _now(state: State, values: list[Any]) -> float:
    if values:
        raise FuncError(f"wrong number of args for now: want 0 got {len(values)}")
    if state.context.now is None:
        raise FuncError("no evaluation time here")
    return state.context.now.timestamp()


def _url(path_only: bool) -> Callable[[State, list[Any]], str]:
    def url(state: State, values: list[Any]) -> str:
        from urllib.parse import urlsplit

        if values:
            raise FuncError(f"wrong number of args: want 0 got {len(values)}")
        return urlsplit(state.context.external_url).path if path_only else state.context.external_url

    return url


_CONTEXT: dict[str, Callable[[State, list[Any]], Any]] = {
    "query": _query,
    "now": _now,
    "externalURL": _url(False),
    "pathPrefix": _url(True),
}
