"""The predictions collector: records from JSON lines / CSV / Parquet, late labels, label lag, re-runs."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pandas as pd
import pytest

from collectors.base import SourceError
from collectors.predictions import PredictionsCollector, PredictionsOptions
from console.drift.stats import dataset_drift
from console.store import Store
from console.store.predictions import prediction_features

NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        yield opened


def collector(tmp_path, **options):
    return PredictionsCollector("preds", PredictionsOptions(**options), base_dir=str(tmp_path))


def test_records_in_three_formats_and_late_labels(tmp_path, store):
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "a.jsonl", "w") as out:
        for i in range(3):
            out.write(
                json.dumps(
                    {
                        "id": f"j{i}",
                        "ts": f"2026-11-26T10:0{i}:00Z",
                        "model": "fraud",
                        "version": "3",
                        "features": {"amount": 10.0 * i, "country": "de"},
                        "prediction": 0.1 * i,
                    }
                )
                + "\n"
            )
    pd.DataFrame(
        {
            "id": ["c0", "c1"],
            "ts": ["2026-11-26T10:10:00Z"] * 2,
            "model": "fraud",
            "version": "3",
            "amount": [5.0, 6.0],
            "country": ["fr", "de"],
            "prediction": [0.2, 0.9],
            "label": [0.0, None],
        }
    ).to_csv(tmp_path / "in" / "b.csv", index=False)
    pd.DataFrame(
        {
            "id": ["p0"],
            "ts": [pd.Timestamp("2026-11-26T10:20:00")],
            "version": ["4"],
            "amount": [7.5],
            "country": ["it"],
            "prediction": [0.5],
        }
    ).to_parquet(tmp_path / "in" / "c.parquet")
    run = collector(tmp_path, path="in/*", labels="labels/*.csv", model="fraud")
    assert run.collect(store, NOW).rows == 6

    (tmp_path / "labels").mkdir()
    pd.DataFrame(
        {
            "id": ["j0", "j1", "c1"],
            "label": [1, 0, 1],
            "ts": ["2026-11-26T11:00:00Z", "2026-11-26T11:01:00Z", "2026-11-26T11:10:00Z"],
        }
    ).to_csv(tmp_path / "labels" / "l.csv", index=False)
    later = datetime(2026, 11, 26, 12, 5)
    assert run.collect(store, later).rows == 0  # only labels are new

    _, rows = store.query(
        "SELECT p.id, l.label FROM predictions p LEFT JOIN prediction_labels l "
        "USING (model, id) ORDER BY p.id"
    )
    assert rows == [("c0", 0.0), ("c1", 1.0), ("j0", 1.0), ("j1", 0.0), ("j2", None), ("p0", None)]
    _, lag = store.query(
        "SELECT p.ts, p.value FROM samples p JOIN series s ON s.id = p.series_id "
        "WHERE s.name = 'oncall_label_lag_seconds' ORDER BY p.ts"
    )
    assert lag == [(NOW, 0.0), (later, 3600.0)]

    frame = prediction_features(store, "fraud", datetime(2026, 11, 26), NOW)
    assert list(frame["amount"]) == [0.0, 10.0, 20.0, 5.0, 6.0, 7.5]
    assert list(frame["country"]) == ["de", "de", "de", "fr", "de", "it"]


def test_rerun_adds_nothing_and_changed_files_are_reread(tmp_path, store):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": 1, "ts": 1764150000, "model": "m", "x": 1.0}) + "\n")
    run = collector(tmp_path, path="p.jsonl")
    assert run.collect(store, NOW).rows == 1
    assert run.collect(store, NOW).rows == 0
    with open(path, "a") as out:
        out.write(json.dumps({"id": 2, "ts": 1764150060, "model": "m", "x": 2.0}) + "\n")
    assert run.collect(store, NOW).rows == 1
    assert store.count("predictions") == 2


def test_bad_files_name_the_file(tmp_path, store):
    (tmp_path / "p.csv").write_text("id,prediction\n1,0.5\n")
    with pytest.raises(SourceError, match=r"p\.csv: missing column\(s\) ts"):
        collector(tmp_path, path="p.csv", model="m").collect(store, NOW)
    (tmp_path / "q.csv").write_text("id,ts\n1,2026-11-26T10:00:00Z\n")
    with pytest.raises(SourceError, match="without a model"):
        collector(tmp_path, path="q.csv").collect(store, NOW)


def test_empty_window_is_no_data_for_drift(tmp_path, store):
    empty = prediction_features(store, "fraud", datetime(2026, 1, 1), NOW)
    reference = pd.DataFrame({"amount": [1.0, 2.0, 3.0]})
    result = dataset_drift(reference, empty.reindex(columns=reference.columns))
    assert result.share is None and result.columns[0].status == "no data"


@pytest.mark.parametrize(
    "features",
    [
        [
            {"amount": 1.5, "country": "de", "hour": 3},
            {"amount": 2, "country": "fr", "hour": 23},
            {"amount": -4.25, "hour": 0},
        ],  # a missing key: NaN / None
        [{"amount": 1.5, "code": "x"}, {"amount": 2.5, "code": 7}],  # mixed types: pandas' reader
        [{"amount": 1.5, "meta": {"a": 1}}, {"amount": 2.5, "meta": {"a": 2}}],  # nested
        [{"amount": None}, {"amount": None}],  # nothing but nulls
        [{"amount": 1.0, "it's": "quoted"}, {"amount": 2.0, "it's": "key"}],
        [{"amount": 1.0, "new": True}, {"amount": 2.0, "new": False}, {"amount": 3.0}],
        [{"id": 2**64 - 1, "amount": 1.0}, {"id": 1, "amount": 2.0}],  # beyond int64: not a NULL
        [{"a/b~c": 2**63, "n": 1}, {"a/b~c": None, "n": 2}, {"n": 3}],  # and a null, a missing key
    ],
)
def test_features_read_as_pandas_reads_them(store, features):
    with store.transaction() as cur:
        for i, f in enumerate(features):
            cur.execute(
                "INSERT INTO predictions (model, id, ts, version, features, prediction, origin) "
                "VALUES ('m', ?, ?, '1', ?, ?, 'test')",
                [str(i), datetime(2026, 11, 26, 10, i), json.dumps(f), i / 10],
            )
    frame = prediction_features(store, "m", datetime(2026, 11, 26), NOW)
    expected = pd.read_json(io.StringIO("\n".join(json.dumps(f) for f in features)), lines=True, dtype=False)
    expected["prediction"] = [i / 10 for i in range(len(features))]
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, check_like=True)
    for column in expected.columns:
        assert frame[column].dtype.kind == expected[column].dtype.kind, column
