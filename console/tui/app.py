"""The console application: keyboard-first, reads the store, never a source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from console.output import cell
from console.overview import (CHANGE_COLUMNS, COLLECTOR_COLUMNS, LOG_COLUMNS, METRIC_COLUMNS,
                              Overview, load_overview)
from console.store import Store


class OverviewLoaded(Message):
    def __init__(self, overview: Overview) -> None:
        super().__init__()
        self.overview = overview


class OncallApp(App[None]):
    """The on-call console."""

    CSS_PATH = "app.tcss"
    TITLE = "oncall"
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, store_path: str | Path, *, workspace_name: str = "",
                 refresh_seconds: float = 5.0) -> None:
        super().__init__()
        self.store_path = Path(store_path)
        self.sub_title = workspace_name
        self.refresh_seconds = refresh_seconds
        self.overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("loading…", id="summary")
        with Horizontal(id="top"):
            with Vertical(classes="panel"):
                yield Static("Metrics", classes="title")
                yield DataTable(id="metrics", cursor_type="row", zebra_stripes=True)
            with Vertical(classes="panel"):
                yield Static("Collectors", classes="title")
                yield DataTable(id="collectors", cursor_type="row")
                yield Static("Changes", classes="title")
                yield DataTable(id="changes", cursor_type="row")
        with Vertical(classes="panel", id="bottom"):
            yield Static("Recent logs", classes="title")
            yield DataTable(id="logs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in (("metrics", METRIC_COLUMNS), ("collectors", COLLECTOR_COLUMNS),
                                  ("changes", CHANGE_COLUMNS), ("logs", LOG_COLUMNS)):
            self.query_one(f"#{table_id}", DataTable).add_columns(*columns)
        self.action_refresh()

    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="overview")
    def _load(self) -> None:
        store = Store.open_read(self.store_path)
        try:
            overview = load_overview(store)
        finally:
            store.close()
        self.post_message(OverviewLoaded(overview))

    def on_overview_loaded(self, message: OverviewLoaded) -> None:
        view = self.overview = message.overview
        span = (f"{cell(view.first_ts)} → {cell(view.last_ts)} UTC" if view.first_ts
                else "no samples yet — run `oncall import FILE` or `oncall collect`")
        self.query_one("#summary", Static).update(
            f"{view.series} series · {view.samples:,} samples · {view.logs:,} log lines · {span}")
        with self.batch_update():
            self._fill("metrics", view.metrics)
            self._fill("collectors", view.collectors)
            self._fill("changes", view.changes)
            self._fill("logs", view.recent_logs)
        self.set_timer(self.refresh_seconds, self.action_refresh)

    def _fill(self, table_id: str, rows: list[tuple[Any, ...]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        table.clear()
        for row in rows:
            table.add_row(*(cell(v) for v in row))
