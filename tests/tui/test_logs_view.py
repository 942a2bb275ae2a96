"""The Logs view by keys: words find warnings, Enter shows every field, `l` lands on the start."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from textual.widgets import DataTable, Static

from console.store import Store
from console.store.ingest import LOG_SCHEMA, ingest_logs
from console.tui.app import OncallApp
from console.tui.screens.detail import AlertDetailScreen
from console.tui.screens.log_line import LogLineScreen
from tests.tui.test_console import command, rows, settle


def add_line(root: Path, ts: datetime, level: str, message: str) -> None:
    row = {
        "ts": ts,
        "source": "t",
        "service": "fraud-scoring",
        "level": level,
        "message": message,
        "attributes": json.dumps({"disk": "sda1"}),
        "raw": message,
        "parse_error": None,
        "origin": "extra.log",
        "line_offset": 1,
    }
    with Store.open(root / "oncall.duckdb") as store:
        ingest_logs(store, pa.Table.from_pylist([row], schema=LOG_SCHEMA))


async def test_slash_warning_finds_the_warnings_and_the_messages_that_say_it(
    workspace: Path, session_for
) -> None:
    add_line(workspace, datetime(2026, 11, 20, 11, 59), "info", "disk usage warning: 91% full")
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "logs")
        await pilot.press("slash", *"warning", "enter")
        await settle(pilot)
        shown = rows(app, "#logs-table")
        assert shown[0][3] == "disk usage warning: 91% full"
        assert {r[1] for r in shown[1:]} == {"warning"}
        status = app.query_one("#logs-status", Static).render().plain
        store = app.session.store
        expected = store.query("SELECT count(*) FROM logs WHERE level = 'warning'")[1][0][0] + 1
        assert status.startswith(f"{expected:,} lines match warning")


async def test_enter_opens_the_line_with_every_field(workspace: Path, session_for) -> None:
    add_line(workspace, datetime(2026, 11, 20, 12, 0, 5), "info", "card \x1b[2J declined")
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "logs")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LogLineScreen)
        text = app.screen.query_one("#log-line-fields", Static).render().plain
        for name in ("ts", "level", "service", "message", "attributes.disk", "origin", "line_offset", "raw"):
            assert f"\n{name} " in f"\n{text}"
        assert "card \\x1b[2J declined" in text and "\x1b" not in text
        await pilot.press("escape")
        assert not isinstance(app.screen, LogLineScreen)


async def test_l_from_an_alert_lands_on_its_start_line(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "alerts")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AlertDetailScreen)
        await pilot.press("l")
        await settle(pilot)
        table = app.query_one("#logs-table", DataTable)
        at_cursor = [str(c) for c in table.get_row_at(table.cursor_row)]
        store = app.session.store
        first = store.query(
            "SELECT min(ts) FROM logs WHERE service = 'fraud-scoring' AND ts >= TIMESTAMP '2026-11-20 11:40'"
        )[1][0][0]
        assert at_cursor[0] == first.strftime("%Y-%m-%d %H:%M:%S")
        below = [str(c) for c in table.get_row_at(table.cursor_row + 1)]
        assert below[0] < "2026-11-20 11:40:00"  # the line before it, older, just under it
        assert (
            "on the first line at or after 2026-11-20 11:40:00"
            in app.query_one("#logs-status", Static).render().plain
        )
