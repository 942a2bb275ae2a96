"""Waiting until the console has drawn: workers done, and every table has measured its columns."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import DataTable


def _busy(app) -> bool:
    """A refresh still running, or a table (on any screen, a modal's background too) unmeasured."""
    if any(not worker.is_finished for worker in app.workers):
        return True
    return any(
        t._require_update_dimensions or t._updated_cells or t._new_rows or _unmeasured(t)
        for screen in app.screen_stack
        for t in screen.query(DataTable)
    )


def _unmeasured(table: DataTable) -> bool:
    """An auto-width column narrower than its widest cell: its measure is still to come (on a
    loaded machine the idle callback that measures new rows can run after the workers finish)."""
    for key, column in table.columns.items():
        if not column.auto_width or not table.row_count:
            continue
        widest = max((cell_len(str(cell)) for cell in table.get_column(key)), default=0)
        if column.content_width < widest:
            return True
    return False


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
