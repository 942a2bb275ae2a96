"""The `segments` source: checks evaluated at step boundaries, written as series with their cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from collectors.base import SourceError
from console.cli.main import main
from console.drift.segments_step import SegmentsCollector, SegmentsOptions
from console.store import Store
from tests.segment_records import install_segments_kind, store_records

START = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        frame = pd.DataFrame(
            {"region": ["EU", "EU", "US"], "prediction": [0.9, 0.2, 0.7], "label": [1.0, 1.0, 0.0]}
        )
        store_records(opened, "fraud", frame, ["region"], start=START + timedelta(seconds=1))
        yield opened


def _collector(**check):
    options = SegmentsOptions(checks=[{"model": "fraud", "by": ["region"], **check}], step="5m")
    return SegmentsCollector("segments", options)


def _series(store):
    _, rows = store.query(
        "SELECT s.name, json_extract_string(s.labels, '$.segment'), x.ts, x.value "
        "FROM samples x JOIN series s ON s.id = x.series_id ORDER BY 1, 2"
    )
    return rows


def test_writes_each_step_once_at_its_boundary(store):
    collector = _collector(window="1h")
    result = collector.collect(store, START + timedelta(minutes=7))
    boundary = START + timedelta(minutes=5)
    assert result.rows > 0 and result.detail["evaluated_at"] == boundary.isoformat()
    tpr = {(seg, ts): v for name, seg, ts, v in _series(store) if name == "oncall_segment_tpr"}
    assert tpr == {("region=EU", boundary): 0.5, ("region=US", boundary): 0.0}
    assert collector.collect(store, START + timedelta(minutes=9)).detail == {"skipped": True}
    assert store.get_cursor("segments") == {"last": boundary.isoformat()}


def test_an_empty_window_writes_nothing_and_a_bad_label_fails_loudly(store):
    result = _collector(window="1h").collect(store, START + timedelta(hours=3))
    assert result.rows == 0 and result.detail["no_records"] == ["fraud by region"]
    assert _series(store) == []
    store.query("UPDATE prediction_labels SET label = 2")
    with pytest.raises(
        SourceError, match="fraud by region: fraud: 3 labels in the window are neither 0 nor 1"
    ):
        _collector(window="4h").collect(store, START + timedelta(hours=3, minutes=5))


def test_options_refuse_what_cannot_be_computed():
    for bad in ({"window": "0s"}, {"threshold": float("nan")}, {"by": []}, {"group": "x"}):
        with pytest.raises(ValidationError):
            _collector(**bad)


def test_a_workspace_source_as_documented_writes_series_on_collect(tmp_path, monkeypatch):
    install_segments_kind(monkeypatch)
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        frame = pd.DataFrame(
            {
                "region": ["EU", "EU", "US", "US"],
                "age_band": ["a", "b", "a", "a"],
                "prediction": [0.9, 0.2, 0.7, 0.1],
                "label": [1.0, 1.0, 0.0, 0.0],
            }
        )
        store_records(opened, "fraud", frame, ["region", "age_band"], start=START + timedelta(seconds=1))
    (tmp_path / "oncall.yaml").write_text(
        "sources:\n"
        "  - name: fairness\n"
        "    kind: segments\n"
        "    step: 5m\n"
        "    checks:\n"
        "      - {model: fraud, by: [region, age_band], window: 1d}\n"
    )
    monkeypatch.setenv("ONCALL_NOW", "2026-11-20T12:07:00Z")
    assert main(["-w", str(tmp_path), "collect", "--once"]) == 0
    with Store.open(tmp_path / "oncall.duckdb") as store:
        rows = _series(store)
    counts = {seg: v for name, seg, _, v in rows if name == "oncall_segment_count"}
    assert counts == {"region=EU,age_band=a": 1.0, "region=EU,age_band=b": 1.0, "region=US,age_band=a": 2.0}
    assert {ts for name, _, ts, _ in rows if name.startswith("oncall_segment")} == {
        START + timedelta(minutes=5)
    }
    assert "oncall_fairness_equalized_odds_difference" in {name for name, *_ in rows}
