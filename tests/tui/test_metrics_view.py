"""The Metrics view: PromQL is charted with axes over the view's range; bad text says why."""

from __future__ import annotations

from pathlib import Path

from settle import settled
from textual.widgets import DataTable, Input, Static

from console.tui.app import OncallApp
from console.tui.widgets.chart import TimeChart


def drawn(chart: TimeChart) -> str:
    return chart.render().plain  # type: ignore[union-attr]


async def run_query(pilot, text: str) -> None:
    await pilot.press("e")
    field = pilot.app.query_one("#metrics-input", Input)
    await pilot.press("end", *["backspace"] * len(field.value), *text, "enter")
    await settled(pilot)


async def test_rate_is_charted_per_second_with_a_time_axis(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"metrics", "enter")
        await settled(pilot)
        await run_query(pilot, 'sum by (code) (rate(http_requests_total{service="fraud-scoring"}[5m])) [1h]')
        status = app.query_one("#metrics-status", Static).render().plain
        assert "series over the last 1h" in status, status
        table = app.query_one("#metrics-table", DataTable)
        keys = [str(k.value) for k in table.rows]
        assert keys and all(k.startswith('{code="') for k in keys), keys
        chart = app.query_one("#metrics-chart", TimeChart)
        assert chart.unit == "per second" and chart.series
        first = chart.series[0].points
        assert len(first) > 10  # one value per step over the hour, not one per sample bucket
        assert (first[-1][0] - first[0][0]).total_seconds() >= 50 * 60
        text = drawn(chart)
        assert "per second" in text and "time (UTC)" in text and "11:" in text and "12:00" in text

        await run_query(pilot, "rate(http_requests_total[5m])")
        assert "series over the last 1h" in app.query_one("#metrics-status", Static).render().plain
        assert app.query_one("#metrics-chart", TimeChart).unit == "per second"
        good = list(app.query_one("#metrics-chart", TimeChart).series)

        await run_query(pilot, "holt_winters(x[5m], 0.5, 0.5)")
        status = app.query_one("#metrics-status", Static).render().plain
        assert "unknown function" in status and "accepted: a PromQL expression" in status
        assert app.query_one("#metrics-chart", TimeChart).series == good  # the last good chart stays


async def test_with_more_than_five_series_the_highlighted_one_is_charted(
    workspace: Path, session_for
) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"metrics", "enter")
        await settled(pilot)
        await run_query(pilot, "rate(http_request_duration_seconds_bucket[5m]) [30m]")
        table = app.query_one("#metrics-table", DataTable)
        assert table.row_count == 7
        chart = app.query_one("#metrics-chart", TimeChart)
        names = [s.name for s in chart.series]
        table.focus()
        await pilot.press("down")
        await settled(pilot)
        assert len(names) == 1 and len(chart.series) == 1 and chart.series[0].name != names[0]
        assert chart.series[0].name == str(list(table.rows)[1].value)


async def test_a_histogram_quantile_is_charted(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"metrics", "enter")
        await settled(pilot)
        await run_query(
            pilot,
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) [1h]",
        )
        status = app.query_one("#metrics-status", Static).render().plain
        assert status.startswith("1 series over the last 1h"), status
        chart = app.query_one("#metrics-chart", TimeChart)
        values = [v for _, v in chart.series[0].points]
        assert len(values) > 10 and all(0 < v <= 10 for v in values)
