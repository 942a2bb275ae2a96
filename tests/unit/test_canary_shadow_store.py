"""Shadow records in the store: the predictions source keeps a shadow version's records apart
(shadow_predictions, keyed by model, id and version), re-reading adds nothing, and the served
model's drift windows and label lag see only the served records."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from collectors.predictions import PredictionsCollector, PredictionsOptions
from console.canary.shadow import shadow_report
from console.store import Store
from console.store.predictions import prediction_features

NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        yield opened


def collector(tmp_path, **options):
    return PredictionsCollector("preds", PredictionsOptions(**options), base_dir=str(tmp_path))


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def record(i, version, prediction, **extra):
    return {
        "id": f"r{i}",
        "ts": f"2026-11-26T11:{i + 1:02d}:00Z",  # inside the hour before NOW
        "model": "fraud",
        "version": version,
        "features": {"amount": float(i)},
        "prediction": prediction,
        **extra,
    }


def test_both_versions_of_one_request_are_kept_and_rereading_adds_nothing(tmp_path, store):
    # the served version 3 and the shadow version 4 scored the same requests, in one file
    write(
        tmp_path / "p.jsonl",
        [record(i, "3", 0.1 * i) for i in range(4)] + [record(i, "4", 0.1 * i + 0.05) for i in range(4)],
    )
    run = collector(tmp_path, path="p.jsonl", shadow_versions=["4"])
    assert run.collect(store, NOW).rows == 8
    assert store.count("predictions") == 4 and store.count("shadow_predictions") == 4
    _, versions = store.query("SELECT DISTINCT version FROM shadow_predictions")
    assert versions == [("4",)]

    # the file changes (rewritten with the same records and one more): only the new one is added
    write(
        tmp_path / "p.jsonl",
        [record(i, "3", 0.1 * i) for i in range(5)] + [record(i, "4", 0.1 * i + 0.05) for i in range(5)],
    )
    assert run.collect(store, NOW).rows == 2
    assert run.collect(store, NOW).rows == 0
    # a second source reading the same shadow records again adds nothing either
    assert collector(tmp_path, path="p.jsonl", shadow_versions=["4"]).collect(store, NOW).rows == 0
    assert store.count("predictions") == 5 and store.count("shadow_predictions") == 5

    report = shadow_report(store, "fraud", "3", "4", NOW)
    assert report.coverage.paired == 5 and report.diffs.count == 5
    assert report.diffs.mean == pytest.approx(0.05)


def test_without_the_option_a_second_version_collides_as_before(tmp_path, store):
    write(tmp_path / "p.jsonl", [record(0, "3", 0.1), record(0, "4", 0.9)])
    assert collector(tmp_path, path="p.jsonl").collect(store, NOW).rows == 1
    assert store.count("shadow_predictions") == 0


def test_shadow_records_stay_out_of_the_served_models_drift_and_label_lag(tmp_path, store):
    write(
        tmp_path / "served.jsonl",
        [record(i, "3", 0.2) for i in range(3)],
    )
    write(
        tmp_path / "shadow.jsonl",
        [{**record(i, "4", 0.8), "features": {"amount": 1000.0 + i}} for i in range(3)],
    )
    labels = tmp_path / "labels.jsonl"
    write(
        labels,
        [{"id": f"r{i}", "label": 1, "ts": "2026-11-26T11:30:00Z", "model": "fraud"} for i in range(3)],
    )
    run = collector(tmp_path, path="*d*.jsonl", labels="labels.jsonl", shadow_versions=["4"])
    assert run.collect(store, NOW).rows == 6
    frame = prediction_features(store, "fraud", datetime(2026, 11, 26), NOW)
    assert list(frame["amount"]) == [0.0, 1.0, 2.0]  # the served records only
    assert list(frame["prediction"]) == [0.2, 0.2, 0.2]
    _, lag = store.query(
        "SELECT p.value FROM samples p JOIN series s ON s.id = p.series_id "
        "WHERE s.name = 'oncall_label_lag_seconds'"
    )
    assert lag == [(sum(30 * 60 - 60 * (i + 1) for i in range(3)) / 3,)]  # one lag per request, not two


def test_inline_labels_of_shadow_records_join_both_versions(tmp_path, store):
    write(
        tmp_path / "p.jsonl",
        [
            record(0, "3", 0.9, label=1),
            record(0, "4", 0.2, label=1),
            record(1, "3", 0.1),
            record(1, "4", 0.7),
        ],
    )
    assert collector(tmp_path, path="p.jsonl", shadow_versions=["4"]).collect(store, NOW).rows == 4
    assert store.count("prediction_labels") == 1
    report = shadow_report(store, "fraud", "3", "4", NOW)
    assert report.performance.labelled == 1
    assert report.performance.champion.true_positives == 1
    assert report.performance.shadow.false_negatives == 1


def test_a_store_migrates_to_the_shadow_table(tmp_path):
    import duckdb

    from console.store.schema import MIGRATIONS

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for version, sql in enumerate(MIGRATIONS[:12], start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
    con.execute(
        "INSERT INTO predictions VALUES ('fraud', 'r1', '2026-11-26 11:01:00', '3', '{}', 0.4, 'old')"
    )
    con.close()
    with Store.open(path) as store:
        assert store.count("predictions") == 1 and store.count("shadow_predictions") == 0
        report = shadow_report(store, "fraud", "3", "4", NOW)
        assert report.coverage.champion_only == 1 and report.coverage.champion_only_ids == ["r1"]


def test_shadow_versions_are_text_and_records_without_a_version_are_served(tmp_path, store):
    records = [record(0, 4, 0.3), record(1, "3", 0.2), {**record(2, None, 0.1)}]
    del records[2]["version"]
    write(tmp_path / "p.jsonl", records)
    run = collector(tmp_path, path="p.jsonl", shadow_versions=[4])  # as YAML reads `[4]`
    assert run.options.shadow_versions == ["4"]
    assert run.collect(store, NOW).rows == 3
    _, served = store.query("SELECT id, version FROM predictions ORDER BY id")
    assert served == [("r1", "3"), ("r2", None)]
    _, shadow = store.query("SELECT id, version FROM shadow_predictions")
    assert shadow == [("r0", "4")]
