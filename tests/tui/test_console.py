"""The console driven by keys, as an on-call engineer would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from console.tui.app import OncallApp
from console.tui.screens.detail import AlertDetailScreen
from console.tui.screens.modals import HelpScreen, PlanModal
from console.tui.views import LogsView, View


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def command(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(pilot)


def rows(app, table_id: str) -> list[list[str]]:
    table = app.query_one(table_id, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_every_view_by_keys(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.view.view_name == "overview"
        assert [r[0] for r in rows(app, "#slo-board")] == [
            "fraud-scoring-availability",
            "fraud-scoring-latency",
        ]
        assert rows(app, "#overview-alerts")[0][:2] == ["firing", "FraudScoringLatency"]
        for name in ("alerts", "logs", "metrics", "models", "sql"):
            await command(pilot, name)
            assert app.view.view_name == name
            assert app.query_one("#status", Static).render().plain.startswith(app.view.view_title)
        assert rows(app, "#sql-table")[0][0] == "info"
        await command(pilot, "mo")
        assert [r[:3] for r in rows(app, "#models-table")] == [
            ["fraud-detector", "3", "champion"],
            ["fraud-detector", "2", ""],
            ["fraud-detector", "1", ""],
        ]
        await pilot.press("escape")
        await settle(pilot)
        assert app.view.view_name == "overview"
        await command(pilot, "nonsense")
        assert app.view.view_name == "overview"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_slash_filters_the_view(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"latency", "enter")
        await pilot.pause()
        assert [r[0] for r in rows(app, "#slo-board")] == ["fraud-scoring-latency"]
        assert "filter: latency" in app.query_one("#status", Static).render().plain
        await pilot.press("escape")
        await pilot.pause()
        assert len(rows(app, "#slo-board")) == 2
        await command(pilot, "logs")
        await pilot.press("slash", *"level=error", "enter")
        await settle(pilot)
        levels = {r[1] for r in rows(app, "#logs-table")}
        assert levels == {"error"}
        await pilot.press("slash", *"/timeout|NaN/", "enter")
        await settle(pilot)
        assert all(("timeout" in r[3] or "NaN" in r[3]) for r in rows(app, "#logs-table"))
        await pilot.press("slash", *"/([/", "enter")
        await settle(pilot)
        assert (
            "missing" in app.query_one("#logs-status", Static).render().plain.lower()
            or app.query_one("#logs-status", Static).render().plain != ""
        )


async def test_alert_to_logs_drill_down(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "alerts")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AlertDetailScreen)
        head = app.screen.query_one("#alert-head", Static).render().plain
        assert "FraudScoringLatency" in head and "FIRING" in head
        changes = rows(app.screen, "#alert-changes")
        assert changes and changes[0][1] == "alias_move"  # v3 became champion a day before
        assert app.screen.query_one("#alert-logs", DataTable).row_count > 0
        await pilot.press("l")
        await settle(pilot)
        logs = app.query_one(LogsView)
        assert app.view is logs
        assert logs.start_at == datetime(2026, 11, 20, 11, 40)
        assert logs.filter_text == "service=fraud-scoring"
        newest = rows(app, "#logs-table")[0][0]
        assert newest <= "2026-11-20 11:55:00"  # opens at the alert's start, not the tail
        await pilot.press("t")
        await settle(pilot)
        assert rows(app, "#logs-table")[0][0] > newest


async def test_rollback_through_the_plan_modal(workspace: Path, session_for) -> None:
    session = session_for(workspace)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "models")
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, PlanModal)
        assert "v3" in app.screen.plan_text and "v2" in app.screen.plan_text
        await pilot.click("#apply")  # no reason: refused, still open
        await pilot.pause()
        assert isinstance(app.screen, PlanModal)
        assert "reason is required" in app.screen.query_one("#error").render().plain
        await pilot.click("#reason")
        await pilot.press(*"v3 latency regression", "tab", *"fraud-detector", "enter")
        await settle(pilot)
        await settle(pilot)
        assert not isinstance(app.screen, PlanModal), app.screen.query_one("#error").render().plain
    assert session.store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1] == [("2",)]
    audit = session.store.query("SELECT phase, reason FROM audit WHERE action = 'rollback' ORDER BY id")[1]
    assert audit == [("before", "v3 latency regression"), ("after", "v3 latency regression")]


async def test_read_only_workspace_disables_rollback(workspace: Path, session_for) -> None:
    session = session_for(workspace, allow_actions=False)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "models")
        assert "read-only" in app.query_one("#models-status", Static).render().plain
        assert app.check_action("rollback", ()) is None  # shown but disabled
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, PlanModal)
    assert session.store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1] == [("3",)]


async def test_the_first_frame_shows_what_was_read_ahead(workspace: Path, session_for) -> None:
    """`oncall console` reads the Overview while the UI starts; a failed read is read again."""
    from console.screens.overview import session_overview

    session = session_for(workspace)
    reads = []

    def read(s):
        reads.append(s)
        data = session_overview(s)
        return {**data, "alerts": data["alerts"][:0]}  # marked: no alerts in this copy

    session.read_ahead("overview", read)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert reads == [session]
        assert len(rows(app, "#slo-board")) == 2
        assert rows(app, "#overview-alerts") == []  # drawn from the read-ahead copy
        await pilot.press("r")  # a refresh reads the store itself
        await settle(pilot)
        assert rows(app, "#overview-alerts")[0][:2] == ["firing", "FraudScoringLatency"]

    broken = session_for(workspace)
    broken.read_ahead("overview", lambda s: 1 / 0)
    app = OncallApp(broken, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(rows(app, "#slo-board")) == 2
        assert rows(app, "#overview-alerts")[0][:2] == ["firing", "FraudScoringLatency"]
        assert any(
            n.severity == "error" and "reading overview at start failed: ZeroDivisionError" in n.message
            for n in app._notifications
        )


async def test_views_are_mounted_when_first_shown(workspace: Path, session_for) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert [v.view_name for v in app.query(View)] == ["overview"]  # a fast first frame
        app.show_view("alerts")
        app.show_view("alerts")  # asked twice before it has mounted
        await settle(pilot)
        assert app.view.view_name == "alerts"
        assert rows(app, "#alerts-table")[0][:2] == ["firing", "FraudScoringLatency"]
        await command(pilot, "overview")
        await command(pilot, "alerts")  # shown again: the same widgets
        assert [v.view_name for v in app.query(View)] == ["overview", "alerts"]


async def test_a_second_rollback_from_models_does_not_propose_the_marked_version(
    workspace: Path, session_for
) -> None:
    session = session_for(workspace)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "models")
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, PlanModal)
        await pilot.click("#reason")
        await pilot.press(*"v3 latency regression", "tab", *"fraud-detector", "enter")
        await settle(pilot)
        await settle(pilot)
        assert not isinstance(app.screen, PlanModal)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, PlanModal)
        text = app.screen.plan_text
        assert "v2 → v3" not in text and "v2 → v1" in text, text
        assert "not proposed: v3 is marked bad: rolled away from" in text
        assert "(v3 latency regression)" in text
        await pilot.press("escape")
        await settle(pilot)
        marked = {r[1]: r[3] for r in rows(app, "#models-table")}
        assert marked == {"3": "bad", "2": "", "1": ""}  # the mark, where the engineer chooses
    assert session.store.query("SELECT version FROM version_marks WHERE cleared_at IS NULL")[1] == [("3",)]


async def test_promoting_the_marked_version_from_models_is_refused_with_the_mark(
    workspace: Path, session_for
) -> None:
    from console.actions import ActionRefused, Promote

    session = session_for(workspace)
    app = OncallApp(session, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "models")
        await pilot.press("R")
        await settle(pilot)
        await pilot.click("#reason")
        await pilot.press(*"v3 latency regression", "tab", *"fraud-detector", "enter")
        await settle(pilot)
        await settle(pilot)
    action = Promote(session.action_env(), "fraud-detector", "3")
    plan = action.plan()
    assert plan.lines[0].startswith("v3 is marked bad: rolled away from")
    with pytest.raises(ActionRefused, match="add --force"):
        action.apply(plan, reason="again", typed_name="fraud-detector")
    assert session.store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1] == [("2",)]
