"""Keyed DataTable updates (only what changed is touched), small text tables for panels, and
the whole of a row: Enter on a row of a table with no drill of its own shows every cell in full
(`WholeRowScreen`), so a cell cut at the panel's edge can always be read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static
from textual.widgets.data_table import Column, ColumnKey, RowKey

from console.core.terminal import escape

Row = tuple[str, Sequence[Any]]


class RowTable(DataTable[Any]):
    """A DataTable redrawn once its columns are measured.

    Textual measures new and updated cells when idle.  A frame drawn before that (a loaded
    machine draws one) caches its cells at the header's width, and those caches are not keyed
    by width: when the measure did not change the table's size, the header-wide cells stayed
    on screen ("11:4", "aler") until the next change to the table."""

    def _update_column_widths(self, updated_cells: Any) -> None:
        widths = self._widths()
        super()._update_column_widths(updated_cells)
        self._redraw_if(widths)

    def _update_dimensions(self, new_rows: Any) -> None:
        widths = self._widths()
        super()._update_dimensions(new_rows)
        self._redraw_if(widths)

    def _widths(self) -> list[int]:
        return [column.content_width for column in self.columns.values()]

    def _redraw_if(self, widths: list[int]) -> None:
        if self._widths() != widths:
            self._update_count += 1  # every cache of drawn cells and lines is keyed by it
            self._clear_caches()
            self.refresh()


def as_text(value: Any) -> Text:
    """A cell shown literally: a str given to a DataTable would be parsed as markup, so a
    label value such as `[/]` would break the table or restyle it."""
    return value if isinstance(value, Text) else Text(str(value))


def sync_table(table: DataTable, rows: Sequence[Row], *, keep_top: bool = False) -> None:
    """Show `rows` (key, cells) in `table`, in that order, keeping the cursor on its key; with
    `keep_top`, a cursor on the top row stays on the top row (in a list most urgent first, the
    cursor follows the most urgent until the engineer moves it).

    Rows are compared with what was shown last: gone ones are removed, new ones added,
    changed cells updated, and the order fixed by a sort, so the table is neither rebuilt
    (which remeasures every cell and scrolls to the top) nor asked to remeasure a column per
    updated cell (a whole-column measure each: seconds for a few hundred rows).
    """
    at_top = keep_top and table.cursor_row <= 0
    _sync_rows(table, rows)
    if at_top and table.row_count and table.cursor_row != 0:
        table.move_cursor(row=0)


def _sync_rows(table: DataTable, rows: Sequence[Row]) -> None:
    shown: dict[str, tuple[Any, ...]] | None = getattr(table, "_shown_rows", None)
    if shown is None or len(shown) != table.row_count:
        _rebuild(table, rows)
        return
    keys = [key for key, _ in rows]
    selected = selected_key(table)
    wanted = set(keys)
    _remove_gone(table, shown, wanted)
    _apply_rows(table, shown, rows)
    if not _fix_order(table, keys):  # one cell object shared by rows: no way to tell them apart
        _rebuild(table, rows)
        return
    _fit_columns(table, rows)
    if selected in wanted and table.cursor_row != keys.index(selected):
        table.move_cursor(row=keys.index(selected))


def _remove_gone(table: DataTable, shown: dict[str, tuple[Any, ...]], wanted: set[str]) -> None:
    for key in [key for key in shown if key not in wanted]:
        table.remove_row(key)
        del shown[key]


def _apply_rows(table: DataTable, shown: dict[str, tuple[Any, ...]], rows: Sequence[Row]) -> None:
    """Add new rows and update only the cells that changed."""
    columns = list(table.columns)
    for key, row_cells in rows:
        cells = tuple(row_cells)
        before = shown.get(key)
        if before is None:
            table.add_row(*(as_text(c) for c in cells), key=key)
        elif before != cells:
            _update_cells(table, key, columns, before, cells)
        shown[key] = cells


def _update_cells(
    table: DataTable, key: str, columns: Sequence[Any], before: tuple[Any, ...], cells: tuple[Any, ...]
) -> None:
    for index, column in enumerate(columns):
        if before[index] != cells[index]:
            table.update_cell(key, column, as_text(cells[index]))


def _fix_order(table: DataTable, keys: list[str]) -> bool:
    """Sort the rows into `keys` order; False when the rows cannot be told apart by cell."""
    if [str(row.key.value) for row in table.ordered_rows] == keys:
        return True
    first = next(iter(table.columns))
    rank = {id(table.get_cell(key, first)): index for index, key in enumerate(keys)}
    if len(rank) != len(keys):
        return False
    table.sort(first, key=lambda value: rank[id(value)])
    return True


def _rebuild(table: DataTable, rows: Sequence[Row]) -> None:
    selected = selected_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*(as_text(c) for c in cells), key=key)
    shown = {key: tuple(cells) for key, cells in rows}  # keys are unique: add_row refuses twins
    table._shown_rows = shown  # type: ignore[attr-defined]
    _fit_columns(table, rows)  # adding rows only widens columns
    if selected in shown:
        table.move_cursor(row=list(shown).index(selected))


def _width(value: Any) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


def _fit_columns(table: DataTable, rows: Sequence[Row]) -> None:
    """Let each column's width follow its widest cell, remeasuring only columns that change."""
    if not rows:
        return
    for index, (column_key, column) in enumerate(table.columns.items()):
        if column.auto_width:
            _fit_column(table, rows, index, column_key, column)


def _fit_column(
    table: DataTable, rows: Sequence[Row], index: int, column_key: ColumnKey, column: Column
) -> None:
    widest_key, widest = max(((key, cells[index]) for key, cells in rows), key=lambda item: _width(item[1]))
    needed = max(_width(widest), column.label.cell_len)
    if needed != column.content_width:
        table.update_cell(widest_key, column_key, as_text(widest), update_width=True)


def show_text_table(
    widget: Static, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "none"
) -> None:
    """Show a small read-only table as text in `widget`: cheaper than a DataTable for panels
    with no cursor, and redrawn only when its rows change.  Cells are shown literally."""
    content = (tuple(columns), tuple(tuple(row) for row in rows), empty)
    shown = getattr(widget, "_shown_table", None)
    if shown == content:
        return
    widget._shown_table = content  # type: ignore[attr-defined]
    relayout = shown is None or len(shown[1]) != len(rows)  # same rows: same height
    if not rows:
        widget.update(Text(empty, style="dim"), layout=relayout)
        return
    widget.update(_text_table(columns, [[as_text(c) for c in row] for row in rows]), layout=relayout)


def _text_table(columns: Sequence[str], cells: list[list[Text]]) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="bold", expand=True)
    for index, column in enumerate(columns):
        # every column but the last keeps its width; the last (a title, say) is cut short
        keep = index < len(columns) - 1
        width = _column_width(column, cells, index) if keep else None
        table.add_column(
            column, no_wrap=True, overflow="ellipsis", min_width=width, ratio=None if keep else 1
        )
    for row in cells:
        table.add_row(*row)
    return table


def _column_width(column: str, cells: list[list[Text]], index: int) -> int:
    return max([len(column), *(row[index].cell_len for row in cells)])


def selected_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


def matches(cells: Sequence[Any], text: str) -> bool:
    """Whether a row passes the `/` filter: every word appears somewhere in the row."""
    if not text:
        return True
    haystack = " ".join(str(c) for c in cells).lower()
    return all(word in haystack for word in text.lower().split())


WHOLE_CELL_LIMIT = 10_000  # characters of one cell shown in the whole-row dialog


def whole_row(table: DataTable, row_key: RowKey | str) -> list[tuple[str, Text]]:
    """(column label, cell) of every column of a row, as the table holds it (not cut to width)."""
    labels = [column.label.plain for column in table.ordered_columns]
    return [(label, _whole_cell(value)) for label, value in zip(labels, table.get_row(row_key), strict=False)]


def _whole_cell(value: Any) -> Text:
    text = as_text(value)
    if escape(text.plain) != text.plain:  # a control character: shown escaped, without styles
        text = Text(escape(text.plain))
    if len(text) > WHOLE_CELL_LIMIT:
        more = len(text) - WHOLE_CELL_LIMIT
        text = text[:WHOLE_CELL_LIMIT].append(f" … {more:,} more characters not shown", style="dim")
    return text


class WholeRowScreen(ModalScreen[None]):
    """Every cell of one row in full, each under its column's name (Enter or Esc closes)."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, title: str, cells: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.title_text, self.cells = title, cells

    @classmethod
    def of(cls, table: DataTable, row_key: RowKey | str) -> WholeRowScreen:
        index = table.get_row_index(row_key)
        return cls(f"row {index + 1} of {table.row_count}", whole_row(table, row_key))

    @property
    def text(self) -> str:
        """What the dialog shows, as plain text (name, then value, a line each)."""
        return "\n".join(f"{name}: {value.plain}" for name, value in self.cells)

    def compose(self) -> ComposeResult:
        body = Table.grid(padding=(0, 2))
        body.add_column(style="bold", no_wrap=True)
        body.add_column(overflow="fold")
        for name, value in self.cells:
            body.add_row(Text(name), value)
        with VerticalScroll(id="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield Static(body, id="whole-row")
            yield Label(Text("Esc to close", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
