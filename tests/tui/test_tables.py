"""Keyed table updates: what a user sees stays right as rows come, go, change and reorder."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable, Static

from console.tui.widgets.tables import RowTable, show_text_table, sync_table


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = DataTable(id="t", cursor_type="row")
        table.add_columns("name", "value")
        yield table
        yield Static(id="panel")


def shown(table: DataTable) -> list[tuple[str, ...]]:
    return [tuple(str(cell) for cell in table.get_row(row.key)) for row in table.ordered_rows]


async def test_rows_follow_the_data_and_the_cursor_follows_its_key():
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(DataTable)
        sync_table(table, [("a", ("a", 1)), ("b", ("b", 2)), ("c", ("c", 3))])
        table.move_cursor(row=1)  # on "b"
        await pilot.pause()

        # "a" goes, "d" comes, "b" changes and moves to the end
        sync_table(table, [("c", ("c", 3)), ("d", ("d", 4)), ("b", ("b", 20))])
        await pilot.pause()
        assert shown(table) == [("c", "3"), ("d", "4"), ("b", "20")]
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "b"

        sync_table(table, [])
        assert shown(table) == []


async def test_cells_are_shown_literally_never_as_markup():
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(DataTable)
        hostile = '[/] [bold]x[/bold] [link="file:///etc"]y'
        sync_table(table, [("k", (hostile, "[red]"))])
        await pilot.pause()
        assert shown(table) == [(hostile, "[red]")]
        sync_table(table, [("k", (hostile, "[/]"))])  # an updated cell, too
        await pilot.pause()
        assert shown(table) == [(hostile, "[/]")]
        show_text_table(app.query_one("#panel", Static), ("a",), [(hostile,)])
        await pilot.pause()
        panel = app.query_one("#panel", Static)
        lines = [strip.text for strip in panel.render_lines(Region(0, 0, *panel.size))]
        assert any(hostile in line for line in lines)


async def test_columns_widen_and_narrow_with_their_widest_cell():
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(DataTable)
        rows = [(f"r{i}", (f"r{i}", "x")) for i in range(300)]
        sync_table(table, rows)
        await pilot.pause()
        value = list(table.columns.values())[1]
        assert value.content_width == len("value")
        sync_table(table, [*rows[:-1], ("r299", ("r299", "a much longer value"))])
        await pilot.pause()
        assert value.content_width == len("a much longer value")
        sync_table(table, rows)
        await pilot.pause()
        assert value.content_width == len("value")
        assert shown(table)[299] == ("r299", "x")


async def test_a_shared_first_cell_still_orders_rows():
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(DataTable)
        same = Text("same")
        sync_table(table, [("a", (same, 1)), ("b", (same, 2))])
        sync_table(table, [("b", (same, 2)), ("a", (same, 1))])
        await pilot.pause()
        assert shown(table) == [("same", "2"), ("same", "1")]


async def test_a_long_last_cell_is_cut_short_not_the_others():
    app = TableApp()
    async with app.run_test(size=(40, 20)) as pilot:
        panel = app.query_one("#panel", Static)
        show_text_table(
            panel,
            ("id", "status", "title"),
            [(17, "triggered", "SLOErrorBudgetBurn: fraud-scoring-latency: burning")],
        )
        await pilot.pause()
        lines = [strip.text for strip in panel.render_lines(Region(0, 0, *panel.size))]
        assert lines[1].split()[:2] == ["17", "triggered"] and "…" in lines[1]


async def test_columns_are_drawn_at_their_measured_width_after_an_early_frame():
    """A frame drawn before Textual measures new rows (idle comes late on a loaded machine)
    showed header-wide cells ("11:4", "aler") until the table next changed."""

    class Timeline(App[None]):
        CSS = "#t { width: 60; height: 8; }"

        def compose(self) -> ComposeResult:
            table = RowTable(id="t", cursor_type="row", zebra_stripes=True)
            table.add_columns("time", "what")
            yield table

    app = Timeline()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(RowTable)
        await pilot.pause()
        sync_table(table, [("1", ("11:40:00", "alert fired: FraudScoringLatency")), ("2", ("11:45:00", "x"))])
        app.screen._compositor.render_update(full=True)  # drawn before the idle measure
        for _ in range(3):
            await pilot.pause()
        lines = [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]
        assert lines[1].split() == ["11:40:00", "alert", "fired:", "FraudScoringLatency"]
