"""The incidents view: every incident, open ones first; Enter opens the incident screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from console.screens import incident as pages
from console.tui.host import host
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import Row, matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session

STATUS_STYLE = {
    "triggered": "bold red",
    "acknowledged": "bold yellow",
    "mitigated": "bold cyan",
    "resolved": "bold green",
    "closed": "dim",
}


class IncidentsView(View):
    """Every incident, open ones first; Enter opens one."""

    view_name, view_title = "incidents", "Incidents"
    help_lines = [("enter", "open the incident: timeline, playbook runner, what changed")]
    COLUMNS = ("id", "severity", "status", "commander", "age", "title")

    def compose(self) -> ComposeResult:
        yield data_table("incidents-table", *self.COLUMNS)

    def load(self, session: Session) -> list[pages.IncidentRow]:
        return pages.incident_rows(session.store, session.clock())

    def draw(self, data: Any) -> None:
        self.data = data
        rows: list[Row] = []
        for r in data:
            cells = (str(r.id), r.severity, r.status, r.commander, r.age, r.title)
            if matches(cells, self.filter_text):
                rows.append(
                    (
                        str(r.id),
                        [
                            Text(c, style=STATUS_STYLE.get(c, "")) if i == 2 else Text(c)
                            for i, c in enumerate(cells)
                        ],
                    )
                )
        sync_table(self.query_one("#incidents-table", DataTable), rows)

    def selected_incident(self) -> int | None:
        key = selected_key(self.query_one("#incidents-table", DataTable))
        return int(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        from console.tui.screens.incident import IncidentScreen

        self.app.push_screen(IncidentScreen(host(self).session, int(str(event.row_key.value))))
