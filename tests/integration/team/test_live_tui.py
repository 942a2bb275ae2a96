"""Live in the console: an ack made in alice's console shows in bob's Overview and incident screen
within 2 s, with no key pressed and no periodic refresh (refresh_seconds=0)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from console.incidents.lifecycle import acknowledge, add_note, declare
from console.runtime.session import Session
from console.tui.app import OncallApp
from console.tui.screens.incident import IncidentScreen
from tests.integration.team.test_live import LIVE, T0, dsn, listening, sessions

pytestmark = pytest.mark.integration
__all__ = ["dsn", "sessions"]  # test_live's fixtures, used here too


def text_of(root, selector: str) -> str:
    """The text a widget puts on the screen, line after line."""
    widget = root.query_one(selector, Static)
    return "".join(widget.render_line(y).text for y in range(widget.size.height))


async def until(pilot, seen: Callable[[], bool], timeout: float) -> float:
    """Seconds until `seen()` holds, letting the app run (fails after `timeout`)."""
    start = time.monotonic()
    while not seen():
        assert time.monotonic() - start < timeout, f"not shown within {timeout} s"
        await pilot.pause(0.02)
    return time.monotonic() - start


async def test_an_ack_in_one_console_shows_in_the_others_screens_within_2_s(
    sessions: tuple[Session, Session],
) -> None:
    alice, bob = sessions
    incident = declare(alice.store, "fraud p99 over SLO", now=T0, actor="alice", severity="SEV2")
    listening(bob)
    app = OncallApp(bob, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "triggered" in text_of(app.screen, "#overview-incidents"), 10)
        screen = IncidentScreen(bob, incident.id)
        await app.push_screen(screen)
        await until(pilot, lambda: "TRIGGERED" in text_of(screen, "#inc-head"), 10)
        assert app.screen is screen

        acknowledge(alice.store, incident.id, now=T0 + timedelta(minutes=1), actor="alice")
        took = await until(pilot, lambda: "ACKNOWLEDGED" in text_of(screen, "#inc-head"), LIVE)
        assert took < LIVE

        add_note(alice.store, incident.id, "rolling back to v3", now=T0 + timedelta(minutes=2), actor="alice")
        await until(pilot, lambda: "rolling back to v3" in str(_timeline(screen)), LIVE)

        screen.dismiss()
        await pilot.pause()
        # The Overview under it was read again too.
        assert "acknowledged" in text_of(app.screen, "#overview-incidents")


async def test_the_overview_shows_an_incident_declared_elsewhere_within_2_s(
    sessions: tuple[Session, Session],
) -> None:
    alice, bob = sessions
    listening(bob)
    app = OncallApp(bob, refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "no open incidents" in text_of(app.screen, "#overview-incidents"), 10)
        declare(alice.store, "drift on amount", now=T0, actor="alice", severity="SEV3")
        await until(pilot, lambda: "drift on amount" in text_of(app.screen, "#overview-incidents"), LIVE)


async def test_a_console_without_team_listens_to_nothing(tmp_path: Path) -> None:
    from console.config.workspace import load_workspace

    root = tmp_path / "local"
    root.mkdir()
    (root / "oncall.yaml").write_text("store: oncall.duckdb\n")
    session = Session(load_workspace(root / "oncall.yaml"), clock=lambda: T0, run_engine=False, listen=False)
    try:
        app = OncallApp(session, refresh_seconds=0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert session.live is None and app._unsubscribe_live is None
    finally:
        session.close()


def _timeline(screen: IncidentScreen) -> list[list[str]]:
    from textual.widgets import DataTable

    table = screen.query_one("#inc-timeline", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
