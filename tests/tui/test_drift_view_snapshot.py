"""The Drift view at 120×40, fixed clock and seed: amount drifted, its histogram shown (review the HTML report on change)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from settle import settled
from test_drift_view import NOW, SIZE, degrade_since

from console.tui.app import OncallApp


def test_drift_view(workspace: Path, session_for, snap_compare) -> None:
    degrade_since(workspace, NOW - timedelta(minutes=15))
    app = OncallApp(session_for(workspace), refresh_seconds=0)

    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("colon", *"drift", "enter")
        await settled(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
