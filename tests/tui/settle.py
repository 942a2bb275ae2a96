"""Waiting until the console has drawn: workers done, and every table has measured its columns."""

from __future__ import annotations

from textual.widgets import DataTable


async def settled(pilot) -> None:
    """DataTable measures column widths when idle; a snapshot taken before that is flaky."""
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    for _ in range(100):
        tables = pilot.app.screen.query(DataTable)
        if not any(t._require_update_dimensions or t._updated_cells for t in tables):
            return
        await pilot.pause(0.02)
