"""Text bound for the terminal, made inert: control characters and bidi overrides shown escaped.

Label values, annotations, log lines, server answers and file contents come from outside;
written raw, `\\x1b]0;…\\x07` retitles the window, `\\x1b[2J` clears the screen, `\\r`
overwrites a line, `\\u202e` reverses what follows and a newline forges another row.  Here
each such character becomes a visible escape: C0 controls as `\\x1b` (`\\n`, `\\r`, `\\t`
for those three), DEL, C1 controls, bidi controls, line separators and lone surrogates as
`\\u009b`.  `json.dumps` escapes C0 itself and leaves the rest raw; their escapes here are
JSON escapes, so JSON passed through `escape_text` stays JSON and decodes to the same value.

`escape` is for one value (a table cell, a label, a title inside a line); `escape_text` is
for whole output and keeps the newlines and tabs that lay it out.  `guard_streams` puts
`escape_text` between the CLI and the terminal for everything written to stdout and stderr.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_WIDE = (
    "\x7f-\x9f"  # DEL and the C1 controls (U+009B is an 8-bit CSI)
    "\u061c\u200e\u200f"  # bidi marks
    "\u2028\u2029"  # line and paragraph separators
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2066-\u2069"  # bidi isolates
    "\ud800-\udfff"
)  # lone surrogates (undecodable bytes read with surrogateescape)
_ONE_VALUE = re.compile(f"[\x00-\x1f{_WIDE}]")
_LAID_OUT = re.compile(f"[\x00-\x08\x0b-\x1f{_WIDE}]")  # keeps \t and \n


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def escape(value: Any) -> str:
    """One value as inert text on a single line: every control character shown escaped."""
    text = value if isinstance(value, str) else str(value)
    return _ONE_VALUE.sub(_shown, text)


def escape_text(text: str) -> str:
    """Output as inert text: control characters shown escaped except newlines and tabs."""
    return _LAID_OUT.sub(_shown, text)


class SafeStream:
    """A text stream that writes everything through `escape_text` to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self.wrapped = stream

    def write(self, text: str) -> int:
        self.wrapped.write(escape_text(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def guard_streams() -> None:
    """Make `sys.stdout` and `sys.stderr` escape what they are given (once per process)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, SafeStream):
            setattr(sys, name, SafeStream(stream))


def owner_stdout() -> SafeStream:
    """The process's own stdout, guarded, even while a forwarded command's output is captured."""
    return SafeStream(sys.__stdout__ or sys.stdout)  # __stdout__ is None without a console
