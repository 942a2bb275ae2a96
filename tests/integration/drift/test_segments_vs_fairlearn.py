"""Our segments against Fairlearn's MetricFrame itself, run in its own virtualenv on the same records."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from console.drift.segments import FAIRNESS_METRICS, GROUP_METRICS, evaluate_segments
from console.store import Store
from tests.segment_records import store_records

ROOT = Path(__file__).resolve().parents[3]
FAIRLEARN_PYTHON = ROOT / ".venvs" / "fairlearn" / "bin" / "python"
DRIVER = Path(__file__).with_name("fairlearn_segments.py")
START = datetime(2026, 11, 20)
AT = START + timedelta(days=1)


def _cases() -> dict[str, tuple[pd.DataFrame, dict]]:
    rng = np.random.default_rng(20261203)
    cases: dict[str, tuple[pd.DataFrame, dict]] = {}

    def scored(groups: list[str], shift: dict[str, float], rows: int) -> pd.DataFrame:
        region = rng.choice(groups, rows)
        label = rng.integers(0, 2, rows).astype(float)
        bias = np.array([shift.get(g, 0.0) for g in region])
        prediction = np.clip(0.35 * label + 0.3 + bias + rng.normal(0, 0.2, rows), 0, 1)
        return pd.DataFrame({"region": region, "prediction": prediction, "label": label})

    frame = scored(["EU", "US", "APAC"], {"APAC": -0.15, "US": 0.05}, 3000)
    frame.loc[rng.choice(3000, 40, replace=False), "label"] = np.nan  # not labelled yet: left out
    cases["three_regions"] = (frame, {"by": ["region"], "threshold": 0.5})

    base = scored(["EU", "US"], {}, 900)
    lone = pd.DataFrame({"region": ["LATAM"], "prediction": [0.93], "label": [1.0]})
    no_positives = pd.DataFrame({"region": "AF", "prediction": rng.random(30), "label": 0.0})
    never_selected = pd.DataFrame({"region": "OC", "prediction": rng.random(20) * 0.4, "label": 1.0})
    frame = pd.concat([base, lone, no_positives, never_selected], ignore_index=True)
    cases["one_row_and_no_positives"] = (frame, {"by": ["region"], "threshold": 0.5})

    frame = scored(["EU", "US", "APAC"], {"EU": 0.1}, 2000)
    frame["age_band"] = rng.choice(["18-30", "30-40", "40-60"], len(frame))
    frame = frame[~((frame["region"] == "APAC") & (frame["age_band"] == "40-60"))]  # an empty combination
    frame = frame[~((frame["region"] == "EU") & (frame["age_band"] == "40-60"))]
    one = pd.DataFrame({"region": ["EU"], "prediction": [0.2], "label": [1.0], "age_band": ["40-60"]})
    frame = pd.concat(
        [
            frame,
            one,
            pd.DataFrame({"region": ["US"], "prediction": [0.7], "label": [0.0], "age_band": ["60+"]}),
        ],
        ignore_index=True,
    )
    cases["intersectional_with_empty_and_single"] = (frame, {"by": ["region", "age_band"], "threshold": 0.5})

    frame = scored(["EU", "US", "APAC"], {}, 600)
    frame["prediction"] = frame["prediction"] * 0.85  # nothing reaches 0.9: every TPR and FPR is 0
    cases["never_positive"] = (frame, {"by": ["region"], "threshold": 0.9})

    frame = scored(["EU", "US"], {}, 800)
    frame["prediction"] = np.round(frame["prediction"], 1)  # many predictions exactly at the threshold
    frame["age"] = rng.choice(
        [5, 20, 30, 100], len(frame)
    )  # as numbers 5 < 20 < 100, as text "100" < "20" < "5"
    frame["version"] = rng.choice(["3", "4"], len(frame))
    cases["ties_numeric_feature_and_version"] = (frame, {"by": ["age", "version"], "threshold": 0.3})

    frame = scored(["EU", "US"], {"US": 0.2}, 500)
    frame["label"] = 0.0  # no positive anywhere: TPR is 0 everywhere, its ratio 0/0
    frame["age_band"] = rng.choice(["young", "old"], len(frame))
    frame["channel"] = rng.choice(["web", "app", "shop"], len(frame))
    cases["no_positive_labels_three_columns"] = (
        frame,
        {"by": ["region", "age_band", "channel"], "threshold": 0.5},
    )
    return cases


def _same(ours: float, theirs: float | str) -> bool:
    if isinstance(theirs, str):
        return theirs == "nan" and math.isnan(ours)
    return ours == theirs


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("segment_cases")


@pytest.fixture(scope="module")
def compared(folder):
    """Each case's (our report, Fairlearn's numbers); Fairlearn runs once over all cases."""
    assert FAIRLEARN_PYTHON.exists(), "run tests/setup/fairlearn.sh first"
    cases = _cases()
    ours = {}
    with Store.open(folder / "oncall.duckdb") as store:
        for name, (frame, spec) in cases.items():
            frame.to_parquet(folder / f"{name}.parquet")
            (folder / f"{name}.json").write_text(json.dumps(spec))
            fields = {"version": "version"} if "version" in spec["by"] else {}
            features = [c for c in frame.columns if c not in ("prediction", "label", *fields)]
            store_records(store, name, frame, features, start=START + timedelta(seconds=1), fields=fields)
            ours[name] = evaluate_segments(
                store, name, spec["by"], AT, timedelta(days=1), threshold=spec["threshold"]
            )
    done = subprocess.run(
        [str(FAIRLEARN_PYTHON), str(DRIVER), str(folder)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    return {name: (ours[name], theirs[name], cases[name][0]) for name in cases}


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES)
def test_every_group_number_equals_fairlearn(compared, case):
    ours, theirs, _ = compared[case]
    assert [list(g.values) for g in ours.groups] == [g["values"] for g in theirs["groups"]]
    for group, expected in zip(ours.groups, theirs["groups"], strict=True):
        for metric in GROUP_METRICS:
            assert _same(group.metric(metric), expected[metric]), (group.values, metric, expected[metric])


@pytest.mark.parametrize("case", CASES)
def test_overall_and_fairness_equal_fairlearn(compared, case):
    ours, theirs, frame = compared[case]
    for metric in GROUP_METRICS:
        assert _same(ours.overall.metric(metric), theirs["overall"][metric]), metric
    for metric in FAIRNESS_METRICS:
        assert _same(ours.fairness[metric], theirs["fairness"][metric]), (metric, theirs["fairness"][metric])
    assert ours.left_out["unlabelled"] == int(frame["label"].isna().sum())


def test_the_command_prints_fairlearn_s_numbers_with_null_for_nan(compared, folder):
    _, theirs, _ = compared["intersectional_with_empty_and_single"]
    store = str(folder / "oncall.duckdb")
    argv = ["segments", "intersectional_with_empty_and_single", "--by", "region,age_band", "--store", store]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), *argv, "--at", AT.isoformat(), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert [list(g["values"].values()) for g in printed["groups"]] == [g["values"] for g in theirs["groups"]]
    for group, expected in zip(printed["groups"], theirs["groups"], strict=True):
        for metric in GROUP_METRICS:
            assert group[metric] == (None if expected[metric] == "nan" else expected[metric]), metric
    assert printed["fairness"] == theirs["fairness"]


def test_the_cases_reach_the_edges(compared):
    """The cases hold what the comparison is for: a one-row group, a group with no positives
    (TPR 0, not NaN), an empty combination (all NaN) and a NaN fairness measure."""
    groups = {g.values: g for g in compared["one_row_and_no_positives"][0].groups}
    assert groups[("LATAM",)].count == 1 and groups[("LATAM",)].tpr == 1.0
    assert groups[("AF",)].tpr == 0.0 and groups[("OC",)].precision == 0.0
    empty = {g.values: g for g in compared["intersectional_with_empty_and_single"][0].groups}[
        ("APAC", "40-60")
    ]
    assert all(math.isnan(empty.metric(m)) for m in GROUP_METRICS)
    assert math.isnan(compared["never_positive"][0].fairness["equalized_odds_ratio"])
    assert math.isnan(compared["no_positive_labels_three_columns"][0].fairness["equalized_odds_ratio"])
