"""The Overview's SLO board at 120x40: burns beside page thresholds, state from the alerts."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable

from console.store import Store
from console.tui.app import OncallApp
from tests.tui.test_console import rows, settle


def put_slo_alert(root: Path, slo: str, severity: str, state: str) -> None:
    with Store.open(root / "oncall.duckdb") as store, store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, state) VALUES (?, 'slo', 'r', ?, ?, ?)",
            [
                f"{slo}-{severity}",
                "SLOErrorBudgetBurn",
                json.dumps({"slo": slo, "severity": severity}),
                state,
            ],
        )


async def test_board_shows_burns_thresholds_and_the_alert_state(workspace: Path, session_for) -> None:
    put_slo_alert(workspace, "fraud-scoring-latency", "page", "firing")
    put_slo_alert(workspace, "fraud-scoring-availability", "page", "pending")
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        board = {r[0]: r for r in rows(app, "#slo-board")}
        assert board["fraud-scoring-latency"][6] == "PAGE"
        assert board["fraud-scoring-availability"][6] == "pending"
        assert board["fraud-scoring-latency"][4] == "5m 0.0× 1h 0.0× /14.4 · 6h 0.0× /6"
        assert board["fraud-scoring-latency"][5] == "not at risk"
        assert board["fraud-scoring-latency"][3].endswith("% 1d/30d")  # the demo's one day of data
        table = app.query_one("#slo-board", DataTable)
        assert table.virtual_size.width <= table.size.width  # every column whole at 120 columns
