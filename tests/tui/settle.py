"""Waiting until the console has drawn: workers done, every table has measured its columns,
and the screen no longer changes."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import DataTable, Input


def _busy(app) -> bool:
    """A refresh still running, a message still queued, or a table (on any screen, a modal's
    background too) unmeasured."""
    if any(not worker.is_finished for worker in app.workers) or _pending(app):
        return True
    return any(
        t._require_update_dimensions or t._updated_cells or t._new_rows or _unmeasured(t)
        for screen in app.screen_stack
        for t in screen.query(DataTable)
    )


def _pending(app) -> bool:
    """A message not yet handled anywhere: a key's consequence (a table's RowSelected that opens
    a screen) or a draw posted from a worker would otherwise come after the quiet checks."""
    nodes = [app, *(node for screen in app.screen_stack for node in screen.walk_children(with_self=True))]
    return any(node._message_queue.qsize() for node in nodes)


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


def _still_cursors(app) -> None:
    """A focused input's cursor shown and not blinking: a blink would make two frames differ."""
    for screen in app.screen_stack:
        for field in screen.query(Input):
            if field.cursor_blink:
                field.cursor_blink = False
                field._cursor_visible = True


async def settled(pilot) -> None:
    """Quiet three checks in a row, each drawing the same screen as the one before: a refresh
    posted late (its messages still queued when the worker finished), a table measured only
    when idle, or a repaint still to come would otherwise make a snapshot flaky."""
    quiet, frame = 0, None
    for _ in range(500):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        _still_cursors(pilot.app)
        busy = _busy(pilot.app)
        drawn = pilot.app.export_screenshot()
        quiet = 0 if busy or drawn != frame else quiet + 1
        frame = drawn
        if quiet >= 3:
            return
        await pilot.pause(0.02)
    raise AssertionError("the console did not settle within 10 s")
