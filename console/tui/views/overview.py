"""The Overview: the SLO board, the alerts firing or pending, open incidents and collectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from console.core.output import cell
from console.screens import overview as v
from console.tui.views.base import View, data_table
from console.tui.widgets.tables import Row, matches, selected_key, show_text_table, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session


class OverviewView(View):
    view_name, view_title = "overview", "Overview"
    # Enter is the view's whichever panel has focus (the SLO board's table would keep it)
    BINDINGS = [Binding("enter", "app.drill", "Open", show=False, priority=True)]
    help_lines = [
        ("enter", "open the newest open incident, else the most severe firing alert"),
        ("D", "demo: CI deploys v4 now, and it degrades at once"),
    ]
    SLO_COLUMNS = (
        "slo",
        "target",
        "sli",
        "budget",
        "burn (/page at)",
        "exhaustion",
        "state",
    )

    def compose(self) -> ComposeResult:
        yield Static("SLOs", classes="title")
        yield data_table("slo-board", *self.SLO_COLUMNS)
        with Horizontal(classes="row"):
            with Vertical(classes="panel"):
                yield Static("Alerts firing / pending", classes="title")
                yield data_table("overview-alerts", "state", "alert", "since", "labels")
            with Vertical(classes="panel"):
                yield Static("Open incidents", classes="title")
                yield Static(id="overview-incidents", classes="panel-table")
                yield Static("Collectors", classes="title")
                yield Static(id="overview-collectors", classes="panel-table")

    def load(self, session: Session) -> Iterator[dict[str, Any]]:
        """Alerts, incidents and collectors first; the SLO board (the costly part) after."""
        ahead = session.read_ahead_result("overview")
        if ahead is not None:  # read while the console was starting
            yield ahead
            return
        now, rules = session.clock(), session.config.inhibit_rules
        if self.data is None and session.slos:
            yield v.overview(session.store, session.slos, now, with_slos=False, inhibit_rules=rules)
        yield v.overview(session.store, session.slos, now, inhibit_rules=rules)

    def draw(self, data: Any) -> None:
        board = self.query_one("#slo-board", DataTable)
        if data["slos"] is None:  # the first, cheap step: the board keeps what it showed
            data = {**data, "slos": (self.data or {}).get("slos") or []}
            board.loading = not self.data
        else:
            board.loading = False
        self.data = data
        sync_table(board, self._slo_rows(data["slos"]))
        alerts = [(a.fingerprint, (a.state, a.name, cell(a.since), a.label_text())) for a in data["alerts"]]
        sync_table(
            self.query_one("#overview-alerts", DataTable),
            [r for r in alerts if matches(r[1], self.filter_text)],
            keep_top=True,
        )
        self._draw_panels(data)

    def _slo_rows(self, slos: list[v.SLORow]) -> list[Row]:
        rows: list[Row] = []
        for slo in slos:
            key = slo.name + "".join(f",{k}={x}" for k, x in sorted(slo.group.items()))
            cells = (
                key,
                f"{slo.objective:g}%",
                v.fmt_percent(slo.sli),
                v.fmt_budget(slo),
                v.fmt_burns(slo),
                "not at risk" if slo.time_to_exhaustion is None else v.fmt_age(slo.time_to_exhaustion),
                slo.state.upper() if slo.state in ("page", "ticket", "exhausted") else slo.state,
            )
            if matches(cells, self.filter_text):
                rows.append((key, cells))
        return rows

    def _draw_panels(self, data: dict[str, Any]) -> None:
        show_text_table(
            self.query_one("#overview-incidents", Static),
            ("id", "sev", "status", "title"),
            [(i[0], i[1] or "", i[2], i[3]) for i in data["incidents"]],
            empty="no open incidents",
        )
        show_text_table(
            self.query_one("#overview-collectors", Static),
            ("collector", "health", "last success", "rows"),
            [
                (c[0], Text(c[1], style="" if c[1] == "up" else "bold red"), cell(c[2]), c[3])
                for c in data["collectors"]
            ],
            empty="no collectors",
        )

    def selected_alert(self) -> str | None:
        return selected_key(self.query_one("#overview-alerts", DataTable))

    @property
    def alerts_table(self) -> DataTable:
        return self.query_one("#overview-alerts", DataTable)

    def most_urgent(self) -> tuple[str, str] | None:
        """What Enter opens, of what is drawn: ("incident", id), ("alert", fingerprint) or None."""
        if self.data is None:
            return None
        return v.most_urgent(self.data["incidents"], self.data["alerts"])
