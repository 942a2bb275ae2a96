"""Workspace drift windows: configuration errors, evaluation, the drift collector's series, the rule family, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import SourceError
from collectors.demo_predictions import ingest_predictions, simulate_predictions
from console.config.workspace import WorkspaceError, load_workspace
from console.drift.step import DriftCollector, DriftOptions
from console.drift.windows import evaluate_window, find_window, histogram, score_history
from console.runtime.engine import Engine
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 0)
STEP_S = 15
EPOCH = datetime(1970, 1, 1)
WORKSPACE = """\
store: oncall.duckdb
sources:
  - name: drift
    kind: drift
    interval: 1m
    windows:
      - model: fraud-detector
        reference: {span: 6h, ago: 1h}
        current: 1h
        methods: {hour: psi}
"""


def step_of(t: datetime) -> int:
    return int((t - EPOCH).total_seconds() // STEP_S)


def fill(store: Store, start: datetime, end: datetime, degraded_from: datetime | None = None) -> None:
    """Simulated records for [start, end), degraded from `degraded_from` on."""
    first, last = step_of(start), step_of(end)
    steps = last - first
    degraded = [
        degraded_from is not None and EPOCH + timedelta(seconds=(first + i) * STEP_S) >= degraded_from
        for i in range(steps)
    ]
    ingest_predictions(store, simulate_predictions(first, steps, STEP_S, 7, ["3"] * steps, degraded))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text(WORKSPACE)
    return tmp_path


@pytest.fixture
def store(root: Path):
    with Store.open(root / "oncall.duckdb") as opened:
        yield opened


def test_window_errors_point_at_the_line(root: Path) -> None:
    (root / "oncall.yaml").write_text(
        WORKSPACE.replace(
            "reference: {span: 6h, ago: 1h}", "reference: {span: 6h, ago: 1h, file: ref.csv}"
        ).replace("current: 1h", "current: 1h\n        treshold: {amount: 0.2}")
    )
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root / "oncall.yaml")
    text = str(caught.value)
    assert "oncall.yaml:8" in text and "exactly one of: file, start + end, or span + ago" in text
    assert "oncall.yaml:10: sources[0].windows[0].treshold: unknown option" in text


def test_unknown_test_name_is_a_config_error(root: Path) -> None:
    (root / "oncall.yaml").write_text(WORKSPACE.replace("{hour: psi}", "{hour: kolmogorov}"))
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root / "oncall.yaml")
    assert "oncall.yaml:" in str(caught.value) and "unknown drift test 'kolmogorov'" in str(caught.value)


def test_amount_drifts_only_once_the_service_degrades(root: Path, store: Store) -> None:
    fill(store, NOW - timedelta(hours=10), NOW + timedelta(minutes=30), degraded_from=NOW)
    window = find_window(load_workspace(root / "oncall.yaml"), "fraud-detector")
    before = evaluate_window(store, window, NOW, root)
    assert [c.column for c in before.drift.columns] == [
        "amount",
        "merchant_category",
        "country",
        "hour",
        "device_age_days",
        "prediction",
    ]
    assert (len(before.reference), len(before.current)) == (6 * 3600 // STEP_S * 6, 3600 // STEP_S * 6)
    assert not any(c.drifted for c in before.drift.columns), before.drift.as_dict()
    after = evaluate_window(store, window, NOW + timedelta(minutes=20), root)
    drifted = {c.column: c for c in after.drift.columns if c.drifted}
    assert set(drifted) == {"amount", "prediction"}
    assert drifted["amount"].method == "wasserstein" and drifted["amount"].score > 0.3
    assert {c.column: c.method for c in after.drift.columns}["hour"] == "psi"
    assert after.drift.drifted is False  # 2 of 6 columns < 0.5
    bars = histogram(after, "amount")
    assert len(bars["labels"]) == 10 and abs(sum(bars["current"]) - 1) < 1e-9
    assert bars["current"][0] < bars["reference"][0]  # the current amounts moved up
    cats = histogram(after, "country")
    assert cats["labels"][0] == "DE" and abs(sum(cats["reference"]) - 1) < 1e-9


def test_empty_windows_and_missing_columns_say_no_data(root: Path, store: Store) -> None:
    window = find_window(load_workspace(root / "oncall.yaml"), "fraud-detector")
    nothing = evaluate_window(store, window, NOW, root)
    assert nothing.drift.share is None and nothing.drift.columns == []
    assert any("no data" in p for p in nothing.quality.problems)
    fill(store, NOW - timedelta(hours=8), NOW - timedelta(hours=2))
    no_current = evaluate_window(store, window, NOW, root)
    assert {c.status for c in no_current.drift.columns} == {"no data"}
    assert histogram(no_current, "amount")["current"] == [0.0] * 10
    assert histogram(no_current, "country")["current"] == [0.0] * 6
    window = window.model_copy(update={"columns": ["amount", "never_sent"]})
    fill(store, NOW - timedelta(hours=1), NOW)
    partial = evaluate_window(store, window, NOW, root)
    assert {c.column: c.status for c in partial.drift.columns} == {"amount": "ok", "never_sent": "no data"}
    assert histogram(partial, "never_sent")["labels"] == []


def test_reference_file(root: Path, store: Store) -> None:
    fill(store, NOW - timedelta(hours=3), NOW)
    _, rows = store.query("SELECT features, prediction FROM predictions ORDER BY ts LIMIT 3000")
    pd.DataFrame({"features": [r[0] for r in rows], "prediction": [r[1] for r in rows]}).to_parquet(
        root / "reference.parquet"
    )
    (root / "oncall.yaml").write_text(WORKSPACE.replace("{span: 6h, ago: 1h}", "{file: reference.parquet}"))
    window = find_window(load_workspace(root / "oncall.yaml"), "fraud-detector")
    result = evaluate_window(store, window, NOW, root)
    assert result.reference_bounds is None and len(result.reference) == 3000
    assert {c.status for c in result.drift.columns} == {"ok"}
    (root / "reference.parquet").unlink()
    with pytest.raises(ValueError, match=r"reference.parquet: reference file not found"):
        evaluate_window(store, window, NOW, root)


def test_collector_writes_series_once_per_step_and_rules_fire(root: Path, store: Store) -> None:
    fill(store, NOW - timedelta(hours=10), NOW + timedelta(minutes=30), degraded_from=NOW)
    workspace = load_workspace(root / "oncall.yaml")
    engine = Engine(workspace, store)
    assert [c.kind for c in engine.collectors] == ["drift"]
    firing = {}
    for minute in range(0, 21):
        engine.tick(NOW + timedelta(minutes=minute, seconds=30))
        assert {r.name for r in engine.alerts.rules if r.source == "drift"} == {"DataDrift", "DatasetDrift"}
        _, rows = store.query("SELECT labels FROM alerts WHERE name = 'DataDrift' AND state = 'firing'")
        for (labels,) in rows:
            firing.setdefault(json.loads(labels)["column"], minute)
    assert set(firing) == {"amount", "prediction"} and firing["amount"] <= 6
    history = score_history(store, "fraud-detector", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert len(history["amount"]) == 21 and history["amount"][-1] > 0.3 > history["amount"][0]
    _, shares = store.query(
        "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id "
        "WHERE s.name = 'oncall_quality_missing_share'"
    )
    assert shares[0][0] == 21 * 6
    again = DriftCollector(
        "drift", DriftOptions.model_validate(workspace.config.sources[0].options), base_dir=str(root)
    ).collect(store, NOW + timedelta(minutes=20, seconds=50))
    assert again.rows == 0


def oncall(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_cli_model_uses_the_workspace_window(root: Path, store: Store) -> None:
    fill(store, NOW - timedelta(hours=10), NOW + timedelta(minutes=30), degraded_from=NOW)
    store.close()
    calm = oncall("drift", "fraud-detector", "--at", "2026-11-20T12:00", cwd=root)
    assert calm.returncode == 0, calm.stderr
    assert "(8640 rows) vs current 2026-11-20 11:00..2026-11-20 12:00 (1440 rows)" in calm.stdout
    assert "dataset drift: no (0/6 columns drifted" in calm.stdout
    drifted = oncall("drift", "fraud-detector", "--at", "2026-11-20T12:20Z", "--format", "json", cwd=root)
    assert drifted.returncode == 3  # two of six columns drifted: column drift, no dataset drift
    report = json.loads(drifted.stdout)
    assert [c["column"] for c in report["columns"] if c["drifted"]] == ["amount", "prediction"]
    assert report["current_window"] == ["2026-11-20T11:20:00", "2026-11-20T12:20:00"]
    missing = oncall("drift", "churn-model", cwd=root)
    assert missing.returncode == 2 and "no drift window for model 'churn-model'" in missing.stderr
    assert "configured: fraud-detector" in missing.stderr
    both = oncall("drift", "fraud-detector", "--reference", "a.csv", cwd=root)
    assert both.returncode == 2 and "not both" in both.stderr


def test_cli_model_takes_global_tests_exclusions_and_quality_limits(root: Path, store: Store) -> None:
    fill(store, NOW - timedelta(hours=10), NOW + timedelta(minutes=30), degraded_from=NOW)
    store.close()
    at = ["--at", "2026-11-20T12:20Z", "--format", "json"]
    done = oncall(
        "drift",
        "fraud-detector",
        *at,
        "--num-method",
        "ks",
        "--threshold",
        "0.01",
        "--exclude",
        "prediction",
        cwd=root,
    )
    report = json.loads(done.stdout)
    columns = {c["column"]: c for c in report["columns"]}
    assert "prediction" not in columns and report["excluded"][0]["column"] == "prediction"
    numeric = [c for c in columns.values() if c["kind"] == "num" and c["column"] != "hour"]
    assert numeric and {c["method"] for c in numeric} == {"ks"}
    assert columns["hour"]["method"] == "psi"  # the window's own choice for the column wins
    assert {c["threshold"] for c in columns.values()} == {0.01}
    assert {c["score_kind"] for c in numeric} == {"p_value"} and columns["hour"]["score_kind"] == "distance"
    assert report["outcome"]["exit_code"] == done.returncode
    assert "prediction" not in {c["column"] for c in report["quality"]["columns"]}
    few = oncall("drift", "fraud-detector", *at, "--min-rows", "100000", cwd=root)
    assert few.returncode == 4 and json.loads(few.stdout)["outcome"]["quality_problem"] is True
    unknown = oncall("drift", "fraud-detector", *at, "--exclude", "nowhere", cwd=root)
    assert unknown.returncode == 2 and "'nowhere', which is not a column of the window" in unknown.stderr
    reported = oncall(
        "drift", "fraud-detector", "--at", "2026-11-20T12:20Z", "--report", "window.md", cwd=root
    )
    assert reported.returncode == 3, reported.stderr
    text = (root / "window.md").read_text()
    assert text.startswith("# Drift report: fraud-detector, as of 2026-11-20 12:20:00 UTC")
    assert text.count("| bin | reference | | current | |") == 6


def test_a_column_whose_test_cannot_run_fails_the_source_loudly(root: Path, store: Store) -> None:
    """A test that cannot score the window's samples (here: too many rows for its kernel) is an error."""
    (root / "oncall.yaml").write_text(
        WORKSPACE.replace("methods: {hour: psi}", "methods: {amount: empirical_mmd}")
    )
    fill(store, NOW - timedelta(hours=8), NOW)
    workspace = load_workspace(root / "oncall.yaml")
    collector = DriftCollector(
        "drift", DriftOptions.model_validate(workspace.config.sources[0].options), base_dir=str(root)
    )
    with pytest.raises(
        SourceError, match=r"fraud-detector: column amount: empirical_mmd is quadratic in rows"
    ):
        collector.collect(store, NOW)
    _, rows = store.query(
        "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = 'oncall_drift_score'"
    )
    assert rows[0][0] > 0  # the other columns' scores are still written
