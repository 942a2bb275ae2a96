"""Keyed DataTable updates: change the cells that changed, rebuild only when rows differ."""

from __future__ import annotations

from typing import Any, Sequence

from textual.widgets import DataTable

Row = tuple[str, Sequence[Any]]


def sync_table(table: DataTable, rows: Sequence[Row]) -> None:
    """Show `rows` (key, cells) in `table`, keeping the cursor on the same key."""
    keys = [key for key, _ in rows]
    current = [str(k.value) for k in table.rows]
    if current == keys:
        columns = list(table.columns)
        for key, cells in rows:
            old = table.get_row(key)
            for column, (before, after) in zip(columns, zip(old, cells)):
                if before != after:
                    table.update_cell(key, column, after, update_width=True)
        return
    selected = None
    if table.row_count and 0 <= table.cursor_row < table.row_count:
        selected = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if selected in keys:
        table.move_cursor(row=keys.index(selected))


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
