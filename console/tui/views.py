"""The console's views: Overview, Alerts, Logs, Metrics, Models, SQL.

A view loads its data in a worker thread (`load`, headless calls only) and draws it on
the UI thread (`draw`); the `/` filter narrows what is drawn.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Sparkline, Static

from console.core.output import cell
from console.screens import overview as v
from console.tui.banner import ReadError
from console.tui.tables import matches, selected_key, show_text_table, sync_table

SPARK = "▁▂▃▄▅▆▇█"


def spark_text(values: list[float], width: int = 12) -> str:
    values = [x for x in values[-width:] if x is not None]
    if not values:
        return ""
    top = max(max(values), 1e-9)
    return "".join(SPARK[min(len(SPARK) - 1, int(x / top * (len(SPARK) - 1)))] for x in values)


class View(Vertical):
    """One screenful of the console."""

    view_name: ClassVar[str] = ""
    view_title: ClassVar[str] = ""
    help_lines: ClassVar[list[tuple[str, str]]] = []

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.view_name}", classes="view")
        self.filter_text = ""
        self.data: Any = None
        self.drawn_at: Any = None  # when the data drawn last was read (the session's clock)
        self.read_error: ReadError | None = None

    def load(self, session: Any) -> Any:
        raise NotImplementedError

    def draw(self, data: Any) -> None:
        raise NotImplementedError

    def show_read_error(self, text: str) -> None:
        """Say above the view's widgets why its data could not be read; "" hides it."""
        if self.read_error is None:
            if not text:
                return
            self.read_error = ReadError(classes="read-error")
            self.mount(self.read_error, before=0)
        self.read_error.show_error(text)

    def redraw(self) -> None:
        if self.data is not None:
            self.draw(self.data)

    def action_edit(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()


def _table(table_id: str, *columns: str) -> DataTable:
    table = DataTable(id=table_id, cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    return table


class OverviewView(View):
    view_name, view_title = "overview", "Overview"
    help_lines = [("enter", "open the selected alert"), ("D", "demo: degrade the champion now")]
    SLO_COLUMNS = (
        "slo",
        "objective",
        "sli (window)",
        "budget left",
        "burn 1h",
        "burn 6h",
        "exhaustion",
        "state",
        "burn trend",
    )

    def __init__(self) -> None:
        super().__init__()
        self.burn_history: dict[str, list[float]] = {}

    def compose(self) -> ComposeResult:
        yield Static("SLOs", classes="title")
        yield _table("slo-board", *self.SLO_COLUMNS)
        with Horizontal(classes="row"):
            with Vertical(classes="panel"):
                yield Static("Alerts firing / pending", classes="title")
                yield _table("overview-alerts", "state", "alert", "since", "labels")
            with Vertical(classes="panel"):
                yield Static("Open incidents", classes="title")
                yield Static(id="overview-incidents", classes="panel-table")
                yield Static("Collectors", classes="title")
                yield Static(id="overview-collectors", classes="panel-table")

    def load(self, session: Any) -> Any:
        """Alerts, incidents and collectors first; the SLO board (the costly part) after."""
        ahead = session.read_ahead_result("overview")
        if ahead is not None:  # read while the console was starting
            yield ahead
            return
        now = session.clock()
        if self.data is None and session.slos:
            yield v.overview(session.store, session.slos, now, with_slos=False)
        yield v.overview(session.store, session.slos, now)

    def draw(self, data: Any) -> None:
        if data["slos"] is None:
            data = {**data, "slos": (self.data or {}).get("slos") or []}
            self.query_one("#slo-board", DataTable).loading = not self.data
        else:
            self.query_one("#slo-board", DataTable).loading = False
        self.data = data
        rows = []
        for slo in data["slos"]:
            key = slo.name + "".join(f",{k}={x}" for k, x in sorted(slo.group.items()))
            history = self.burn_history.setdefault(key, [])
            if slo.burn_1h is not None and (not history or history[-1] != slo.burn_1h):
                history.append(slo.burn_1h)
                del history[:-24]
            cells = (
                key,
                f"{slo.objective:g}%",
                v.fmt_percent(slo.sli),
                v.budget_bar(slo.budget_remaining),
                v.fmt_burn(slo.burn_1h),
                v.fmt_burn(slo.burn_6h),
                v.fmt_age(slo.time_to_exhaustion),
                slo.state.upper() if slo.state in ("page", "ticket", "exhausted") else slo.state,
                spark_text(history),
            )
            if matches(cells, self.filter_text):
                rows.append((key, cells))
        sync_table(self.query_one("#slo-board", DataTable), rows)
        alerts = [(a.fingerprint, (a.state, a.name, cell(a.since), a.label_text())) for a in data["alerts"]]
        sync_table(
            self.query_one("#overview-alerts", DataTable),
            [r for r in alerts if matches(r[1], self.filter_text)],
        )
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


class AlertsView(View):
    view_name, view_title = "alerts", "Alerts"
    help_lines = [
        ("enter", "details: labels, annotations, values, logs, changes"),
        ("s", "silence the selected alert's label set"),
    ]

    def compose(self) -> ComposeResult:
        yield _table("alerts-table", "state", "alert", "since", "value", "source", "labels", "muted")

    def load(self, session: Any) -> Any:
        return v.alert_rows(session.store)

    def draw(self, data: Any) -> None:
        self.data = data
        rows = []
        for a in data:
            muted = "silenced" if a.silenced else ("inhibited" if a.inhibited else "")
            cells = (a.state, a.name, cell(a.since), cell(a.value), a.source, a.label_text(), muted)
            if matches(cells, self.filter_text):
                rows.append((a.fingerprint, cells))
        sync_table(self.query_one("#alerts-table", DataTable), rows)

    def selected_alert(self) -> str | None:
        return selected_key(self.query_one("#alerts-table", DataTable))


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
        self.start_at = None  # a time to open at (from an alert); None means the live tail
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-status")
        yield _table("logs-table", *v.LOG_COLUMNS)

    def filters(self, now: Any) -> v.LogFilter:
        f = v.LogFilter()
        words = []
        for token in self.filter_text.split():
            key, _, value = token.partition("=")
            if key in ("service", "level") and value:
                setattr(f, key, value)
            elif key == "since" and value:
                from console.config.durations import parse_duration

                f.since = now - parse_duration(value)
            else:
                words.append(token)
        f.text = " ".join(words) or None
        if self.start_at is not None:
            f.until = self.start_at + timedelta(minutes=15)
        return f

    def load(self, session: Any) -> Any:
        try:
            f = self.filters(session.clock())
            lines = v.logs_window(session.store, f, offset=self.page_offset, limit=self.PAGE)
            total = v.logs_count(session.store, f)
        except (ValueError, Exception) as exc:  # a bad regex or duration is the user's to fix
            return {"error": str(exc).splitlines()[0], "lines": [], "total": 0}
        return {"error": "", "lines": lines, "total": total}

    def draw(self, data: Any) -> None:
        self.data = data
        where = (
            "live tail"
            if self.start_at is None and self.page_offset == 0
            else (f"from {cell(self.start_at)}" if self.start_at else f"{self.page_offset} lines back")
        )
        status = Text(f"{data['total']:,} lines match · {where}")
        if self.filter_text:
            status.append(f" · filter: {self.filter_text}")
        if data["error"]:
            status = Text(data["error"], style="red")
        self.query_one("#logs-status", Static).update(status)
        rows = [
            (f"{self.page_offset + i}", (cell(ts), level or "", service or "", cell(message)[:200]))
            for i, (ts, level, service, message) in enumerate(data["lines"])
        ]
        sync_table(self.query_one("#logs-table", DataTable), rows)

    def action_older(self) -> None:
        self.page_offset += self.PAGE
        self.app.refresh_view()

    def action_newer(self) -> None:
        self.page_offset = max(0, self.page_offset - self.PAGE)
        self.app.refresh_view()

    def action_tail(self) -> None:
        self.page_offset, self.start_at = 0, None
        self.app.refresh_view()


class MetricsView(View):
    view_name, view_title = "metrics", "Metrics"
    BINDINGS = [Binding("e", "edit", "Edit selector")]
    help_lines = [
        ("e", "edit the selector (enter runs it, esc leaves)"),
        ("selector", 'type e.g. http_requests_total{code=~"5.."} and press enter'),
        ("range", "after the selector: [1h] (default 6h)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selector = "http_requests_total"
        self.range = timedelta(hours=6)

    def compose(self) -> ComposeResult:
        yield Input(
            value=self.selector, placeholder="series selector, then optional [range]", id="metrics-input"
        )
        yield Static("", id="metrics-status")
        yield Sparkline([], id="metrics-chart")
        yield _table("metrics-table", "series", "points", "last", "min", "max")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "metrics-input":
            return
        event.stop()
        text = event.value.strip()
        if text.endswith("]") and "[" in text:
            text, _, rng = text[:-1].rpartition("[")
            from console.config.durations import parse_duration

            try:
                self.range = parse_duration(rng)
            except ValueError as exc:
                self.query_one("#metrics-status", Static).update(Text(str(exc), style="red"))
                return
        self.selector = text.strip()
        self.app.refresh_view()

    def load(self, session: Any) -> Any:
        now = session.clock()
        try:
            series = v.metric_series(session.store, self.selector, now - self.range, now)
        except ValueError as exc:
            return {"error": str(exc), "series": []}
        return {"error": "", "series": series}

    def draw(self, data: Any) -> None:
        self.data = data
        status = self.query_one("#metrics-status", Static)
        if data["error"]:
            status.update(Text(data["error"], style="red"))
        else:
            status.update(f"{len(data['series'])} series over the last {cell(self.range)}")
        rows = []
        for s in data["series"]:
            values = [p[1] for p in s.points if p[1] is not None]
            name = s.labels.get("__name__", "")
            labels = ",".join(f'{k}="{x}"' for k, x in sorted(s.labels.items()) if k != "__name__")
            key = f"{name}{{{labels}}}"
            cells = (
                key,
                str(len(s.points)),
                cell(values[-1] if values else None),
                cell(min(values) if values else None),
                cell(max(values) if values else None),
            )
            if matches(cells, self.filter_text):
                rows.append((key, cells))
        table = self.query_one("#metrics-table", DataTable)
        sync_table(table, rows)
        self._chart(table)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._chart(event.data_table)

    def _chart(self, table: DataTable) -> None:
        key = selected_key(table)
        series = next(
            (
                s
                for s in (self.data or {}).get("series", [])
                if f"{s.labels.get('__name__', '')}{{" in (key or "")
                and key.endswith(
                    ",".join(f'{k}="{x}"' for k, x in sorted(s.labels.items()) if k != "__name__") + "}"
                )
            ),
            None,
        )
        values = [p[1] for p in series.points if p[1] is not None] if series else []
        self.query_one("#metrics-chart", Sparkline).data = values


class ModelsView(View):
    view_name, view_title = "models", "Models"
    help_lines = [
        ("R", "roll the selected model's champion back (plan, reason, confirm)"),
        ("P", "promote the selected version to champion"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="models-status")
        yield _table("models-table", "model", "version", "aliases", "created", "metrics", "source")
        yield Static("Recent changes", classes="title")
        yield _table("changes-table", "time", "kind", "model", "version", "actor")

    def load(self, session: Any) -> Any:
        from console.registry.base import version_key

        rows, error = [], ""
        try:
            _, registry = session.registry()
            try:
                for model in registry.list_models():
                    for mv in sorted(
                        registry.list_versions(model.name), key=lambda m: version_key(m.version), reverse=True
                    ):
                        aliases = [a for a, ver in model.aliases.items() if ver == mv.version]
                        rows.append(
                            (
                                model.name,
                                mv.version,
                                ",".join(sorted(aliases)),
                                mv.created_at,
                                ", ".join(f"{k}={x:g}" for k, x in sorted(mv.metrics.items())),
                                mv.source or "",
                            )
                        )
            finally:
                registry.close()
        except Exception as exc:  # an unreachable registry is shown, not raised
            error = str(exc).splitlines()[0]
        return {
            "rows": rows,
            "error": error,
            "changes": v.recent_changes(session.store),
            "read_only": session.read_only,
        }

    def draw(self, data: Any) -> None:
        self.data = data
        mode = (
            "read-only: actions disabled"
            if data["read_only"]
            else "R rollback · P promote (asks for a reason)"
        )
        self.query_one("#models-status", Static).update(
            Text(data["error"], style="red") if data["error"] else mode
        )
        rows = [
            (f"{r[0]}/{r[1]}", (r[0], r[1], r[2], cell(r[3]), r[4], r[5]))
            for r in data["rows"]
            if matches(r, self.filter_text)
        ]
        sync_table(self.query_one("#models-table", DataTable), rows)
        sync_table(
            self.query_one("#changes-table", DataTable),
            [(str(i), tuple(cell(x) for x in c)) for i, c in enumerate(data["changes"])],
        )

    def selected(self) -> tuple[str, str] | None:
        key = selected_key(self.query_one("#models-table", DataTable))
        if not key:
            return None
        model, _, version = key.rpartition("/")
        return model, version


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
        yield DataTable(id="sql-table", cursor_type="row", zebra_stripes=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "sql-input":
            event.stop()
            self.sql = event.value
            self.app.refresh_view()

    def load(self, session: Any) -> Any:
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
        table.clear(columns=True)
        table.add_columns(*(Text(str(c)) for c in data["columns"]))
        for row in data["rows"]:
            cells = tuple(cell(x) for x in row)
            if matches(cells, self.filter_text):
                table.add_row(*(Text(c) for c in cells))


VIEWS: tuple[type[View], ...] = (OverviewView, AlertsView, LogsView, MetricsView, ModelsView, SqlView)

from console.tui.incidents_view import IncidentsView  # noqa: E402 - it builds on View above

VIEWS += (IncidentsView,)

from console.tui.drift_view import DriftView  # noqa: E402 - it builds on View above

VIEWS += (DriftView,)
