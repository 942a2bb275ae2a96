"""Our drift verdicts against Evidently 0.7 itself, run in its own virtualenv on the same files."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from drift_cases import cases as _cases

from console.drift.stats import TESTS, dataset_drift

ROOT = Path(__file__).resolve().parents[3]
EVIDENTLY_PYTHON = ROOT / ".venvs" / "evidently" / "bin" / "python"
DRIVER = Path(__file__).with_name("evidently_drift.py")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Each case's (ours, Evidently's) results; Evidently runs once over all cases."""
    assert EVIDENTLY_PYTHON.exists(), "run tests/setup/evidently.sh (bash tests/run does) first"
    folder = tmp_path_factory.mktemp("drift_cases")
    cases = _cases()
    for name, (reference, current, spec) in cases.items():
        reference.to_parquet(folder / f"{name}.reference.parquet")
        current.to_parquet(folder / f"{name}.current.parquet")
        (folder / f"{name}.json").write_text(json.dumps(spec))
    done = subprocess.run(
        [str(EVIDENTLY_PYTHON), str(DRIVER), str(folder)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    ours = {}
    for name, (_, _, spec) in cases.items():
        reference = pd.read_parquet(folder / f"{name}.reference.parquet")
        current = pd.read_parquet(folder / f"{name}.current.parquet")
        ours[name] = dataset_drift(
            reference,
            current,
            kinds=spec["kinds"],
            methods=spec["methods"],
            thresholds=spec["thresholds"],
            drift_share=spec["drift_share"],
        )
    return {name: (ours[name], theirs[name]) for name in cases}


def _same_score(ours: float, theirs) -> bool:
    if isinstance(theirs, str):  # Evidently's inf/nan travel as text
        return repr(float(ours)) == theirs
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize("case", sorted(_cases()))
def test_columns_match_evidently(compared, case):
    ours, theirs = compared[case]
    for column in ours.columns:
        expected = theirs["columns"][column.column]
        if "error" in expected:
            assert column.status == "no data", (column, expected)
            continue
        where = f"{case}/{column.column}"
        assert column.status == "ok", where
        assert TESTS[column.method].title == expected["method"], where
        assert _same_score(column.score, expected["score"]), (where, column.score, expected["score"])
        assert column.threshold == expected["threshold"], where
        assert column.drifted == expected["drifted"], (where, column.score, expected)


@pytest.mark.parametrize("case", sorted(_cases()))
def test_dataset_verdict_matches_evidently(compared, case):
    ours, theirs = compared[case]
    assert theirs["dataset"] is not None
    assert ours.drifted_columns == theirs["dataset"]["drifted_columns"]
    assert math.isclose(ours.share, theirs["dataset"]["share"], rel_tol=1e-12)
    assert ours.drifted == theirs["dataset"]["drifted"]


def test_cases_cover_every_default_test_and_both_verdicts(compared):
    methods = {c.method for ours, _ in compared.values() for c in ours.columns if c.status == "ok"}
    verdicts = {c.drifted for ours, _ in compared.values() for c in ours.columns if c.status == "ok"}
    assert {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger"} <= methods
    assert verdicts == {True, False}
