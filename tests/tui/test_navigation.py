"""Finding your way at 3 a.m. (issue #17): Enter on the Overview opens the most urgent thing,
the palette finds every view and key, a cut cell can be read whole, the layout holds."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable

from console.incidents import lifecycle as incidents
from console.store.ingest import canonical_labels
from console.tui.app import OncallApp
from console.tui.screens.detail import AlertDetailScreen
from console.tui.screens.incident import IncidentScreen
from console.tui.screens.modals import PlanModal
from console.tui.widgets.tables import WholeRowScreen
from tests.tui.conftest import NOW
from tests.tui.settle import settled


def _alert(session, fingerprint: str, name: str, state: str, minutes_ago: int, severity: str) -> None:
    labels = {"alertname": name, "service": "fraud-scoring", "severity": severity}
    since = NOW - timedelta(minutes=minutes_ago)
    with session.store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, state, active_since,"
            " fired_at, last_eval, value) VALUES (?, 'rule', ?, ?, ?, ?, ?, ?, ?, ?, 1.0)",
            [fingerprint, name, name, canonical_labels(labels), json.dumps({}), state, since, since, NOW],
        )


def _more_alerts(session) -> None:
    """Beside the page (f1, firing 20 min): an older warning, a newer info, a newer pending page."""
    _alert(session, "drift", "DataDrift", "firing", 600, "warning")
    _alert(session, "info", "FeatureNulls", "firing", 1, "info")
    _alert(session, "soon", "ErrorBudgetSoon", "pending", 0, "page")


def _shown(widget) -> str:
    """The text a widget puts on the screen, line after line."""
    return "".join(widget.render_line(y).text for y in range(widget.size.height))


def _cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_enter_on_the_overview_opens_the_newest_open_incident(workspace: Path, session_for) -> None:
    session = session_for(workspace)
    _more_alerts(session)
    older = incidents.declare(session.store, "older outage", now=NOW - timedelta(hours=2), actor="t")
    newer = incidents.declare(
        session.store, "fraud-scoring latency", now=NOW - timedelta(minutes=5), actor="t"
    )
    healed = incidents.declare(session.store, "healed already", now=NOW - timedelta(minutes=2), actor="t")
    incidents.acknowledge(session.store, healed.id, now=NOW - timedelta(minutes=1), actor="t")
    incidents.resolve(session.store, healed.id, now=NOW, actor="t")  # newer, but not open
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert app.focused is not None and app.focused.id == "slo-board"  # where the console starts
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, IncidentScreen)
        assert app.screen.incident_id == newer.id != older.id
        await pilot.press("escape")
        await settled(pilot)
        await pilot.press("tab")  # the alerts panel: Enter opens its selected row, the top one
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, AlertDetailScreen)
        assert app.screen.fingerprint == "f1"


async def test_enter_without_an_incident_opens_the_most_severe_firing_alert(
    workspace: Path, session_for
) -> None:
    session = session_for(workspace)
    _more_alerts(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        table = app.query_one("#overview-alerts", DataTable)
        assert [r[:2] for r in _cells(table)] == [
            ["firing", "FraudScoringLatency"],  # page, though not the newest
            ["firing", "DataDrift"],  # warning, though the oldest
            ["firing", "FeatureNulls"],  # info, though the newest
            ["pending", "ErrorBudgetSoon"],
        ]
        assert table.cursor_row == 0
        await pilot.press("enter")  # focus on the SLO board
        await settled(pilot)
        assert isinstance(app.screen, AlertDetailScreen)
        assert app.screen.fingerprint == "f1"


async def test_the_alerts_cursor_follows_the_top_until_moved(workspace: Path, session_for) -> None:
    session = session_for(workspace)
    _more_alerts(session)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"alerts", "enter")
        await settled(pilot)
        table = app.query_one("#alerts-table", DataTable)
        assert table.cursor_row == 0 and _cells(table)[0][1] == "FraudScoringLatency"
        _alert(session, "new-page", "ModelErrors", "firing", 1, "page")  # pages after the first draw
        await pilot.press("r")
        await settled(pilot)
        assert _cells(table)[0][1] == "ModelErrors" and table.cursor_row == 0  # on the new page
        await pilot.press("down")
        _alert(session, "newer-page", "ScoreNaN", "firing", 0, "page")
        await pilot.press("r")
        await settled(pilot)
        assert _cells(table)[0][1] == "ScoreNaN"
        assert _cells(table)[table.cursor_row][1] == "FraudScoringLatency"  # moved: it stays put
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, AlertDetailScreen) and app.screen.fingerprint == "f1"


async def test_the_focused_panel_is_marked(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        panel = app.query_one("#overview-alerts").parent
        assert panel is not None
        unfocused = panel.styles.border_top[1]
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.query_one("#overview-alerts")
        assert panel.styles.border_top[1] != unfocused  # the accent, not the quiet border


async def _palette(pilot, text: str) -> list[str]:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*text)
    for _ in range(50):
        await pilot.pause(0.05)
        palette = pilot.app.screen
        assert isinstance(palette, CommandPalette)
        options = palette.query_one(CommandList)
        if options.option_count:
            break
    return [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)]


async def test_the_palette_finds_rollback_and_running_it_plans_one(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        hits = await _palette(pilot, "roll")
        assert hits[0] == "action: Rollback (R)", hits
        await pilot.press("enter")
        await settled(pilot)
        await settled(pilot)
        assert app.view.view_name == "models"  # where a rollback acts
        assert isinstance(app.screen, PlanModal)
        assert "v3" in app.screen.plan_text and "v2" in app.screen.plan_text


async def test_the_palette_over_an_incident_lists_its_keys(workspace: Path, session_for) -> None:
    session = session_for(workspace)
    incidents.declare(session.store, "fraud-scoring latency", now=NOW - timedelta(minutes=5), actor="t")
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, IncidentScreen)
        hits = await _palette(pilot, "ack")
        assert "action: Ack (a)" in hits
        assert hits.count("action: Back (esc)") == 1  # the screen's, not the console's as well
        await pilot.press(*["down"] * hits.index("action: Ack (a)"), "enter")  # the first is highlighted
        await settled(pilot)
        assert isinstance(app.screen, IncidentScreen)
    status = session.store.query("SELECT status FROM incidents")[1]
    assert status == [("acknowledged",)]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("alerts", "view: Alerts (:alerts)"),
        ("silence", "action: Silence (s)"),
        ("degrade", "action: Degrade now (demo) (D)"),
        ("filter", "action: Filter the view (/)"),
        ("quit", "command: Quit (:quit)"),
    ],
)
async def test_the_palette_lists_views_commands_and_keys(
    workspace: Path, session_for, typed: str, expected: str
) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert expected in await _palette(pilot, typed)


async def test_a_cell_cut_at_the_edge_can_be_read_whole(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    long = "x" * 150 + "-the-end"
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"sql", "enter")
        await settled(pilot)
        await pilot.press("e", "ctrl+a", "ctrl+k", *f"SELECT 'short' AS a, '{long}' AS b", "enter")
        await settled(pilot)
        await pilot.press("escape")  # leaves the query for the table
        table = app.query_one("#sql-table", DataTable)
        assert app.focused is table
        assert table.virtual_size.width > table.size.width  # the cell runs past the edge
        assert "the-end" not in _shown(table)
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, WholeRowScreen)
        assert app.screen.text == f"a: short\nb: {long}"
        assert long in _shown(app.screen.query_one("#whole-row")).replace(" ", "")  # folded, all there
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WholeRowScreen)


PANELS = ("#slo-board", "#overview-alerts", "#overview-incidents", "#overview-collectors", "Footer")


@pytest.mark.parametrize("size", [(120, 40), (200, 50)])
async def test_the_overview_layout_holds(workspace: Path, session_for, size: tuple[int, int]) -> None:
    session = session_for(workspace)
    _more_alerts(session)
    incidents.declare(session.store, "fraud-scoring latency", now=NOW - timedelta(minutes=5), actor="t")
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=size) as pilot:
        await settled(pilot)
        screen = app.screen.region
        for selector in PANELS:  # every panel on screen, none pushed off or squeezed to nothing
            region = app.query_one(selector).region
            assert region.height > 0 and screen.contains_region(region), (selector, region)
        board = app.query_one("#slo-board", DataTable)
        assert board.row_count == 2 and board.region.height >= board.row_count + 1  # header and rows
        alerts = _shown(app.query_one("#overview-alerts"))
        for name in ("FraudScoringLatency", "DataDrift", "FeatureNulls", "ErrorBudgetSoon", "11:40:00"):
            assert name in alerts  # state, name and since of every alert, whole
        assert "fraud-scoring latency" in _shown(app.query_one("#overview-incidents"))
        assert "demo" in _shown(app.query_one("#overview-collectors"))
