"""The Alerts view: every alert with its state, value, source, labels and whether it is muted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import DataTable

from console.core.output import cell
from console.screens import overview as v
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import Row, matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session


class AlertsView(View):
    view_name, view_title = "alerts", "Alerts"
    help_lines = [
        ("enter", "details: labels, annotations, values, logs, changes"),
        ("s", "silence the selected alert's label set"),
    ]

    def compose(self) -> ComposeResult:
        yield data_table("alerts-table", "state", "alert", "since", "value", "source", "labels", "muted")

    def load(self, session: Session) -> list[v.AlertRow]:
        return v.session_alert_rows(session)

    def draw(self, data: Any) -> None:
        self.data = data
        rows: list[Row] = []
        for a in data:
            muted = "silenced" if a.silenced else ("inhibited" if a.inhibited else "")
            cells = (a.state, a.name, cell(a.since), cell(a.value), a.source, a.label_text(), muted)
            if matches(cells, self.filter_text):
                rows.append((a.fingerprint, cells))
        sync_table(self.query_one("#alerts-table", DataTable), rows, keep_top=True)

    def selected_alert(self) -> str | None:
        return selected_key(self.query_one("#alerts-table", DataTable))
