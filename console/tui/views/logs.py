"""The Logs view: the live tail, pages back from it, or the lines from an alert's start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.core.output import cell
from console.screens import overview as v
from console.tui.host import host
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session


def _apply_token(f: v.LogFilter, token: str, now: datetime) -> bool:
    """A `service=`, `level=` or `since=` word sets that filter; False for a word to search for."""
    key, _, value = token.partition("=")
    if not value:
        return False
    if key in ("service", "level"):
        setattr(f, key, value)
        return True
    if key == "since":
        from console.config.durations import parse_duration

        f.since = now - parse_duration(value)
        return True
    return False


class LogsView(View):
    """Live tail; `/` takes `service=… level=… since=30m text` or `/regex/`."""

    view_name, view_title = "logs", "Logs"
    help_lines = [
        ("/", "filter: service=NAME level=LEVEL since=30m words or /regex/"),
        ("o / n", "older / newer lines"),
        ("t", "back to the live tail"),
    ]
    BINDINGS = [Binding("o", "older", "Older"), Binding("n", "newer", "Newer"), Binding("t", "tail", "Tail")]
    PAGE = 100

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.start_at: datetime | None = None  # a time to open at (from an alert); None means the live tail
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-status")
        yield data_table("logs-table", *v.LOG_COLUMNS)

    def filters(self, now: datetime) -> v.LogFilter:
        f = v.LogFilter()
        words = []
        for token in self.filter_text.split():
            if not _apply_token(f, token, now):
                words.append(token)
        f.text = " ".join(words) or None
        if self.start_at is not None:
            f.until = self.start_at + timedelta(minutes=15)
        return f

    def load(self, session: Session) -> dict[str, Any]:
        try:
            f = self.filters(session.clock())
            lines = v.logs_window(session.store, f, offset=self.page_offset, limit=self.PAGE)
            total = v.logs_count(session.store, f)
        except Exception as exc:  # noqa: BLE001 - shown on the view: a bad regex or duration is the user's to fix
            return {"error": str(exc).splitlines()[0], "lines": [], "total": 0}
        return {"error": "", "lines": lines, "total": total}

    def draw(self, data: Any) -> None:
        self.data = data
        self.query_one("#logs-status", Static).update(self._status(data))
        rows = [
            (f"{self.page_offset + i}", (cell(ts), level or "", service or "", cell(message)[:200]))
            for i, (ts, level, service, message) in enumerate(data["lines"])
        ]
        sync_table(self.query_one("#logs-table", DataTable), rows)

    def _status(self, data: dict[str, Any]) -> Text:
        if data["error"]:
            return Text(data["error"], style="red")
        if self.start_at is None and self.page_offset == 0:
            where = "live tail"
        else:
            where = f"from {cell(self.start_at)}" if self.start_at else f"{self.page_offset} lines back"
        status = Text(f"{data['total']:,} lines match · {where}")
        if self.filter_text:
            status.append(f" · filter: {self.filter_text}")
        return status

    def action_older(self) -> None:
        self.page_offset += self.PAGE
        host(self).refresh_view()

    def action_newer(self) -> None:
        self.page_offset = max(0, self.page_offset - self.PAGE)
        host(self).refresh_view()

    def action_tail(self) -> None:
        self.page_offset, self.start_at = 0, None
        host(self).refresh_view()
