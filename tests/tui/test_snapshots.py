"""Each console view at 120×40 with a fixed clock and seed (review the HTML report on change)."""

from __future__ import annotations

from pathlib import Path

import pytest
from settle import settled

from console.tui.app import OncallApp

SIZE = (120, 40)


def goto(view: str, *keys: str):
    async def run_before(pilot) -> None:
        await settled(pilot)
        if view != "overview":
            await pilot.press("colon", *view, "enter")
            await settled(pilot)
        if keys:
            await pilot.press(*keys)
            await settled(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("view", ["overview", "alerts", "logs", "metrics", "models", "sql"])
def test_view(view: str, workspace: Path, session_for, snap_compare) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto(view))


def test_alert_detail(workspace: Path, session_for, snap_compare) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("alerts", "enter"))


def test_rollback_plan_modal(workspace: Path, session_for, snap_compare) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("models", "R"))


def test_help(workspace: Path, session_for, snap_compare) -> None:
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("overview", "question_mark"))


def test_read_only_models(workspace: Path, session_for, snap_compare) -> None:
    app = OncallApp(session_for(workspace, allow_actions=False), refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=goto("models"))


WIDE = (200, 50)


@pytest.mark.parametrize(
    ("screen", "keys"),
    [("overview", ()), ("logs", ()), ("alerts", ("enter",))],
    ids=["overview", "logs", "alert"],
)
def test_wide(screen: str, keys: tuple[str, ...], workspace: Path, session_for, snap_compare) -> None:
    """The Overview, the Logs view and the alert detail at 200×50: wider cells, nothing cut."""
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    assert snap_compare(app, terminal_size=WIDE, run_before=goto(screen, *keys))
