"""What is wrong, on screen: the persistent banner and a view's "could not read" line."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def one_line(text: str, limit: int = 400) -> str:
    """`text` as one printable line: control characters escaped (`\\n`, `\\x1b`), long text cut."""
    line = "".join(_escaped(ch) for ch in text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _escaped(ch: str) -> str:
    return ch if ch.isprintable() else repr(ch)[1:-1]


def error_text(exc: BaseException) -> str:
    """`ValueError: what it said`, on one line."""
    message = str(exc)
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _show(widget: Static, visible: bool) -> None:
    if widget.display != visible:  # no layout pass when nothing changed
        widget.display = visible


class Banner(Static):
    """One line per problem, shown literally; takes no space when there is none."""

    DEFAULT_CSS = "Banner { display: none; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", markup=False, id=id, classes=classes)
        self.lines: list[str] = []

    def show_lines(self, lines: list[str]) -> None:
        lines = [one_line(line) for line in lines]
        if lines != self.lines:
            self.lines = lines
            self.update(Text("\n".join(lines)))
        _show(self, bool(lines))


class ReadError(Static):
    """A view's line saying why its data could not be read; what was drawn stays below it."""

    DEFAULT_CSS = "ReadError { display: none; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", markup=False, id=id, classes=classes)
        self.text = ""

    def show_error(self, text: str) -> None:
        if one_line(text) != self.text:
            self.text = one_line(text)
            self.update(Text(self.text))
        _show(self, bool(text))
