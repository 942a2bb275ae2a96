"""The Logs view: the live tail, pages back from it, or the lines from an alert's start."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.core.output import cell
from console.screens import logs as lg
from console.tui.host import host
from console.tui.screens.log_line import LogLineScreen
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session

Ident = tuple[datetime | None, str, int]  # ts, origin, line_offset: one stored line


class LogsView(View):
    """Live tail, newest first; `/` filters (console.screens.logs has the language)."""

    view_name, view_title = "logs", "Logs"
    help_lines = [
        ("/", 'filter: words, each in the level, service or message (any case; "a phrase")'),
        ("", "service=NAME level=LEVEL since=30m until=2026-11-20T12:00 KEY=VALUE (an attribute)"),
        ("", "re:REGEX or /REGEX/: the message (RE2, case-sensitive; (?i) ignores case)"),
        ("enter", "the line with every field"),
        ("o / n", "older / newer lines"),
        ("t", "back to the live tail"),
    ]
    BINDINGS = [Binding("o", "older", "Older"), Binding("n", "newer", "Newer"), Binding("t", "tail", "Tail")]
    PAGE = 100

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.start_at: datetime | None = None  # a time to open at (an alert's start); None: the live tail
        self.held_until: datetime | None = None  # opened at a time: lines after this wait for `t`
        self._landed_for: str | None = None  # the filter the cursor was put on start_at's line for
        self._idents: dict[str, Ident] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-status")
        yield data_table("logs-table", *lg.LOG_COLUMNS)

    def open_at(self, start: datetime | None, service: str | None, now: datetime) -> None:
        """Open on the first line of `service` at or after `start`, the lines after `now` held."""
        self.filter_text = f"service={service}" if service else ""
        self.start_at, self.held_until = start, (now if start is not None else None)
        self.page_offset, self._landed_for = 0, None

    def load(self, session: Session) -> dict[str, Any]:
        try:
            return self._read(session)
        except (lg.FilterError, duckdb.Error) as exc:  # shown on the view: the filter is the user's to fix
            return {"error": str(exc).splitlines()[0], "lines": [], "total": 0}

    def _read(self, session: Session) -> dict[str, Any]:
        store, filter_text = session.store, self.filter_text
        f = lg.parse_filter(filter_text, session.clock())
        if f.regex is not None:
            lg.check_pattern(store, f.regex)
        if self.held_until is not None:
            f.until = min(f.until, self.held_until) if f.until else self.held_until
        data: dict[str, Any] = {
            "error": "",
            "offset": self.page_offset,
            "cursor": None,
            "filter": filter_text,
        }
        if self.start_at is not None and filter_text != self._landed_for:
            spot = lg.landing(store, f, self.start_at)
            data["landed"] = spot is not None
            data["offset"] = max(0, spot.newer - self.PAGE // 2) if spot else 0
            data["cursor"] = spot.newer - data["offset"] if spot else None
        data["lines"] = lg.logs_window(store, f, offset=data["offset"], limit=self.PAGE)
        data["total"] = lg.logs_count(store, f)
        data["described"] = f.describe()
        return data

    def draw(self, data: Any) -> None:
        self.data = data
        if "landed" in data:
            self.page_offset, self._landed_for = data["offset"], data["filter"]
        rows = []
        self._idents = {}
        for ts, level, service, message, origin, line_offset in data["lines"]:
            key = f"{line_offset} {origin}"
            self._idents[key] = (ts, origin, line_offset)
            rows.append((key, (cell(ts), cell(level), cell(service), cell(message)[:200])))
        table = self.query_one("#logs-table", DataTable)
        sync_table(table, rows)
        if data.get("cursor") is not None:
            table.move_cursor(row=data["cursor"], animate=False)
            table.scroll_to(y=max(0, data["cursor"] - table.size.height // 2), animate=False)
        self.query_one("#logs-status", Static).update(self._status(data))

    def _status(self, data: dict[str, Any]) -> Text:
        if data["error"]:
            return Text(data["error"], style="red")
        status = Text(f"{data['total']:,} lines match")
        if data["described"]:
            status.append(f" {data['described']}")
        if "landed" in data:
            at = cell(self.start_at)
            status.append(
                f" · on the first line at or after {at}" if data["landed"] else f" · no line at or after {at}"
            )
        elif self.page_offset == 0 and self.held_until is None:
            status.append(" · live tail")
        else:
            status.append(f" · {self.page_offset:,} lines back")
        if self.held_until is not None:
            status.append(f" · newer than {cell(self.held_until)} held: t for the live tail")
        return status

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "logs-table":
            return
        event.stop()
        ident = self._idents.get(str(event.row_key.value))
        record = lg.log_line(host(self).session.store, *ident) if ident else None
        if record is None:
            self.notify("that line is no longer in the store", severity="warning")
            return
        self.app.push_screen(LogLineScreen(record))

    def action_older(self) -> None:
        self.page_offset += self.PAGE
        host(self).refresh_view()

    def action_newer(self) -> None:
        self.page_offset = max(0, self.page_offset - self.PAGE)
        host(self).refresh_view()

    def action_tail(self) -> None:
        self.page_offset, self.start_at, self.held_until, self._landed_for = 0, None, None, None
        host(self).refresh_view()
