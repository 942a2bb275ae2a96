"""The console (Pilot, fixed size) while the team database is down: the banner says so, the
Overview keeps the last known incidents, and both clear up when Postgres is back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from textual.geometry import Region
from textual.widgets import Static

from console.config.team import TeamConfig
from console.config.workspace import load_workspace
from console.incidents.lifecycle import acknowledge, declare
from console.runtime.session import Session
from console.team.backend import TeamBackend
from console.tui.app import OncallApp
from console.tui.widgets.banner import Banner
from tests.integration.team.conftest import PASSWORD, team_workspace
from tests.postgres import Postgres

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 9, 30, 0)
SIZE = (120, 40)


def banner(app: OncallApp) -> list[str]:
    widget = app.query_one("#banner", Banner)
    return str(widget.render()).splitlines() if widget.display else []


def incidents_panel(app: OncallApp) -> str:
    """The Overview's incidents panel as drawn on screen."""
    panel = app.query_one("#overview-incidents", Static)
    return "\n".join(strip.text for strip in panel.render_lines(Region(0, 0, *panel.size)))


async def refresh(pilot) -> None:
    await pilot.press("r")
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.mark.parametrize("run_engine", [False, True], ids=["reader", "engine"])
async def test_the_banner_says_the_team_database_is_down_and_clears(
    pg: Postgres, tmp_path: Path, run_engine: bool
) -> None:
    ws = team_workspace(tmp_path / "ws", pg.database(password=PASSWORD))
    TeamBackend.from_config(TeamConfig(postgres=SecretStr(ws.dsn)), ".").migrate(NOW)
    started = time.monotonic()  # the console's clock moves: reads "as of now" change each refresh
    session = Session(
        load_workspace(ws.path),
        clock=lambda: NOW + timedelta(seconds=time.monotonic() - started),
        run_engine=run_engine,
        listen=False,
    )
    incident = declare(session.store, "fraud p99 latency over SLO", now=NOW, actor="alice", severity="SEV2")
    acknowledge(session.store, incident.id, now=NOW + timedelta(minutes=1), actor="alice")
    app = OncallApp(session, refresh_seconds=0)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await refresh(pilot)
            assert banner(app) == []
            assert "fraud p99 latency over SLO" in incidents_panel(app)
            with pg.down():
                await refresh(pilot)
                (line,) = banner(app)
                assert line.startswith(f"team database {ws.shown} unreachable since ")
                assert line.endswith(" UTC, read-only; metrics still live")
                assert "shared state as of " in line
                assert "fraud p99 latency over SLO" in incidents_panel(app)  # the last known state
                assert "acknowledged" in incidents_panel(app)
                assert app.query_one("#banner").region.height >= 1
            deadline = time.monotonic() + 10
            while banner(app) and time.monotonic() < deadline:
                await refresh(pilot)
                await pilot.pause(0.2)
            assert banner(app) == []
            assert "fraud p99 latency over SLO" in incidents_panel(app)
    finally:
        session.close()
