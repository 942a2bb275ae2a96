"""The SQL view: a read-only query over the store, its first 1,000 rows shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from console.core.output import cell
from console.screens import overview as v
from console.tui.host import host
from console.tui.views.base import View
from console.tui.widgets.tables import RowTable, matches

if TYPE_CHECKING:
    from console.runtime.session import Session


def _fill(table: DataTable[Any], columns: list[Any], rows: list[tuple[Any, ...]], filter_text: str) -> None:
    """The query's columns, and its rows that pass the filter, shown literally."""
    table.clear(columns=True)
    table.add_columns(*(Text(str(c)) for c in columns))
    for row in rows:
        cells = tuple(cell(x) for x in row)
        if matches(cells, filter_text):
            table.add_row(*(Text(c) for c in cells))


class SqlView(View):
    view_name, view_title = "sql", "SQL"
    BINDINGS = [Binding("e", "edit", "Edit query")]
    help_lines = [("e", "edit the query; enter runs it (read-only), esc leaves")]

    def __init__(self) -> None:
        super().__init__()
        self.sql = "SELECT level, count(*) AS lines FROM logs GROUP BY level ORDER BY lines DESC"

    def compose(self) -> ComposeResult:
        yield Input(value=self.sql, id="sql-input")
        yield Static("", id="sql-status")
        yield RowTable(id="sql-table", cursor_type="row", zebra_stripes=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "sql-input":
            event.stop()
            self.sql = event.value
            host(self).refresh_view()

    def load(self, session: Session) -> dict[str, Any]:
        import duckdb

        try:
            columns, rows = v.run_read_only_sql(session.store, self.sql)
        except (ValueError, duckdb.Error) as exc:
            return {"error": str(exc).splitlines()[0]}
        return {"error": "", "columns": columns, "rows": rows[:1000], "total": len(rows)}

    def draw(self, data: Any) -> None:
        self.data = data
        status = self.query_one("#sql-status", Static)
        table = self.query_one("#sql-table", DataTable)
        if data["error"]:
            status.update(Text(data["error"], style="red"))
            return
        status.update(f"{data['total']:,} rows" + (" (first 1,000 shown)" if data["total"] > 1000 else ""))
        _fill(table, data["columns"], data["rows"], self.filter_text)
