"""The Canary view: each canary's latest verdict, its metrics with classification and sentence,
and the chosen metric's values of both groups (baseline and canary) on one chart."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.screens.canary import CanaryPage, score_text
from console.tui.views.base import View, data_table
from console.tui.widgets.chart import TimeChart
from console.tui.widgets.tables import Row, matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session

COLUMNS = ("canary", "metric", "class", "why", "n base/can", "median base", "median can", "ratio", "p")
VERDICT_STYLE = {"pass": "bold green", "marginal": "bold yellow", "fail": "bold red", "nodata": "dim"}
CLASS_STYLE = {"High": "bold red", "Low": "bold red", "Pass": "green", "NoData": "dim"}


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def _class_text(metric: Any) -> Text:
    style = CLASS_STYLE.get(metric.classification, "")
    if metric.passed is True and metric.classification in ("High", "Low"):
        style = "yellow"  # a change in the harmless direction
    return Text(metric.classification, style=style)


def metric_rows(page: CanaryPage, filter_text: str = "") -> list[Row]:
    """One row per metric of each canary's latest analysis, keyed canary/metric."""
    rows: list[Row] = []
    for entry in page.entries:
        if entry.analysis is None:
            continue
        for m in entry.analysis.metrics:
            row = (
                f"{entry.spec.name}/{m.name}",
                (
                    entry.spec.name,
                    m.name + (" (critical)" if m.critical else ""),
                    _class_text(m),
                    Text(m.sentence),
                    f"{m.n_baseline}/{m.n_canary}",
                    _number(m.median_baseline),
                    _number(m.median_canary),
                    _number(m.ratio, 3),
                    _number(m.p, 2),
                ),
            )
            if matches(row[1], filter_text):
                rows.append(row)
    return rows


def status_text(page: CanaryPage) -> Text:
    """A line per canary: its versions, verdict, score and reason; a failing judgement in red."""
    text = Text()
    if page.error:
        text.append(page.error + "\n", style="red")
    if not page.entries:
        text.append(
            "no canaries: add `canaries: [canaries/*.yaml]` to the workspace, each with model, "
            "baseline, canary and metrics (docs/canary.md)"
        )
        return text
    for i, entry in enumerate(page.entries):
        if i:
            text.append("\n")
        spec, analysis = entry.spec, entry.analysis
        text.append(f"{spec.name}", style="bold")
        text.append(f" · {spec.model} · {spec.canary} vs {spec.baseline} · on_fail {spec.on_fail} · ")
        if analysis is None:
            text.append("not judged yet", style="dim")
        else:
            text.append(
                f"{analysis.verdict} {score_text(analysis.score)}",
                style=VERDICT_STYLE.get(analysis.verdict, ""),
            )
            text.append(
                f" v{analysis.canary_version} vs v{analysis.baseline_version} at {analysis.at:%H:%M:%S} — "
            )
            text.append(analysis.reason)
            if entry.rollback:
                state = entry.rollback.get("state")
                text.append(
                    f"\n  rollback {state}: {entry.rollback.get('message')}",
                    style="bold yellow" if state == "applied" else "",
                )
            for name, message in sorted((analysis.errors or {}).items()):
                text.append(f"\n  {name} not collected: {message}", style="red")
        if entry.failure:
            text.append(f"\n  judgement failed: {entry.failure}", style="bold red")
        elif entry.skipped:
            text.append(f"\n  not judged now: {entry.skipped}", style="dim")
    return text


class CanaryView(View):
    """Canary against baseline: the latest analysis of each canary in force."""

    view_name, view_title = "canary", "Canary"
    help_lines = [
        ("↑/↓", "choose a metric: both groups' values show on the chart below"),
        ("/", "filter metrics, e.g. High"),
        ("config", "canaries: [canaries/*.yaml] in the workspace (docs/canary.md)"),
    ]

    DEFAULT_CSS = """
    CanaryView #canary-status { height: auto; padding: 0 1; }
    CanaryView #canary-table { height: auto; max-height: 12; }
    CanaryView #canary-chart-title { height: 1; padding: 0 1; }
    CanaryView #canary-chart { height: 1fr; min-height: 10; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="canary-status")
        yield data_table("canary-table", *COLUMNS)
        yield Static("", id="canary-chart-title")
        yield TimeChart(id="canary-chart")

    def load(self, session: Session) -> CanaryPage:
        from console.screens.canary import load_canary_page

        specs = list(getattr(session.config, "canaries", None) or [])
        return load_canary_page(
            session.store,
            specs,
            session.clock(),
            session.canary_failures(),
            session.canary_skipped(),
            windows=session.workspace.config.promql.windows,
        )

    def draw(self, data: Any) -> None:
        self.data = data
        self.query_one("#canary-status", Static).update(status_text(data))
        table = self.query_one("#canary-table", DataTable)
        sync_table(table, metric_rows(data, self.filter_text))
        self._draw_chart(table)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "canary-table":
            self._draw_chart(event.data_table)

    def _draw_chart(self, table: DataTable[Any]) -> None:
        chart = self.query_one("#canary-chart", TimeChart)
        title = self.query_one("#canary-chart-title", Static)
        key = selected_key(table)
        page: CanaryPage | None = self.data
        if key is None or page is None:
            title.update("")
            chart.show({})
            return
        name, _, metric = key.partition("/")
        entry = next((e for e in page.entries if e.spec.name == name), None)
        if entry is None or entry.analysis is None:
            return
        a = entry.analysis
        if entry.series_error:
            title.update(Text(f"{name} · {metric}: values unreadable: {entry.series_error}", style="red"))
            chart.show({})
            return
        groups = entry.series.get(metric, {})
        title.update(
            Text.assemble(
                (f"{name} · {metric}", "bold"),
                f" over {_span(entry.spec.lookback)} to {a.at:%H:%M:%S}, one value every "
                f"{_span(entry.spec.interval)}",
            )
        )
        chart.show(
            {
                f"v{a.baseline_version} baseline": groups.get("baseline", []),
                f"v{a.canary_version} canary": groups.get("canary", []),
            },
            window=(a.at - entry.spec.lookback, a.at),
        )


def _span(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
