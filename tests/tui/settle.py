"""Waiting until the console has drawn: workers done, and every table has measured its columns."""

from __future__ import annotations

from textual.widgets import DataTable


def _busy(app) -> bool:
    """A refresh still running, or a table (on any screen, a modal's background too) unmeasured."""
    if any(not worker.is_finished for worker in app.workers):
        return True
    return any(
        t._require_update_dimensions or t._updated_cells or t._new_rows
        for screen in app.screen_stack
        for t in screen.query(DataTable)
    )


async def settled(pilot) -> None:
    """Quiet three checks in a row: a refresh posted late (its messages still queued when the
    worker finished) or a table measured only when idle would otherwise make a snapshot flaky."""
    quiet = 0
    for _ in range(500):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        quiet = 0 if _busy(pilot.app) else quiet + 1
        if quiet >= 3:
            return
        await pilot.pause(0.02)
    raise AssertionError("the console did not settle within 10 s")
