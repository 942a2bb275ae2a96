"""An alert's detail: labels, annotations, its values, the logs around its start, the changes before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from console.core.output import cell
from console.screens import overview as v
from console.screens.metrics import rule_threshold
from console.tui.host import host
from console.tui.widgets.banner import error_text
from console.tui.widgets.chart import ThresholdLine, TimeChart
from console.tui.widgets.tables import RowTable

if TYPE_CHECKING:
    from console.runtime.session import Session


class AlertDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("l", "logs", "Logs at start"),
        Binding("s", "silence", "Silence"),
    ]

    def __init__(self, session: Session, fingerprint: str) -> None:
        super().__init__()
        self.session, self.fingerprint = session, fingerprint
        self.detail: v.AlertDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="alert-head")
        with Horizontal(id="alert-meta"):
            yield Static("", id="alert-labels", classes="panel")
            yield Static("", id="alert-annotations", classes="panel")
        yield Static("Value", classes="title")
        yield TimeChart("value", id="alert-values")
        with Horizontal(classes="row"):
            with Vertical(classes="panel", id="alert-logs-panel"):
                yield Static("Logs around the start", classes="title")
                table: DataTable[Any] = RowTable(id="alert-logs", cursor_type="row")
                table.add_columns(*v.LOG_COLUMNS)
                yield table
            with Vertical(classes="panel"):
                yield Static("Changes just before", classes="title")
                changes: DataTable[Any] = RowTable(id="alert-changes", cursor_type="row")
                changes.add_columns("time", "kind", "model", "version", "actor")
                yield changes
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="alert-detail", exit_on_error=False)
    def load(self) -> None:
        detail = v.alert_detail(self.session.store, self.fingerprint)
        rules = self.session.config.all_rules()
        threshold = rule_threshold(self.session.store, self.fingerprint, rules)
        self.app.call_from_thread(self.draw, detail, threshold)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            host(self).worker_failed(event.worker, f"alert {self.fingerprint}")
            self.query_one("#alert-head", Static).update(
                Text(f"could not read this alert: {error_text(event.worker.error)}", style="red")
            )

    def draw(self, detail: v.AlertDetail | None, threshold: tuple[str, float] | None = None) -> None:
        self.detail = detail
        if detail is None:
            self.query_one("#alert-head", Static).update("[red]this alert is gone[/red]")
            return
        self._draw_alert(detail.alert)
        # A threshold-form rule's line is drawn with the values (an SQL rule has none to draw).
        lines = (
            [ThresholdLine(threshold[1], f"threshold {threshold[0]} {cell(threshold[1])}")]
            if threshold
            else []
        )
        self.query_one("#alert-values", TimeChart).show({detail.alert.name: detail.values}, thresholds=lines)
        self._draw_logs(detail)
        changes = self.query_one("#alert-changes", DataTable)
        changes.clear()
        for row in detail.changes:
            changes.add_row(*(Text(cell(x)) for x in row[:5]))

    def _draw_logs(self, detail: v.AlertDetail) -> None:
        logs = self.query_one("#alert-logs", DataTable)
        logs.clear()
        for ts, level, service, message in detail.logs:
            logs.add_row(*(Text(x) for x in (cell(ts), level or "", service or "", cell(message)[:200])))

    def _draw_alert(self, a: v.AlertRow) -> None:
        self.query_one("#alert-head", Static).update(
            Text.assemble(
                (a.name, "bold"),
                f"  {a.state.upper()} since {cell(a.since)}  value {cell(a.value)}  ({a.source}{_muted(a)})",
            )
        )
        self.query_one("#alert-labels", Static).update(
            Text.assemble(
                ("Labels\n", "bold"), "\n".join(f"{k} = {cell(x)}" for k, x in sorted(a.labels.items()))
            )
        )
        self.query_one("#alert-annotations", Static).update(
            Text.assemble(
                ("Annotations\n", "bold"), "\n".join(f"{k}: {x}" for k, x in sorted(a.annotations.items()))
            )
        )

    def action_logs(self) -> None:
        if self.detail is not None:
            host(self).open_logs_at(self.detail.alert)

    def action_silence(self) -> None:
        if self.detail is not None:
            host(self).silence_alert(self.detail.alert)


def _muted(a: v.AlertRow) -> str:
    return f"{', silenced' if a.silenced else ''}{', inhibited' if a.inhibited else ''}"
