"""The Metrics view: the series a query (a selector, or a rule function of one) gives over a
range, charted with time and value axes (console/screens/metrics.py reads and evaluates it)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from console.core.output import cell
from console.screens import overview as v
from console.screens.metrics import Query, QueryError, evaluate, parse_query, summary
from console.tui.host import host
from console.tui.views.base import View, data_table
from console.tui.widgets.chart import TimeChart
from console.tui.widgets.tables import Row, matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{x}"' for k, x in sorted(labels.items()) if k != "__name__")


def series_key(series: v.MetricSeries) -> str:
    """The series' row key: `name{label="value",…}`."""
    return f"{series.labels.get('__name__', '')}{{{_labels_text(series.labels)}}}"


def _values(series: v.MetricSeries) -> list[float]:
    return [p[1] for p in series.points if p[1] is not None]


def _series_row(series: v.MetricSeries) -> Row:
    values = _values(series)
    key = series_key(series)
    return key, (
        key,
        str(len(series.points)),
        cell(values[-1] if values else None),
        cell(min(values) if values else None),
        cell(max(values) if values else None),
    )


def _is_row(key: str | None, series: v.MetricSeries) -> bool:
    """Whether the row `key` shows `series`: its name opens a selector in it, its labels end it."""
    return (
        key is not None
        and f"{series.labels.get('__name__', '')}{{" in key
        and key.endswith(_labels_text(series.labels) + "}")
    )


class MetricsView(View):
    view_name, view_title = "metrics", "Metrics"
    BINDINGS = [Binding("e", "edit", "Edit query")]
    help_lines = [
        ("e", "edit the query (enter runs it, esc leaves)"),
        ("selector", 'type e.g. http_requests_total{code=~"5.."} and press enter'),
        ("function", "rate|increase(SELECTOR[5m]), avg|min|max|sum|count|last_over_time(SELECTOR[5m])"),
        ("quantile", "quantile_over_time(0.9, SELECTOR[5m])"),
        ("aggregate", "sum|avg|min|max [by (l, …)] (rate(x[5m])), or sum(…) by (l)"),
        ("range", "last, outside any parentheses: [1h] (default 6h), e.g. rate(x[5m]) [1h]"),
        ("chart", "up to 5 series are drawn together; more: the highlighted row"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selector = "http_requests_total"
        self.metrics_query: Query = Query(self.selector)
        self.range = timedelta(hours=6)

    def compose(self) -> ComposeResult:
        yield Input(
            value=self.selector,
            placeholder="PromQL, e.g. sum by (code) (rate(x[5m])), then optional [range]",
            id="metrics-input",
        )
        yield Static("", id="metrics-status")
        yield TimeChart(id="metrics-chart")
        yield data_table("metrics-table", "series", "points", "last", "min", "max")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "metrics-input":
            return
        event.stop()
        try:
            query = parse_query(event.value)
        except QueryError as exc:  # the last good chart and table stay
            self.query_one("#metrics-status", Static).update(Text(str(exc), style="red"))
            return
        self.selector, self.metrics_query = event.value.strip(), query
        self.range = query.range or self.range
        host(self).refresh_view()

    def load(self, session: Session) -> dict[str, Any]:
        now = session.clock()
        try:
            windows = session.workspace.config.promql.windows
            series = evaluate(session.store, self.metrics_query, now - self.range, now, windows=windows)
        except ValueError as exc:
            return {"error": str(exc), "series": []}
        return {"error": "", "series": series}

    def draw(self, data: Any) -> None:
        status = self.query_one("#metrics-status", Static)
        if data["error"]:  # the last good chart and table stay
            status.update(Text(data["error"], style="red"))
            return
        self.data = data
        status.update(summary(self.metrics_query, len(data["series"]), self.range))
        rows = [row for row in map(_series_row, data["series"]) if matches(row[1], self.filter_text)]
        table = self.query_one("#metrics-table", DataTable)
        sync_table(table, rows)
        self._chart(table)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._chart(event.data_table)

    def _chart(self, table: DataTable[Any]) -> None:
        every = (self.data or {}).get("series", [])
        if len(every) > 5:
            key = selected_key(table)
            every = [s for s in every if _is_row(key, s)]
        chart = self.query_one("#metrics-chart", TimeChart)
        chart.show({cell(series_key(s)): s.points for s in every}, unit=self.metrics_query.unit)
