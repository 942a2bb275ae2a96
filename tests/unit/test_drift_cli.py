"""`oncall drift --reference FILE --current FILE` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def oncall(*argv, cwd):
    return subprocess.run(
        [str(Path(sys.executable).with_name("oncall")), *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"amount": rng.normal(100, 10, 2000), "country": rng.choice(["de", "fr"], 2000)})
    drifted = pd.DataFrame({"amount": rng.normal(120, 10, 1500), "country": rng.choice(["de", "fr"], 1500)})
    steady = pd.DataFrame({"amount": rng.normal(100, 10, 1500), "country": rng.choice(["de", "fr"], 1500)})
    reference.to_csv(tmp_path / "reference.csv", index=False)
    drifted.to_parquet(tmp_path / "drifted.parquet")
    steady.to_json(tmp_path / "steady.jsonl", orient="records", lines=True)
    return tmp_path


def test_no_drift_exits_0_with_a_table(files):
    done = oncall("drift", "--reference", "reference.csv", "--current", "steady.jsonl", cwd=files)
    assert done.returncode == 0, done.stderr
    assert "dataset drift: no (0/2 columns drifted" in done.stdout
    assert "wasserstein" in done.stdout and "jensenshannon" in done.stdout


def test_drift_exits_1_and_json_names_the_column(files):
    done = oncall(
        "drift", "--reference", "reference.csv", "--current", "drifted.parquet", "--format", "json", cwd=files
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    by_name = {c["column"]: c for c in report["columns"]}
    assert by_name["amount"]["drifted"] is True and by_name["country"]["drifted"] is False
    assert report["share"] == 0.5 and report["dataset_drift"] is True
    assert report["quality"]["problems"] == [
        next(p for p in report["quality"]["problems"] if p.startswith("column 'amount': out-of-range share"))
    ]


def test_per_column_method_type_and_threshold(files):
    done = oncall(
        "drift",
        "--reference",
        "reference.csv",
        "--current",
        "drifted.parquet",
        "--format",
        "json",
        "--method",
        "amount=psi",
        "--threshold",
        "amount=50",
        "--column-type",
        "country=cat",
        "--no-quality",
        cwd=files,
    )
    amount = json.loads(done.stdout)["columns"][0]
    assert (amount["method"], amount["threshold"], amount["drifted"]) == ("psi", 50.0, False)
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--current", "missing.csv"], "missing.csv: no such file"),
        (["--current", "steady.jsonl", "--method", "country=ks"], "does not apply to categorical"),
        (
            ["--current", "steady.jsonl", "--column-type", "amount=float"],
            "'float' is not num, cat, text or id",
        ),
        (["--current", "steady.jsonl", "--method", "nope"], "--method 'nope': unknown drift test 'nope'"),
        (["--current", "steady.jsonl", "--method", "=ks"], "expected VALUE (every column) or COLUMN=VALUE"),
        (["--current", "steady.jsonl", "--method", "ks"], "use --num-method ks to test only numeric"),
        (["--current", "steady.jsonl", "--threshold", "0.1", "--threshold", "0.2"], "given 2 times"),
        (["--current", "steady.jsonl", "--cat-method", "ks"], "does not apply to categorical columns"),
        (["--current", "steady.jsonl", "--exclude", "nowhere"], "'nowhere', which is in neither file"),
        (["--current", "steady.jsonl", "--method", "nowhere=ks"], "not a column of both files"),
        (["--current", "steady.jsonl", "--max-missing-share", "2"], "not a share in [0, 1]"),
        (["--current", "steady.jsonl", "--report", "out.pdf"], "use a .md or .html file"),
        (["--current", "steady.jsonl", "--threshold", "nan"], "--threshold 'nan': give a finite number"),
        (["--current", "steady.jsonl", "--min-rows", "-1"], "expected a whole number of rows"),
        (["--current", "reference.txt"], "unknown file type '.txt'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(files, argv, message):
    done = oncall("drift", "--reference", "reference.csv", *argv, cwd=files)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_empty_current_file_reports_no_data(files):
    (files / "empty.csv").write_text("amount,country\n")
    done = oncall("drift", "--reference", "reference.csv", "--current", "empty.csv", cwd=files)
    assert done.returncode == 4
    assert "no data" in done.stdout and "Traceback" not in done.stderr


def test_record_writes_series_that_rules_can_query(files):
    env_now = "2026-11-26T12:00:00Z"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("oncall")),
            "drift",
            "--reference",
            "reference.csv",
            "--current",
            "drifted.parquet",
            "--record",
            "fraud",
            "--store",
            "oncall.duckdb",
        ],
        capture_output=True,
        text=True,
        cwd=files,
        timeout=120,
        env={**__import__("os").environ, "ONCALL_NOW": env_now},
    )
    assert done.returncode == 1, done.stderr
    query = oncall(
        "query",
        "--store",
        "oncall.duckdb",
        "--format",
        "json",
        "SELECT s.name, s.labels, p.ts, p.value FROM samples p JOIN series s ON s.id = p.series_id "
        "ORDER BY s.name, s.labels",
        cwd=files,
    )
    assert query.returncode == 0, query.stderr
    rows = {(r["name"], r["labels"]): r["value"] for r in json.loads(query.stdout)}
    assert rows[("oncall_dataset_drift", '{"model":"fraud"}')] == 1.0
    assert rows[("oncall_drift_share", '{"model":"fraud"}')] == 0.5
    assert rows[("oncall_drift_detected", '{"column":"amount","model":"fraud"}')] == 1.0
    assert rows[("oncall_drift_detected", '{"column":"country","model":"fraud"}')] == 0.0
    assert rows[("oncall_drift_score", '{"column":"amount","model":"fraud","test":"wasserstein"}')] > 1
    assert rows[("oncall_quality_rows", '{"model":"fraud"}')] == 1500
    assert {r["ts"] for r in json.loads(query.stdout)} == {"2026-11-26T12:00:00Z"}
