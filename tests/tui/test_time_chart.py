"""The alert's value chart: a time axis in HH:MM UTC, a value axis, thresholds and a legend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from settle import settled
from textual.app import App, ComposeResult

from console.tui.app import OncallApp
from console.tui.screens.detail import AlertDetailScreen
from console.tui.widgets.chart import Marker, ThresholdLine, TimeChart


def drawn(chart: TimeChart) -> str:
    return chart.render().plain  # type: ignore[union-attr]


async def test_alert_detail_charts_the_values_against_time(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"alerts", "enter")
        await settled(pilot)
        await pilot.press("enter")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, AlertDetailScreen) and screen.detail is not None
        chart = screen.query_one("#alert-values", TimeChart)
        values = [(t, x) for t, x in screen.detail.values if x is not None]
        assert len(values) > 1
        assert [x for _, x in chart.series[0].points] == [x for _, x in values]  # stored in time order
        text = drawn(chart)
        first, last = min(t for t, _ in values), max(t for t, _ in values)
        assert first.strftime("%H:%M") in text and last.strftime("%H:%M") in text
        assert "value" in text and "time (UTC)" in text
        assert chart.size.height >= 8


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TimeChart("burn rate ×", id="chart")


async def test_thresholds_and_legend_are_drawn() -> None:
    start = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    fast = [(start + timedelta(minutes=5 * i), float(i)) for i in range(13)]
    slow = [(t, x / 2) for t, x in fast]
    app = ChartApp()
    async with app.run_test(size=(100, 20)) as pilot:
        chart = app.query_one(TimeChart)
        chart.show({"burn 5m": fast, "burn 1h": slow}, thresholds=[ThresholdLine(14.4, "threshold 14.4")])
        await pilot.pause()
        text = drawn(chart)
        for expected in ("11:00", "12:00", "burn 5m", "burn 1h", "threshold 14.4", "burn rate ×"):
            assert expected in text, expected


async def test_a_window_sets_the_time_axis_and_markers_inside_it_are_drawn() -> None:
    start = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    burn = [(start + timedelta(minutes=5 * i), float(i)) for i in range(-6, 13)]  # 10:30 … 12:00
    window = (start, start + timedelta(hours=2))  # to 13:00, an hour past the last value
    markers = [
        Marker(start + timedelta(minutes=40), "deploy v3"),
        Marker(start - timedelta(minutes=10), "too early"),
        Marker(start + timedelta(minutes=50), "drift amount", "drift"),
    ]
    app = ChartApp()
    async with app.run_test(size=(100, 20)) as pilot:
        chart = app.query_one(TimeChart)
        chart.show(
            {"burn 5m": burn}, thresholds=[ThresholdLine(14.4, "page")], markers=markers, window=window
        )
        await pilot.pause()
        assert chart.span == window
        assert chart.series[0].points[0] == (start, 0.0)  # values before the window left out
        assert [m.label for m in chart.markers] == ["deploy v3", "drift amount"]
        text = drawn(chart)
        for expected in ("11:00", "12:00", "13:00", "page", "burn 5m"):
            assert expected in text, expected
        top, tags = text.splitlines()[:2]  # each marker: a vertical line, its number at the top
        lines = [i for i, c in enumerate(top) if c == "┬"]
        assert [tags[i] for i in lines] == ["1", "2"]
        assert lines[1] - lines[0] in (7, 8, 9)  # 10 minutes apart on a 2-hour axis ~92 wide
