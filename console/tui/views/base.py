"""A view: one screenful of the console, loaded in a worker thread and drawn on the UI thread.

A view loads its data in a worker thread (`load`, headless calls only) and draws it on
the UI thread (`draw`); the `/` filter narrows what is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual.containers import Vertical
from textual.widgets import DataTable, Input

from console.tui.widgets.banner import ReadError
from console.tui.widgets.tables import RowTable

if TYPE_CHECKING:
    from console.runtime.session import Session

SPARK = "▁▂▃▄▅▆▇█"


def spark_text(values: Sequence[float | None], width: int = 12) -> str:
    shown = [x for x in values[-width:] if x is not None]
    if not shown:
        return ""
    top = max(max(shown), 1e-9)
    return "".join(SPARK[min(len(SPARK) - 1, int(x / top * (len(SPARK) - 1)))] for x in shown)


class View(Vertical):
    """One screenful of the console."""

    view_name: ClassVar[str] = ""
    view_title: ClassVar[str] = ""
    help_lines: ClassVar[list[tuple[str, str]]] = []

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.view_name}", classes="view")
        self.filter_text = ""
        self.data: Any = None
        self.drawn_at: datetime | None = None  # when the data drawn last was read (the session's clock)
        self.read_error: ReadError | None = None

    def load(self, session: Session) -> Any:
        raise NotImplementedError

    def draw(self, data: Any) -> None:
        raise NotImplementedError

    def show_read_error(self, text: str) -> None:
        """Say above the view's widgets why its data could not be read; "" hides it."""
        if self.read_error is None:
            if not text:
                return
            self.read_error = ReadError(classes="read-error")
            self.mount(self.read_error, before=0)
        self.read_error.show_error(text)

    def redraw(self) -> None:
        if self.data is not None:
            self.draw(self.data)

    def action_edit(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()


def data_table(table_id: str, *columns: str) -> DataTable[Any]:
    """A view's row table: the cursor on whole rows, zebra-striped."""
    table: DataTable[Any] = RowTable(id=table_id, cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    return table
