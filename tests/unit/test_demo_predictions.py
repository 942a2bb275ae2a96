"""The demo's prediction records: deterministic, `amount` shifts only while degraded, labels arrive later."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np

from collectors.demo import seed_demo
from collectors.demo_predictions import FEATURES, PER_STEP, simulate_predictions
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0)


def amounts(table) -> np.ndarray:
    return np.array([json.loads(f)["amount"] for f in table.column("features").to_pylist()])


def test_same_seed_same_records_and_the_fields_a_model_logs() -> None:
    first = simulate_predictions(100, 40, 15, 7, ["3"] * 40, [False] * 40)
    assert first.equals(simulate_predictions(100, 40, 15, 7, ["3"] * 40, [False] * 40))
    assert not first.equals(simulate_predictions(100, 40, 15, 8, ["3"] * 40, [False] * 40))
    assert first.num_rows == 40 * PER_STEP
    row = first.slice(0, 1).to_pylist()[0]
    assert tuple(json.loads(row["features"])) == FEATURES
    assert (
        row["id"] == "100-0"
        and row["ts"] == datetime(1970, 1, 1, 0, 24, 47, 500000)
        and 0 < row["prediction"] < 1
    )
    lag = np.array(first.column("label_ts").to_pylist()) - np.array(first.column("ts").to_pylist())
    assert min(lag) >= timedelta(hours=2) and max(lag) < timedelta(hours=6)


def test_amount_moves_when_degraded_and_nothing_else_does() -> None:
    calm = simulate_predictions(0, 400, 15, 7, ["3"] * 400, [False] * 400)
    bad = simulate_predictions(0, 400, 15, 7, ["3"] * 400, [True] * 400)
    assert np.median(amounts(bad)) > 3 * np.median(amounts(calm))
    countries = [json.loads(f)["country"] for f in bad.column("features").to_pylist()]
    assert [json.loads(f)["country"] for f in calm.column("features").to_pylist()] == countries
    assert np.mean(bad.column("prediction")) > np.mean(calm.column("prediction"))


def test_seed_demo_stores_records_and_labels(tmp_path) -> None:
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.25)
        _, rows = store.query("SELECT count(*), min(ts), max(ts), count(DISTINCT version) FROM predictions")
        count, first, last, versions = rows[0]
        assert count == 6 * 3600 // 15 * PER_STEP and versions == 1
        assert last <= NOW and first >= NOW - timedelta(hours=6)
        _, labels = store.query("SELECT count(*) FROM prediction_labels")
        assert labels[0][0] == count


def test_older_prediction_records_follow_from_the_running_simulator(tmp_path) -> None:
    """`oncall demo` writes the recent records up front and the rest while it runs."""
    from collectors.demo import BACKFILL_STEPS, DemoCollector, DemoOptions

    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=2, predictions_now=timedelta(hours=8))
        _, rows = store.query("SELECT count(*), min(ts) FROM predictions")
        assert rows[0][0] == 8 * 3600 // 15 * PER_STEP
        assert rows[0][1] >= NOW - timedelta(hours=8)
        collector = DemoCollector("demo", DemoOptions())
        runs = 0
        while store.get_cursor("demo").get("backfill"):
            collector.collect(store, NOW + timedelta(seconds=15 * runs))
            runs += 1
        assert runs == -(-(2 * 86400 - 8 * 3600) // 15 // BACKFILL_STEPS)
        moved = NOW - timedelta(days=1)  # v3 became champion a day before NOW
        _, rows = store.query(
            """
            SELECT count(*), count(DISTINCT id), min(ts),
                   count(*) FILTER (WHERE version = '2' AND ts > ?),
                   count(*) FILTER (WHERE version = '3' AND ts < ?)
            FROM predictions WHERE ts <= ?""",
            [moved, moved - timedelta(seconds=15), NOW],
        )
        count, distinct, first, late_v2, early_v3 = rows[0]
        assert count == distinct == 2 * 86400 // 15 * PER_STEP  # the whole history, once
        assert first < NOW - timedelta(days=2) + timedelta(seconds=15)
        assert late_v2 == early_v3 == 0  # each record names the version served then
        _, labels = store.query("SELECT count(*) FROM prediction_labels")
        assert labels[0][0] >= count


def test_a_rollback_between_two_collections_heals_only_the_steps_after_it(tmp_path) -> None:
    """The simulator serves, at each step, what the alias named then: the steps written after
    a rollback but stamped before it stay degraded (a slow tick must not rewrite history)."""
    from collectors.demo import ALIAS, MODEL, DemoCollector, DemoOptions
    from console.registry.history import record_alias_move
    from console.registry.local import LocalOptions, LocalRegistry

    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo(store, now=NOW, days=0.1, degrade_after="1m")
        collector = DemoCollector("demo", DemoOptions())
        collector.collect(store, NOW + timedelta(minutes=5))
        rolled_back = NOW + timedelta(minutes=8)
        LocalRegistry("local", LocalOptions(), store=store, clock=lambda: rolled_back).set_alias(
            MODEL, ALIAS, "3"
        )
        with store.transaction() as cur:
            record_alias_move(
                cur,
                ts=rolled_back,
                model=MODEL,
                alias=ALIAS,
                from_version="4",
                to_version="3",
                actor="test",
                source="test",
            )
        result = collector.collect(store, NOW + timedelta(minutes=12))  # one late collection
        assert result.detail == {"serving": "3", "degraded": False}
        _, rows = store.query(
            """
            SELECT version, min(ts), max(ts) FROM predictions
            WHERE ts > ? GROUP BY version ORDER BY min(ts)""",
            [NOW + timedelta(minutes=5)],
        )
        (v4, _first4, last4), (v3, first3, _) = rows  # CI deployed v4 at +15 s
        assert (v4, v3) == ("4", "3")
        assert last4 < rolled_back <= first3 + timedelta(seconds=15)  # a step's records precede it
