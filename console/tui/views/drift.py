"""The Drift view: per-column test, score, threshold, verdict, score trend, reference vs current histograms."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeGuard

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.core.output import cell
from console.tui.views.base import View, data_table, spark_text
from console.tui.views.segments import draw_segments, load_segments
from console.tui.widgets.tables import Row, matches, selected_key, sync_table

if TYPE_CHECKING:
    from console.runtime.session import Session

BAR_WIDTH = 28
ESTIMATES_SHOWN_FOR = timedelta(hours=6)  # CBPE estimates older than this are not shown as current
COLUMNS = ("model", "column", "type", "test", "score", "threshold", "verdict", "rows ref/cur", "score trend")


def load_drift(session: Session) -> dict[str, Any]:
    """Every workspace window evaluated at the session's now, with score history and histograms (headless)."""
    from console.drift.estimation_window import latest_estimates
    from console.drift.windows import (
        WindowError,
        drift_windows,
        evaluate_window,
        histogram,
        history_span,
        score_history,
    )

    now = session.clock()
    try:
        windows = drift_windows(session.workspace)
    except Exception as exc:  # noqa: BLE001 - a broken drift source is the workspace check's to report
        return {"now": now, "windows": [], "error": str(exc).splitlines()[0]}
    loaded = []
    for _, window in windows:
        entry: dict[str, Any] = {"model": window.model, "error": "", "result": None}
        try:
            result = evaluate_window(session.store, window, now, session.workspace.root)
        except (WindowError, ValueError) as exc:
            entry["error"] = str(exc).splitlines()[0]
            loaded.append(entry)
            continue
        entry["result"] = result
        entry["history"] = score_history(session.store, window.model, now - history_span(window), now)
        entry["histograms"] = {c.column: histogram(result, c.column) for c in result.drift.columns}
        entry["estimates"] = latest_estimates(session.store, window.model, now - ESTIMATES_SHOWN_FOR)
        loaded.append(entry)
    return {"now": now, "windows": loaded, "error": "", "segments": load_segments(session)}


def _verdict(column: Any) -> str:
    if column.status != "ok":
        return str(column.status)  # "no data", or "failed": the test cannot score these samples
    return "DRIFT" if column.drifted else "ok"


def _bar(share: float, top: float, style: str) -> Text:
    width = round(share / top * BAR_WIDTH) if top > 0 else 0
    return Text("█" * width + " " * (BAR_WIDTH - width), style=style)


def histogram_text(bars: dict[str, Any] | None, model: str) -> Text:
    """Reference and current shares side by side, one line per bin or category."""
    if not _has_data(bars):
        column = bars["column"] if bars else "this column"
        return Text(f"{model} · {column}: no data in either window")
    text = Text()
    text.append(f"{model} · {bars['column']}", style="bold")
    text.append(f"   reference {'':<{BAR_WIDTH - 3}}current\n")
    _append_bars(text, bars)
    if not any(bars["current"]):
        text.append("current window: no data\n", style="yellow")
    if not any(bars["reference"]):
        text.append("reference: no data\n", style="yellow")
    return text


def _has_data(bars: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    return bool(bars and bars["labels"] and (any(bars["reference"]) or any(bars["current"])))


def _append_bars(text: Text, bars: dict[str, Any]) -> None:
    width = min(22, max(len(str(label)) for label in bars["labels"]))
    top = max([*bars["reference"], *bars["current"]])  # the largest share fills the bar
    for label, ref, cur in zip(bars["labels"], bars["reference"], bars["current"]):
        text.append(f"{str(label)[:width]:>{width}} ")
        text.append_text(_bar(ref, top, "cyan"))
        text.append(f" {ref:6.1%}  ")
        text.append_text(_bar(cur, top, "magenta" if abs(cur - ref) > 0.05 else "green"))
        text.append(f" {cur:6.1%}\n")


def _status_text(data: dict[str, Any]) -> Text:
    """The view's first line when there is nothing to compare: why."""
    status = Text()
    if data["error"]:
        status.append(data["error"], style="red")
    elif not data["windows"]:
        status.append(
            "no drift windows: add a source of kind drift with windows: "
            "[{model: NAME, reference: {span: 6h, ago: 1h}, current: 1h}]"
        )
    return status


def _column_rows(entry: dict[str, Any]) -> list[Row]:
    """One table row per column of a window's result."""
    history = entry["history"]
    return [
        (
            f"{entry['model']}/{column.column}",
            (
                entry["model"],
                column.column,
                column.kind,
                column.method or "",
                "" if column.score is None else f"{column.score:.4g}",
                cell(column.threshold),
                _verdict(column),
                f"{column.reference_rows}/{column.current_rows}",
                spark_text(history.get(column.column, []), 16),
            ),
        )
        for column in entry["result"].drift.columns
    ]


def _estimates_text(estimates: dict[str, dict[str, float]]) -> Text:
    """The latest CBPE estimates the `estimation` source wrote: value [band], red when alerting."""
    text = Text()
    for metric, numbers in estimates.items():
        text.append(
            f" · est. {metric} {numbers['value']:.3f}", style="bold red" if numbers.get("alert") else ""
        )
        if "lower" in numbers and "upper" in numbers:
            text.append(f" [{numbers['lower']:.3f}–{numbers['upper']:.3f}]")
    return text


class DriftView(View):
    """Input drift of each configured model: reference window vs the rolling current window."""

    view_name, view_title = "drift", "Drift"
    help_lines = [
        ("↑/↓", "choose a column: its reference vs current histogram shows below"),
        ("/", "filter columns, e.g. DRIFT"),
        ("config", "a source of kind drift with windows: [{model, reference, current}]"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="drift-status")
        yield data_table("drift-table", *COLUMNS)
        yield Static("", id="drift-hist")

    DEFAULT_CSS = """
    DriftView #drift-status { height: auto; padding: 0 1; }
    DriftView #drift-table { height: auto; max-height: 14; }
    DriftView #drift-hist { height: 1fr; padding: 0 1; }
    DriftView #drift-segments { height: auto; max-height: 12; padding: 0 1; }
    """

    def load(self, session: Session) -> dict[str, Any]:
        return load_drift(session)

    def draw(self, data: Any) -> None:
        self.data = data
        status = _status_text(data)
        rows: list[Row] = []
        for entry in data["windows"]:
            if status.plain:
                status.append("\n")
            if entry["error"]:
                status.append(f"{entry['model']}: ", style="bold")
                status.append(entry["error"], style="red")
                continue
            status.append_text(self._summary(entry["result"]))
            status.append_text(_estimates_text(entry.get("estimates") or {}))
            rows += [row for row in _column_rows(entry) if matches(row[1], self.filter_text)]
        self.query_one("#drift-status", Static).update(status)
        table = self.query_one("#drift-table", DataTable)
        sync_table(table, rows)
        draw_segments(self, data.get("segments", []), before="drift-hist")
        self._draw_histogram(table)

    @staticmethod
    def _summary(result: Any) -> Text:
        drift = result.drift
        text = Text()
        text.append(result.window.model, style="bold")
        if result.reference_bounds:
            start, end = result.reference_bounds
            reference = f"{start:%m-%d %H:%M}..{end:%m-%d %H:%M}"
        else:
            reference = result.window.reference.describe()
        start, end = result.current_bounds
        text.append(
            f" · reference {reference} ({len(result.reference):,} rows) vs current "
            f"{start:%m-%d %H:%M}..{end:%m-%d %H:%M} ({len(result.current):,} rows) · "
        )
        if drift.share is None:
            text.append("dataset drift: no data", style="yellow")
        else:
            tested = sum(1 for c in drift.columns if c.status == "ok")
            verdict = (
                f"dataset drift: {'YES' if drift.drifted else 'no'} ({drift.drifted_columns}/{tested} "
                f"columns ≥ share {drift.drift_share:g})"
            )
            text.append(verdict, style="bold red" if drift.drifted else "green")
        return text

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "drift-table":
            self._draw_histogram(event.data_table)

    def _draw_histogram(self, table: DataTable[Any]) -> None:
        key = selected_key(table)
        target = self.query_one("#drift-hist", Static)
        if key is None or self.data is None:
            target.update("")
            return
        model, _, column = key.partition("/")
        entry = next((e for e in self.data["windows"] if e["model"] == model and e["result"]), None)
        target.update(histogram_text(entry["histograms"].get(column) if entry else None, model))
