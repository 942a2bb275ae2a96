"""The console opens on a store and shows what is in it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.widgets import DataTable, Static

from collectors.demo import seed_demo
from console.store import Store
from console.tui.app import OncallApp


def demo_store(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as store:
        seed_demo(store, now=datetime(2026, 11, 20, 12, 0), days=1)
    return path


async def test_overview_shows_the_store(tmp_path: Path) -> None:
    app = OncallApp(demo_store(tmp_path), refresh_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        summary = str(app.query_one("#summary", Static).render())
        assert "11 series" in summary and "63,360 samples" in summary
        metrics = app.query_one("#metrics", DataTable)
        names = [metrics.get_row_at(i)[0] for i in range(metrics.row_count)]
        assert "http_requests_total" in names
        assert app.query_one("#logs", DataTable).row_count == 200
        assert app.query_one("#changes", DataTable).row_count == 3
        await pilot.press("q")
    assert app.return_code == 0


async def test_refresh_picks_up_new_data(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    app = OncallApp(path, refresh_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "no samples yet" in str(app.query_one("#summary", Static).render())
        with Store.open(path) as store:
            seed_demo(store, now=datetime(2026, 11, 20, 12, 0), days=0.5)
        await pilot.press("r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "11 series" in str(app.query_one("#summary", Static).render())
