"""The Drift view: the demo's amount drifting, the histogram of the chosen column, "no data" states."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import DataTable, Static

from collectors.demo_predictions import ingest_predictions, simulate_predictions
from console.config.workspace import load_workspace
from console.drift.step import DriftCollector, DriftOptions
from console.store import Store
from console.tui.app import OncallApp

NOW = datetime(2026, 11, 20, 12, 0)
STEP_S = 15
SIZE = (120, 40)


def degrade_since(root: Path, since: datetime) -> None:
    """Replace the demo's records after `since` by degraded ones, and record drift every 5 minutes of the last hour."""
    first = int((since - datetime(1970, 1, 1)).total_seconds() // STEP_S) + 1
    last = int((NOW - datetime(1970, 1, 1)).total_seconds() // STEP_S)
    steps = last - first + 1
    workspace = load_workspace(root / "oncall.yaml")
    source = next(s for s in workspace.config.sources if s.kind == "drift")
    with Store.open(root / "oncall.duckdb") as store:
        with store.transaction() as cur:
            cur.execute("DELETE FROM predictions WHERE ts > ?", [since])
            cur.execute("DELETE FROM prediction_labels WHERE id NOT IN (SELECT id FROM predictions)")
        ingest_predictions(
            store, simulate_predictions(first, steps, STEP_S, 7, ["3"] * steps, [True] * steps)
        )
        collector = DriftCollector(
            source.name, DriftOptions.model_validate(source.options), base_dir=str(root)
        )
        for minutes in range(60, -1, -5):
            collector.collect(store, NOW - timedelta(minutes=minutes))


def rows(app) -> list[list[str]]:
    table = app.query_one("#drift-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_drift(pilot) -> None:
    await settle(pilot)
    await pilot.press("colon", *"drift", "enter")
    await settle(pilot)


async def test_drifted_amount_its_trend_and_histogram(workspace: Path, session_for) -> None:
    degrade_since(workspace, NOW - timedelta(minutes=15))
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        assert app.view.view_name == "drift"
        table = rows(app)
        assert [r[1] for r in table] == [
            "amount",
            "merchant_category",
            "country",
            "hour",
            "device_age_days",
            "prediction",
        ]
        verdicts = {r[1]: r[6] for r in table}
        assert [c for c, v in verdicts.items() if v == "DRIFT"] == ["amount", "prediction"]
        amount = table[0]
        assert amount[3] == "wasserstein" and float(amount[4]) > 0.3 and amount[5] == "0.1"
        assert table[3][3] == "psi"  # the demo's per-column override
        assert amount[7] == "8640/1440"
        assert len(amount[8]) == 13 and amount[8][-1] == "█"  # 13 recorded scores, rising to the last
        status = app.query_one("#drift-status", Static).render().plain
        assert "fraud-detector · reference 11-20 05:00..11-20 11:00 (8,640 rows)" in status
        assert "dataset drift: no (2/6 columns" in status
        hist = app.query_one("#drift-hist", Static).render().plain
        assert hist.startswith("fraud-detector · amount") and hist.count("%") == 20
        await pilot.press("down", "down")
        await settle(pilot)
        hist = app.query_one("#drift-hist", Static).render().plain
        assert hist.startswith("fraud-detector · country") and "DE" in hist and "US" in hist
        await pilot.press("slash", *"DRIFT", "enter")
        await settle(pilot)
        assert [r[1] for r in rows(app)] == ["amount", "prediction"]


async def test_empty_current_window_says_no_data(workspace: Path, session_for) -> None:
    with Store.open(workspace / "oncall.duckdb") as store, store.transaction() as cur:
        cur.execute("DELETE FROM predictions WHERE ts > ?", [NOW - timedelta(minutes=50)])
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        assert {r[6] for r in rows(app)} == {"ok"}  # 10 minutes of records are still there
    with Store.open(workspace / "oncall.duckdb") as store, store.transaction() as cur:
        cur.execute("DELETE FROM predictions WHERE ts > ?", [NOW - timedelta(hours=1)])
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        assert {r[6] for r in rows(app)} == {"no data"}
        assert {r[4] for r in rows(app)} == {""} and {r[7] for r in rows(app)} == {"8640/0"}
        assert "dataset drift: no data" in app.query_one("#drift-status", Static).render().plain
        assert "current window: no data" in app.query_one("#drift-hist", Static).render().plain


async def test_no_records_at_all(workspace: Path, session_for) -> None:
    with Store.open(workspace / "oncall.duckdb") as store, store.transaction() as cur:
        cur.execute("DELETE FROM predictions")
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        assert rows(app) == []
        status = app.query_one("#drift-status", Static).render().plain
        assert "(0 rows) vs current" in status and "dataset drift: no data" in status
        assert app.query_one("#drift-hist", Static).render().plain == ""


async def test_a_column_whose_test_cannot_score_it_shows_failed(workspace: Path, session_for) -> None:
    """Fisher's exact needs two categories; merchant_category has more: "failed", never "no data"."""
    config = workspace / "oncall.yaml"
    text = config.read_text()
    assert "methods: {hour: psi}" in text
    config.write_text(
        text.replace("methods: {hour: psi}", "methods: {hour: psi, merchant_category: fisher_exact}")
    )
    app = OncallApp(session_for(workspace), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_drift(pilot)
        verdicts = {r[1]: r[6] for r in rows(app)}
        assert verdicts["merchant_category"] == "failed"
        assert verdicts["amount"] in {"ok", "DRIFT"}
