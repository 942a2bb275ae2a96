"""`oncall segments MODEL --by ...` as a user runs it: windows, refusals, recorded series, label layout."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from console.drift.segments import by_text, evaluate_segments, segment_text
from console.store import Store
from tests.segment_records import store_records

START = datetime(2026, 11, 20, 12, 0, 0)  # the first record; one a second after it
AT = "2026-11-20T13:00:00Z"


def oncall(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _frame() -> pd.DataFrame:
    """EU: 4 records (TP, FP, TN, FN); US: 2 (prediction exactly at the threshold, label 1 → TP; FN);
    APAC: 1 record, label 1, never selected."""
    return pd.DataFrame(
        {
            "region": ["EU", "EU", "EU", "EU", "US", "US", "APAC"],
            "age_band": ["a", "a", "b", "b", "a", "a", "a"],
            "prediction": [0.9, 0.8, 0.1, 0.2, 0.5, 0.4, 0.3],
            "label": [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


@pytest.fixture
def workdir(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as store:
        store_records(store, "fraud", _frame(), ["region", "age_band"], start=START)
    return tmp_path


def segments(workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return oncall("segments", "fraud", "--store", "oncall.duckdb", "--at", AT, *extra, cwd=workdir)


def test_table_per_region_with_the_overall_row_and_fairness(workdir):
    done = segments(workdir, "--by", "region")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    # SEGMENT COUNT SELECTION_RATE TPR FPR ACCURACY PRECISION
    assert lines["region=EU"][1:] == ["4", "0.5000", "0.5000", "0.5000", "0.5000", "0.5000"]
    assert lines["region=US"][1:] == ["2", "0.5000", "0.5000", "0.0000", "0.5000", "1.0000"]  # 0.5 >= 0.5
    assert lines["region=APAC"][1:] == ["1", "0.0000", "0.0000", "0.0000", "0.0000", "0.0000"]
    assert lines["(overall)"][1] == "7"
    assert lines["demographic_parity_difference"][1] == "0.5000"
    assert lines["demographic_parity_ratio"][1] == "0.0000"


def test_json_lists_the_empty_combination_as_nan_and_the_threshold_moves_decisions(workdir):
    done = segments(workdir, "--by", "region,age_band", "--threshold", "0.85", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    groups = {g["segment"]: g for g in report["groups"]}
    assert list(groups) == [
        "region=APAC,age_band=a",
        "region=APAC,age_band=b",
        "region=EU,age_band=a",
        "region=EU,age_band=b",
        "region=US,age_band=a",
        "region=US,age_band=b",
    ]
    assert all(groups["region=APAC,age_band=b"][m] is None for m in ("count", "tpr", "precision"))  # NaN
    assert groups["region=EU,age_band=a"]["selection_rate"] == 0.5  # only 0.9 >= 0.85
    assert groups["region=EU,age_band=a"]["count"] == 2
    assert report["threshold"] == 0.85 and report["by"] == ["region", "age_band"]


def test_window_is_open_at_its_start_and_labels_count_only_once_known(tmp_path):
    frame = pd.DataFrame({"region": ["EU"] * 3, "prediction": [0.9, 0.9, 0.9], "label": [1.0, 1.0, 1.0]})
    with Store.open(tmp_path / "s.duckdb") as store:
        store_records(store, "m", frame, ["region"], start=START, label_lag=timedelta(seconds=1))
        # records at START, START+1s, START+2s; labels known 1 s later
        report = evaluate_segments(store, "m", ["region"], START + timedelta(seconds=2), timedelta(seconds=2))
    assert report.overall.count == 1  # START is outside (at − window, at]; START+2s's label comes at +3s
    assert report.left_out == {"unlabelled": 1, "unscored": 0}


def test_missing_values_are_refused_unless_given_a_group(workdir):
    with Store.open(workdir / "oncall.duckdb") as store:
        extra = pd.DataFrame({"prediction": [0.7], "label": [0.0], "region": [None]})
        store_records(store, "fraud", extra, ["region"], start=START + timedelta(seconds=30))
    done = segments(workdir, "--by", "region")
    assert done.returncode == 2
    assert "--by region: 1 labelled records of fraud have no value for it" in done.stderr
    assert "Traceback" not in done.stderr
    done = segments(workdir, "--by", "region", "--missing", "unknown", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {g["segment"]: g["count"] for g in json.loads(done.stdout)["groups"]}["region=unknown"] == 1


def test_unknown_column_non_binary_label_and_bad_options_say_what_to_do(workdir):
    done = segments(workdir, "--by", "country")
    assert done.returncode == 2
    assert (
        "--by country: no record of fraud in the window has this feature (features: age_band, region"
        in done.stderr
    )
    assert segments(workdir, "--by", "region", "--window", "soon").returncode == 2
    assert "fraud: no prediction record in 2026-11-20 12:59:59..2026-11-20 13:00:00; widen --window" in (
        segments(workdir, "--by", "region", "--window", "1s").stderr
    )
    with Store.open(workdir / "oncall.duckdb") as store:
        store.query(
            "UPDATE prediction_labels SET label = 0.7 WHERE id = (SELECT min(id) FROM prediction_labels)"
        )
    done = segments(workdir, "--by", "region")
    assert done.returncode == 2 and "1 labels in the window are neither 0 nor 1 (e.g. 0.7)" in done.stderr


def test_record_writes_alertable_series_with_canonical_labels(workdir):
    done = segments(workdir, "--by", "region,age_band", "--record")
    assert done.returncode == 0, done.stderr
    with Store.open(workdir / "oncall.duckdb") as store:
        _, rows = store.query(
            "SELECT s.name, s.labels, x.ts, x.value FROM samples x JOIN series s ON s.id = x.series_id"
        )
    series = {(name, labels): value for name, labels, _, value in rows}
    eu_a = json.dumps(
        {"by": "region,age_band", "model": "fraud", "segment": "region=EU,age_band=a"}, separators=(",", ":")
    )
    assert series[("oncall_segment_tpr", eu_a)] == 1.0
    assert series[("oncall_segment_count", eu_a)] == 2.0
    fairness = json.dumps({"by": "region,age_band", "model": "fraud"}, separators=(",", ":"))
    assert series[("oncall_fairness_equalized_odds_difference", fairness)] == 1.0
    # the empty combination APAC × b has no sample: a NaN is not written
    assert not any("region=APAC,age_band=b" in labels for _, labels in series)
    assert {ts for _, _, ts, _ in rows} == {datetime(2026, 11, 20, 13, 0, 0)}
    assert all(not math.isnan(v) for v in series.values())


def test_segment_labels_quote_what_could_be_misread():
    assert segment_text(["region", "age_band"], ["EU", "30-40"]) == "region=EU,age_band=30-40"
    assert segment_text(["region"], ["a,b=c"]) == 'region="a,b=c"'
    assert segment_text(["region"], [""]) == 'region=""'
    assert segment_text(["region"], [" x"]) == 'region=" x"'
    assert segment_text(["a=b"], ['say "hi"\n']) == '"a=b"="say \\"hi\\"\\n"'
    assert segment_text(["region"], ["a\x1b[31mb"]) == 'region="a\\u001b[31mb"'  # a control character
    assert by_text(["region", "a,b"]) == 'region,"a,b"'
    # distinct groups, distinct labels
    assert segment_text(["a", "b"], ["x,b=y", "z"]) != segment_text(["a", "b"], ["x", "y,b=z"])


def test_recorded_series_answer_a_rule_expression(workdir):
    assert segments(workdir, "--by", "region", "--record").returncode == 0
    done = oncall(
        "query",
        "--promql",
        'oncall_segment_tpr{model="fraud", by="region"} < 0.6 and oncall_segment_count >= 2',
        "--store",
        "oncall.duckdb",
        "--at",
        "2026-11-20T13:02:00Z",
        "--format",
        "json",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["result"]
    # EU (TPR 0.5, 4 records) and US (0.5, 2); APAC's TPR is 0 but its one record is below the count
    assert sorted((r["metric"]["segment"], r["value"][1]) for r in found) == [
        ("region=EU", "0.5"),
        ("region=US", "0.5"),
    ]


def test_a_nan_or_missing_prediction_is_left_out_not_decided(tmp_path):
    """DuckDB orders NaN above every number, so `NaN >= 0.5` holds there: a NaN prediction must
    be left out, not counted as a positive decision."""
    frame = pd.DataFrame(
        {"region": ["EU"] * 4, "prediction": [0.9, 0.1, 0.5, None], "label": [1.0, 0.0, 0.0, 0.0]}
    )
    with Store.open(tmp_path / "s.duckdb") as store:
        store_records(store, "m", frame, ["region"], start=START + timedelta(seconds=1))
        store.query("UPDATE predictions SET prediction = 'NaN'::DOUBLE WHERE prediction = 0.5")
        assert store.query("SELECT count(*) FROM predictions WHERE isnan(prediction)")[1] == [(1,)]
        report = evaluate_segments(store, "m", ["region"], START + timedelta(hours=1), timedelta(hours=1))
    assert report.left_out == {"unlabelled": 0, "unscored": 2}
    assert report.overall.count == 2 and report.overall.fpr == 0.0 and report.overall.selection_rate == 0.5
