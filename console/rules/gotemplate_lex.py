"""The lexer of Go's text/template: text and `{{ … }}` actions into tokens with positions.

Trim markers (`{{- ` and ` -}}`) and comments (`{{/* … */}}`) are handled here, as Go's
lexer does; every token carries its offset in the template, so errors say line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEFT, RIGHT = "{{", "}}"
MAX_TEMPLATE_CHARS = 65536

# kinds: text, ident, field, var, string, raw, char, number, bool, nil, pipe, lparen,
# rparen, declare, assign, comma, dot, begin and end (of an action), eof
KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?"
    r"|0[oObB][0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]+)?)i?"
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateSyntaxError(ValueError):
    """A template that does not parse: the message, and where (1-based line and column)."""

    def __init__(self, message: str, line: int, col: int) -> None:
        self.message, self.line, self.col = message, line, col
        super().__init__(f"line {line}, col {col}: {message}")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    spaced: bool = False  # whitespace came right before it (inside an action)


def position(text: str, pos: int) -> tuple[int, int]:
    """1-based (line, column) of offset `pos` in `text`."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def error(text: str, pos: int, message: str) -> TemplateSyntaxError:
    return TemplateSyntaxError(message, *position(text, pos))


def tokenize(text: str) -> list[Token]:
    """Every token of `text`, ending with `eof`; TemplateSyntaxError where it does not lex."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxError(f"template is longer than {MAX_TEMPLATE_CHARS} characters", 1, 1)
    tokens: list[Token] = []
    pos, trim_next = 0, False
    while True:
        start = text.find(LEFT, pos)
        chunk = text[pos:] if start < 0 else text[pos:start]
        left_trim = (
            start >= 0 and text.startswith("{{-", start) and text[start + 3 : start + 4] in tuple(_SPACE)
        )
        if trim_next:
            chunk = chunk.lstrip(_SPACE)
        if left_trim:
            chunk = chunk.rstrip(_SPACE)
        if chunk:
            tokens.append(Token("text", chunk, pos))
        if start < 0:
            tokens.append(Token("eof", "", len(text)))
            return tokens
        pos = start + (3 if left_trim else 2)
        pos, trim_next = _action(text, pos, tokens)


def _action(text: str, pos: int, tokens: list[Token]) -> tuple[int, bool]:
    """Lex one action from just inside its `{{`; return the offset after `}}` and its right trim."""
    begin = pos
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    if text.startswith("/*", pos):
        close = text.find("*/", pos + 2)
        if close < 0:
            raise error(text, begin, "unclosed comment")
        pos = close + 2
        return _close(text, pos, begin, comment=True)
    tokens.append(Token("begin", LEFT, begin))
    spaced = True
    while True:
        while pos < len(text) and text[pos] in _SPACE:
            pos, spaced = pos + 1, True
        if pos >= len(text):
            raise error(text, begin, "unclosed action")
        if text.startswith(RIGHT, pos) or (text.startswith("-}}", pos) and spaced):
            tokens.append(Token("end", "}}", pos))
            trim = text.startswith("-", pos)
            return pos + (3 if trim else 2), trim
        pos = _one(text, pos, spaced, tokens)
        spaced = False


def _close(text: str, pos: int, begin: int, *, comment: bool) -> tuple[int, bool]:
    """After a comment: optional space, optional `-`, then `}}`."""
    after = pos
    while after < len(text) and text[after] in _SPACE:
        after += 1
    if text.startswith(" -}}", pos) or (after > pos and text.startswith("-}}", after)):
        return after + 3, True
    if text.startswith(RIGHT, pos):
        return pos + 2, False
    raise error(text, begin, "comment ends before closing delimiter" if comment else "unclosed action")


_SINGLE = {"|": "pipe", "(": "lparen", ")": "rparen", ",": "comma"}


def _one(text: str, pos: int, spaced: bool, tokens: list[Token]) -> int:
    """Lex one token at `pos`; return the offset after it."""
    for lex in (_punct, _quoted, _name, _number):
        end = lex(text, pos, spaced, tokens)
        if end is not None:
            return end
    raise error(text, pos, f"unexpected {text[pos]!r} in command")


def _punct(text: str, pos: int, spaced: bool, tokens: list[Token]) -> int | None:
    c = text[pos]
    if c in _SINGLE:
        tokens.append(Token(_SINGLE[c], c, pos, spaced))
        return pos + 1
    if text.startswith(":=", pos):
        tokens.append(Token("declare", ":=", pos, spaced))
        return pos + 2
    if c == "=":
        tokens.append(Token("assign", "=", pos, spaced))
        return pos + 1
    return None


def _quoted(text: str, pos: int, spaced: bool, tokens: list[Token]) -> int | None:
    c = text[pos]
    if c == "`":
        end = text.find("`", pos + 1)
        if end < 0:
            raise error(text, pos, "unterminated raw quoted string")
        tokens.append(Token("raw", text[pos + 1 : end], pos, spaced))
        return end + 1
    if c not in "\"'":
        return None
    end = _quoted_end(text, pos, c)
    tokens.append(Token("string" if c == '"' else "char", text[pos:end], pos, spaced))
    return end


def _name(text: str, pos: int, spaced: bool, tokens: list[Token]) -> int | None:
    """A variable, a field, dot, or a word (function, keyword, true, false, nil)."""
    c = text[pos]
    if c == "$":
        var = _WORD.match(text, pos + 1)
        end = var.end() if var else pos + 1
        tokens.append(Token("var", text[pos:end], pos, spaced))
        return end
    if c == "." and not text[pos + 1 : pos + 2].isdigit():
        field = _WORD.match(text, pos + 1)
        if field:
            tokens.append(Token("field", field.group(), pos, spaced))
            return field.end()
        tokens.append(Token("dot", ".", pos, spaced))
        return pos + 1
    word = _WORD.match(text, pos)
    if word is None:
        return None
    name = word.group()
    kind = "bool" if name in ("true", "false") else "nil" if name == "nil" else "ident"
    tokens.append(Token(kind, name, pos, spaced))
    return word.end()


def _number(text: str, pos: int, spaced: bool, tokens: list[Token]) -> int | None:
    c = text[pos]
    number = _NUMBER.match(text, pos)
    if not number or not (c.isdigit() or c == "." or (c in "+-" and number.end() > pos + 1)):
        return None
    end = number.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise error(text, pos, f"bad number syntax: {text[pos : end + 1]!r}")
    tokens.append(Token("number", number.group(), pos, spaced))
    return end


def _quoted_end(text: str, pos: int, quote: str) -> int:
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "\n":
            break
        if ch == quote:
            return i + 1
        i += 1
    raise error(
        text, pos, "unterminated quoted string" if quote == '"' else "unterminated character constant"
    )
