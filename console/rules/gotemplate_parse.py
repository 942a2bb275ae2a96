"""The parser of Go's text/template: tokens into a tree, checked as Go's parser checks.

Functions must be known and variables declared before use (Go reports both at parse
time); nesting is bounded.  `define`, `template` and `block` are refused: an alert's
label or annotation is one template, and refusing them rules out recursion.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from console.rules.gotemplate_lex import KEYWORDS, TemplateSyntaxError, Token, error, tokenize

MAX_DEPTH = 50


@dataclass
class Node:
    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Literal(Node):
    value: Any  # str, int, float, bool or None (nil)


@dataclass
class Dot(Node):
    pass


@dataclass
class Func(Node):
    name: str


@dataclass
class Chain(Node):
    """A term followed by field names: `.a.b` (on dot), `$x.a`, `(pipeline).a`."""

    base: Node | None  # None: the fields are looked up on dot
    fields: tuple[str, ...]


@dataclass
class Var(Node):
    name: str


@dataclass
class Command(Node):
    args: list[Node]


@dataclass
class Pipe(Node):
    decl: list[str]
    assign: bool  # `=` rather than `:=`
    cmds: list[Command]


@dataclass
class Action(Node):
    pipe: Pipe


@dataclass
class Control(Node):
    kind: str  # if, with, range
    pipe: Pipe
    body: list[Node]
    orelse: list[Node] = field(default_factory=list)


@dataclass
class Jump(Node):
    kind: str  # break, continue


_UNSUPPORTED = ("define", "template", "block")


class Parser:
    def __init__(self, text: str, functions: Collection[str], variables: Collection[str]) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.functions = functions
        self.vars: list[str] = ["$", *variables]
        self.depth = 0
        self.ranges = 0

    # -- tokens
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def fail(self, token: Token, message: str) -> TemplateSyntaxError:
        return error(self.text, token.pos, message)

    def expect_end(self, what: str) -> None:
        token = self.next()
        if token.kind != "end":
            raise self.fail(token, f"unexpected {_show(token)} in {what}")

    # -- lists and actions
    def parse(self) -> list[Node]:
        nodes, _ = self.items(())
        return nodes

    def items(self, stops: tuple[str, ...]) -> tuple[list[Node], Token]:
        """Nodes up to one of the keyword actions `stops` (consumed up to the keyword)."""
        nodes: list[Node] = []
        while True:
            token = self.next()
            if token.kind == "eof":
                if stops:
                    raise self.fail(token, "unexpected EOF (an {{if}}, {{range}} or {{with}} has no {{end}})")
                return nodes, token
            if token.kind == "text":
                nodes.append(Text(token.pos, token.text))
                continue
            word = self.peek()  # token is the start of an action
            if word.kind == "end":
                raise self.fail(word, "missing value for command")
            if word.kind == "ident" and word.text in ("else", "end"):
                if word.text not in stops:
                    raise self.fail(word, f"unexpected {{{{{word.text}}}}}")
                self.next()
                return nodes, word
            nodes.append(self.action())

    def action(self) -> Node:
        word = self.peek()
        if word.kind == "ident" and word.text in KEYWORDS:
            self.next()
            if word.text in _UNSUPPORTED:
                raise self.fail(word, f"{{{{{word.text}}}}} is not supported in alert templates")
            if word.text in ("break", "continue"):
                if not self.ranges:
                    raise self.fail(word, f"{{{{{word.text}}}}} outside {{{{range}}}}")
                self.expect_end(word.text)
                return Jump(word.pos, word.text)
            return self.control(word)
        pipe = self.pipeline("command", decl_max=1)
        self.expect_end("command")
        return Action(pipe.pos, pipe)

    def control(self, word: Token) -> Control:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(word, f"nested deeper than {MAX_DEPTH} levels")
        mark = len(self.vars)
        pipe = self.pipeline(word.text, decl_max=2 if word.text == "range" else 1)
        self.expect_end(word.text)
        self.ranges += word.text == "range"
        body, stop = self.items(("else", "end"))
        self.ranges -= word.text == "range"
        node = Control(word.pos, word.text, pipe, body)
        if stop.text == "else":
            chained = self.peek()
            if chained.kind == "ident" and chained.text == word.text and word.text in ("if", "with"):
                self.next()
                node.orelse = [self.control(chained)]  # `{{else if}}` shares the one `{{end}}`
            else:
                self.expect_end("else")
                node.orelse, _ = self.items(("end",))
                self.expect_end("end")
        else:
            self.expect_end("end")
        del self.vars[mark:]
        self.depth -= 1
        return node

    # -- pipelines
    def pipeline(self, context: str, decl_max: int) -> Pipe:
        start = self.peek()
        decl, assign = self.declaration(decl_max)
        cmds: list[Command] = []
        while True:
            cmds.append(self.command(context))
            if self.peek().kind != "pipe":
                break
            self.next()
        for name in decl:
            if assign:
                if name not in self.vars:
                    raise self.fail(start, f"undefined variable {name!r}")
            else:
                self.vars.append(name)
        return Pipe(start.pos, decl, assign, cmds)

    def declaration(self, decl_max: int) -> tuple[list[str], bool]:
        first, second = self.peek(), self.peek(1)
        if first.kind != "var" or decl_max == 0:
            return [], False
        if second.kind in ("declare", "assign"):
            self.i += 2
            return [first.text], second.kind == "assign"
        two = decl_max == 2 and second.kind == "comma" and self.peek(2).kind == "var"
        if two and self.peek(3).kind in ("declare", "assign"):
            names = [first.text, self.peek(2).text]
            assign = self.peek(3).kind == "assign"
            self.i += 4
            return names, assign
        return [], False

    def command(self, context: str) -> Command:
        args: list[Node] = []
        start = self.peek()
        while self.peek().kind not in ("end", "pipe", "rparen", "eof"):
            token = self.peek()
            if args and not token.spaced and token.kind not in ("field",):
                raise self.fail(token, f"missing space before {_show(token)}")
            args.append(self.operand())
        if not args:
            raise self.fail(self.peek(), f"missing value for {context}")
        return Command(start.pos, args)

    def operand(self) -> Node:
        term = self.term()
        fields: list[str] = []
        while self.peek().kind == "field" and not self.peek().spaced:
            fields.append(self.next().text)
        if not fields:
            return term
        if isinstance(term, (Func, Literal)):
            raise self.fail(self.peek(), "unexpected . after term")
        if isinstance(term, Chain):
            return Chain(term.pos, term.base, term.fields + tuple(fields))
        return Chain(term.pos, term, tuple(fields))

    def term(self) -> Node:
        token = self.next()
        kind = token.kind
        if kind == "ident":
            if token.text in KEYWORDS:
                raise self.fail(token, f"unexpected {{{{{token.text}}}}} in operand")
            if token.text not in self.functions:
                raise self.fail(
                    token, f"function {token.text!r} not defined{_hint(token.text, self.functions)}"
                )
            return Func(token.pos, token.text)
        if kind == "dot":
            return Dot(token.pos)
        if kind == "field":
            return Chain(token.pos, None, (token.text,))
        if kind == "var":
            if token.text not in self.vars:
                raise self.fail(token, f"undefined variable {token.text!r}")
            return Var(token.pos, token.text)
        if kind == "lparen":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(token, f"nested deeper than {MAX_DEPTH} levels")
            pipe = self.pipeline("parenthesized pipeline", decl_max=0)
            close = self.next()
            if close.kind != "rparen":
                raise self.fail(close, f"unclosed left paren (found {_show(close)})")
            self.depth -= 1
            return Chain(token.pos, pipe, ())
        if kind in ("string", "raw", "char", "number", "bool", "nil"):
            return Literal(token.pos, self.literal(token))
        raise self.fail(token, f"unexpected {_show(token)} in operand")

    def literal(self, token: Token) -> Any:
        try:
            if token.kind == "string":
                return unquote(token.text[1:-1])
            if token.kind == "raw":
                return token.text
            if token.kind == "char":
                text = unquote(token.text[1:-1])
                if len(text) != 1:
                    raise ValueError("malformed character constant")
                return ord(text)
            if token.kind == "bool":
                return token.text == "true"
            if token.kind == "nil":
                return None
            return number(token.text)
        except ValueError as exc:
            raise self.fail(token, str(exc)) from None


def _show(token: Token) -> str:
    return (
        "end of action"
        if token.kind == "end"
        else "end of template"
        if token.kind == "eof"
        else repr(token.text)
    )


def _hint(name: str, known: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))"
)
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unquote(body: str) -> str:
    """The value of a Go double-quoted string's body (strconv.Unquote)."""

    def one(m: re.Match[str]) -> str:
        simple, hex2, hex4, hex8, octal, bad = m.groups()
        if bad is not None:
            raise ValueError(f"invalid escape \\{bad} in quoted string")
        if simple is not None:
            return _SIMPLE.get(simple, simple)
        return chr(int(hex2 or hex4 or hex8, 16) if octal is None else int(octal, 8))

    return _ESCAPE.sub(one, body)


def number(text: str) -> int | float:
    """A Go number constant: int unless it is written as a float (as Go's idealConstant)."""
    raw = text.replace("_", "")
    if raw.endswith("i"):
        raise ValueError(f"complex number {text!r} is not supported")
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-")
    lower = body.lower()
    if lower.startswith("0x"):
        if "p" in lower or "." in lower:
            return sign * float.fromhex(body)
        return sign * int(body, 16)
    if lower.startswith(("0o", "0b")):
        return sign * int(body, 0)
    if any(c in lower for c in ".e"):
        return sign * float(body)
    value = int(body, 8) if len(body) > 1 and body.startswith("0") else int(body)
    if not -(2**63) <= sign * value < 2**63:
        raise ValueError(f"number {text!r} overflows int")
    return sign * value
