"""`oncall drift` on CSV files, as a script runs it, against Evidently 0.7 on the same data.

The CLI reads the CSV files the test writes; Evidently gets the frames as they were meant
(Parquet), so a reader that turns a value into "missing" shows up as a different verdict.
"""

from __future__ import annotations

import json
import math
import operator
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from console.drift.catalogue import TESTS

ROOT = Path(__file__).resolve().parents[3]
EVIDENTLY_PYTHON = ROOT / ".venvs" / "evidently" / "bin" / "python"
DRIVER = Path(__file__).with_name("evidently_cli.py")
RULES = {
    "score <= threshold": operator.le,
    "score < threshold": operator.lt,
    "score >= threshold": operator.ge,
    "score > threshold": operator.gt,
}


def _cases() -> dict[str, dict]:
    """name -> reference, current, the CLI's options, and Evidently's equivalent spec."""
    rng = np.random.default_rng(20261203)
    cases: dict[str, dict] = {}

    def add(name, reference, current, argv, kinds, options=None, id_column=None, drift_share=0.5):
        cases[name] = {
            "reference": pd.DataFrame(reference),
            "current": pd.DataFrame(current),
            "argv": argv,
            "spec": {"kinds": kinds, "id": id_column, "options": options or {}, "drift_share": drift_share},
        }

    # `NA` is North America: 30% of the reference, half of the current; the other regions keep
    # their proportions, so reading NA as missing hides the shift (and drops 30% of the rows).
    amount_ref, amount_cur = rng.normal(50, 5, 1200), rng.normal(50, 5, 1000)
    amount_ref[[4, 40, 400]] = np.nan  # truly missing: an empty CSV field
    add(
        "region_na",
        {
            "region": rng.choice(["NA", "EU", "APAC", "LATAM"], 1200, p=[0.3, 0.25, 0.25, 0.2]),
            "segment": rng.choice(["None", "null", "nan", "N/A", "retail"], 1200),
            "amount": amount_ref,
        },
        {
            "region": rng.choice(
                ["NA", "EU", "APAC", "LATAM"], 1000, p=[0.5, 0.25 / 1.4, 0.25 / 1.4, 0.2 / 1.4]
            ),
            "segment": rng.choice(["None", "null", "nan", "N/A", "retail"], 1000),
            "amount": amount_cur,
        },
        [],
        {"region": "cat", "segment": "cat", "amount": "num"},
    )
    four = {
        "a": (rng.normal(0, 1, 3000), rng.normal(0.1, 1, 2000)),
        "b": (rng.gamma(2, 1, 3000), rng.gamma(2.3, 1, 2000)),
        "c": (rng.choice(list("pqrs"), 3000), rng.choice(list("pqrs"), 2000, p=[0.3, 0.3, 0.2, 0.2])),
        "d": (rng.choice(["x", "y"], 3000), rng.choice(["x", "y"], 2000, p=[0.55, 0.45])),
    }
    reference = {k: v[0] for k, v in four.items()}
    current = {k: v[1] for k, v in four.items()}
    kinds = {"a": "num", "b": "num", "c": "cat", "d": "cat"}
    add(
        "global_method_and_threshold",
        reference,
        current,
        ["--method", "psi", "--threshold", "0.02"],
        kinds,
        {"stattest": "psi", "stattest_threshold": 0.02},
    )
    add(
        "column_over_kind_over_global",
        reference,
        current,
        [
            *("--method", "jensenshannon", "--num-method", "ks", "--cat-method", "chisquare"),
            *("--method", "b=wasserstein", "--threshold", "0.3", "--num-threshold", "0.01"),
            *("--threshold", "d=0.2", "--drift-share", "0.3"),
        ],
        kinds,
        {
            "stattest": "jensenshannon",
            "num_stattest": "ks",
            "cat_stattest": "chisquare",
            "per_column_stattest": {"b": "wasserstein"},
            "stattest_threshold": 0.3,
            "num_stattest_threshold": 0.01,
            "per_column_stattest_threshold": {"d": 0.2},
        },
        drift_share=0.3,
    )
    add(
        "id_column_left_out",
        {**reference, "user_id": [f"u{i}" for i in range(3000)]},
        {**current, "user_id": [f"u{i}" for i in range(10_000, 12_000)]},
        ["--column-type", "user_id=id", "--cat-method", "jensenshannon", "--cat-threshold", "0.01"],
        kinds,
        {"cat_stattest": "jensenshannon", "cat_stattest_threshold": 0.01},
        id_column="user_id",
    )
    return cases


def _oncall(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), "drift", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Each case's (our JSON, Evidently's result, the folder with the CSV files)."""
    assert EVIDENTLY_PYTHON.exists(), "run tests/setup/evidently.sh (bash tests/run does) first"
    folder = tmp_path_factory.mktemp("drift_cli_cases")
    cases = _cases()
    ours = {}
    for name, case in cases.items():
        case["reference"].to_parquet(folder / f"{name}.reference.parquet")
        case["current"].to_parquet(folder / f"{name}.current.parquet")
        (folder / f"{name}.json").write_text(json.dumps(case["spec"]))
        case["reference"].to_csv(folder / f"{name}.reference.csv", index=False)
        case["current"].to_csv(folder / f"{name}.current.csv", index=False)
        files = ["--reference", f"{name}.reference.csv", "--current", f"{name}.current.csv"]
        done = _oncall([*files, *case["argv"], "--no-quality", "--format", "json"], folder)
        assert done.returncode in (0, 1, 3), done.stderr
        ours[name] = json.loads(done.stdout)
        assert ours[name]["outcome"]["exit_code"] == done.returncode
    done = subprocess.run(
        [str(EVIDENTLY_PYTHON), str(DRIVER), str(folder)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    return {name: (ours[name], theirs[name]) for name in cases}, folder


@pytest.mark.parametrize("case", sorted(_cases()))
def test_cli_columns_match_evidently(compared, case):
    ours, theirs = compared[0][case]
    columns = {c["column"]: c for c in ours["columns"]}
    assert set(columns) == set(theirs["columns"])
    for name, expected in theirs["columns"].items():
        column = columns[name]
        where = f"{case}/{name}"
        assert TESTS[column["method"]].title == expected["method"], where
        assert math.isclose(column["score"], expected["score"], rel_tol=1e-9, abs_tol=1e-15), where
        assert column["threshold"] == expected["threshold"], where
        assert column["drifted"] == expected["drifted"], (where, column, expected)
        assert column["kind"] == _cases()[case]["spec"]["kinds"][name], where
        # the label agrees with Evidently's own name for the score, and the rule gives the verdict
        assert (column["score_kind"] == "p_value") == expected["method"].endswith("p_value"), where
        assert RULES[column["drifts_when"]](column["score"], column["threshold"]) == column["drifted"], where


@pytest.mark.parametrize("case", sorted(_cases()))
def test_cli_dataset_verdict_matches_evidently(compared, case):
    ours, theirs = compared[0][case]
    assert ours["drifted_columns"] == theirs["dataset"]["drifted_columns"]
    assert math.isclose(ours["share"], theirs["dataset"]["share"], rel_tol=1e-12)
    assert ours["dataset_drift"] == theirs["dataset"]["drifted"]


def test_region_na_is_a_value_and_drifts_as_in_evidently(compared):
    ours, theirs = compared[0]["region_na"]
    region = next(c for c in ours["columns"] if c["column"] == "region")
    assert theirs["columns"]["region"]["drifted"] is True
    assert (region["method"], region["drifted"], region["reference_rows"]) == ("jensenshannon", True, 1200)
    segment = next(c for c in ours["columns"] if c["column"] == "segment")
    assert segment["reference_rows"] == 1200  # "None", "null", "nan", "N/A" are values too
    amount = next(c for c in ours["columns"] if c["column"] == "amount")
    assert amount["reference_rows"] == 1197  # the three empty fields are missing


def test_na_values_reads_the_old_way_and_loses_the_shift(compared):
    """What the reader did before: NA read as missing drops 30% of rows and switches the test."""
    folder = compared[1]
    files = ["--reference", "region_na.reference.csv", "--current", "region_na.current.csv"]
    done = _oncall([*files, "--na-values", "NA", "--no-quality", "--format", "json"], folder)
    region = next(c for c in json.loads(done.stdout)["columns"] if c["column"] == "region")
    assert region["reference_rows"] < 900 and region["method"] == "chisquare"
    assert region["drifted"] is False


def test_id_column_is_left_out_and_said_so(compared):
    ours, theirs = compared[0]["id_column_left_out"]
    assert "user_id" not in theirs["columns"]
    assert ours["excluded"] == [
        {
            "column": "user_id",
            "reason": "id column (--column-type): identifiers are not drift-tested or checked for new values",
        }
    ]
