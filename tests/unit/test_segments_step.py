"""The `segments` source: checks evaluated at step boundaries, written as series with their cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from collectors.base import SourceError
from console.drift.segments_step import SegmentsCollector, SegmentsOptions
from console.store import Store
from tests.segment_records import store_records

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
