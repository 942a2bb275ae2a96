"""The incident screen's burn chart follows the clock: an hour before the burn began to now, redrawn
with the fresh burn on every refresh, through the burn and after the rollback heals it."""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.widgets import DataTable, Static

from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from console.tui.widgets.chart import TimeChart, utc
from tests.tui.test_incident_console import TICK, live_demo, settle

__all__ = ["live_demo"]  # the fixture (CI deploys v4 15 s in, it degrades a minute later), used by name
HOUR = timedelta(hours=1)


def burn_5m(chart: TimeChart) -> list[tuple[datetime, float]]:
    [series] = [s for s in chart.series if s.name == "burn 5m"]
    return series.points


async def test_the_burn_chart_follows_the_clock_through_the_burn_and_the_heal(live_demo) -> None:
    session, clock = live_demo
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"incidents", "enter")
        await settle(pilot)
        for _ in range(60):  # the engine pages and declares the incident
            clock.now += TICK
            await pilot.press("r")
            await settle(pilot)
            if app.query_one("#incidents-table", DataTable).row_count:
                break
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IncidentScreen) and screen.page is not None
        onset = screen.page.what.onset
        assert onset is not None
        chart = screen.query_one("#inc-chart", TimeChart)
        assert chart.window == (utc(onset) - HOUR, utc(clock.now))
        burning_t, burning = burn_5m(chart)[-1]
        assert burning > 1

        for _ in range(21):  # 10½ more minutes of the burn; the refresh redraws to the new now
            clock.now += TICK
            session.tick()
        await pilot.press("r")
        await settle(pilot)
        assert chart.window == (utc(onset) - HOUR, utc(clock.now))
        later_t, later = burn_5m(chart)[-1]
        assert later_t >= burning_t + timedelta(minutes=10) and later > 14.4
        assert later_t < utc(clock.now)  # the window ends at the clock's now, not the last 5m sample

        session.registry()[1].set_alias("fraud-detector", "champion", "2")  # the rollback heals it
        for _ in range(61):
            clock.now += TICK
            session.tick()
        await pilot.press("r")
        await settle(pilot)
        assert chart.window == (utc(onset) - HOUR, utc(clock.now))
        healed_t, healed = burn_5m(chart)[-1]
        assert healed < 1 and healed_t > later_t + timedelta(minutes=25)
        assert max(x for _, x in burn_5m(chart)) > 14.4  # the burn is still on the chart
        labels = [m.label for m in chart.markers]  # CI's deploy, the page, then the drift it caused
        assert labels == ["champion v3 → v4", "declared", "drift amount", "drift prediction"]
        drawn = chart.render().plain  # type: ignore[union-attr]
        for label in ("12:00", "12:30", "page 14.4× · 6×", "burn 5m", "burn 1h", "time (UTC)"):
            assert label in drawn, label
        title = screen.query_one("#inc-burn", Static).render().plain
        assert f" · {healed:.1f}× at {healed_t:%H:%M} · peak " in title
