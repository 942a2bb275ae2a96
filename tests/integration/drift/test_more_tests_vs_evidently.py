"""The further tests (Anderson-Darling ... empirical MMD) against Evidently 0.7 itself: each applied to
every column of its kind in the generated cases of test_drift_vs_evidently.py, plus equal-size cases
(Evidently's Fisher's exact test and G-test refuse samples of unequal size)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_cases import cases as base_cases

from console.drift.catalogue import CAT, NUM
from console.drift.category_tests import TVD_PERMUTATIONS, tvd_permutations
from console.drift.cleaning import clean_categorical
from console.drift.stats import TESTS, ColumnDrift, dataset_drift

ROOT = Path(__file__).resolve().parents[3]
EVIDENTLY_PYTHON = ROOT / ".venvs" / "evidently" / "bin" / "python"
DRIVER = Path(__file__).with_name("evidently_drift.py")
NEW_TESTS = {
    NUM: ("anderson", "cramer_von_mises", "t_test", "mannw", "ed", "es", "empirical_mmd"),
    CAT: ("fisher_exact", "g_test", "TVD"),
}
MMD_ROWS = 2200  # Evidently holds the whole kernel and copies it per permutation: small cases only
IDENTICAL = ("identical, no drift",)
# Evidently's refusals, each with what we do instead (docs/drift_tests.md).
REFUSALS = {
    "empty column": "no data",  # nothing left after cleaning
    "not of equal length": "ok",  # Fisher's exact: any sizes make a 2x2 table
    "sum of the observed frequencies must agree": "ok",  # G-test: expected counts scaled to current
    "unique categories > 2": "failed",  # Fisher's exact on a column that is not binary
    "needs more than one distinct observation": "identical",  # Anderson-Darling on one same value
    "interquartile range (IQR) is zero": "identical or failed",  # Epps-Singleton without spread
    "Cannot cast ufunc": "ok",  # Evidently's exact Cramer-von Mises (up to 20 values) fails on numpy 2
}


def _equal_size_cases(rng: np.random.Generator) -> dict:
    cases = {}
    for rows in (40, 1500):
        reference = {
            "plan": rng.choice(["free", "pro"], rows),
            "coin": rng.choice([0, 1], rows),
            "only": ["x"] * rows,
            "tier": rng.choice(list("abcd"), rows),
            "city": rng.choice(["berlin", "paris", "rome"], rows),
            "moved": rng.normal(0, 1, rows),
            "wide": rng.exponential(2, rows),
        }
        current = {
            "plan": rng.choice(["free", "pro"], rows, p=[0.4, 0.6]),
            "coin": rng.choice([0, 1], rows),
            "only": ["x"] * rows,
            "tier": rng.choice(list("abcd"), rows, p=[0.1, 0.3, 0.3, 0.3]),
            "city": rng.choice(["berlin", "paris", "oslo"], rows),
            "moved": rng.normal(0.3, 1, rows),
            "wide": rng.exponential(2.1, rows),
        }
        kinds = {c: CAT for c in ("plan", "coin", "only", "tier", "city")} | {"moved": NUM, "wide": NUM}
        cases[f"equal_sizes_{rows}"] = (pd.DataFrame(reference), pd.DataFrame(current), kinds)
    return cases


def _cases() -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict]]:
    """Each base case once per new test, on every column of the test's kind; then two mixed cases."""
    sources = {name: (ref, cur, spec["kinds"]) for name, (ref, cur, spec) in base_cases().items()}
    sources |= _equal_size_cases(np.random.default_rng(20261203))
    cases = {}
    for name, (reference, current, kinds) in sources.items():
        for kind, tests in NEW_TESTS.items():
            columns = {c: k for c, k in kinds.items() if k == kind}
            for test in tests:
                if not columns or (test == "empirical_mmd" and len(reference) + len(current) > MMD_ROWS):
                    continue
                spec = {"kinds": columns, "methods": dict.fromkeys(columns, test), "dataset": False}
                cases[f"{name}__{test}"] = (reference, current, spec | {"thresholds": {}, "drift_share": 0.5})
    cases |= _mixed_cases(sources)
    return cases


def _mixed_cases(sources: dict) -> dict:
    """Dataset verdicts with a new test on each column (no MMD: one generator serves all columns)."""
    reference, current, _ = sources["equal_sizes_1500"]
    equal = {"plan": "fisher_exact", "tier": "g_test", "coin": "TVD", "moved": "mannw", "wide": "anderson"}
    reference2, current2, _ = sources["heavy_tails"]
    heavy = {"cauchy": "es", "pareto": "cramer_von_mises", "lognormal": "ed"}
    kinds = {c: (NUM if c in ("moved", "wide") else CAT) for c in equal}
    return {
        "mixed_equal": (
            reference,
            current,
            {"kinds": kinds, "methods": equal, "thresholds": {"plan": 0.01}, "drift_share": 0.4},
        ),
        "mixed_heavy": (
            reference2,
            current2,
            {"kinds": dict.fromkeys(heavy, NUM), "methods": heavy, "thresholds": {"lognormal": 0.2}},
        ),
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Each case's (ours, Evidently's) results; Evidently runs once over all cases."""
    assert EVIDENTLY_PYTHON.exists(), "run tests/setup/evidently.sh (bash tests/run does) first"
    folder = tmp_path_factory.mktemp("more_drift_cases")
    cases = _cases()
    for name, (reference, current, spec) in cases.items():
        reference.to_parquet(folder / f"{name}.reference.parquet")
        current.to_parquet(folder / f"{name}.current.parquet")
        (folder / f"{name}.json").write_text(json.dumps({"drift_share": 0.5, "thresholds": {}} | spec))
    done = subprocess.run(
        [str(EVIDENTLY_PYTHON), str(DRIVER), str(folder)], capture_output=True, text=True, timeout=1500
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    ours, ties = {}, {}
    for name, (_, _, spec) in cases.items():
        reference = pd.read_parquet(folder / f"{name}.reference.parquet")
        current = pd.read_parquet(folder / f"{name}.current.parquet")
        ties[name] = _tvd_ties(reference, current, spec)
        ours[name] = dataset_drift(
            reference,
            current,
            columns=list(spec["kinds"]),
            kinds=spec["kinds"],
            methods=spec["methods"],
            thresholds=spec.get("thresholds", {}),
            drift_share=spec.get("drift_share", 0.5),
        )
    return {name: (ours[name], theirs[name], ties[name]) for name in cases}


def _tvd_ties(reference: pd.DataFrame, current: pd.DataFrame, spec: dict) -> dict[str, int]:
    """Per TVD column, the permuted splits exactly as far apart as the observed one.

    Evidently compares those in floating point, summing the categories in the order of a Python set
    of their values, so whether it counts them depends on PYTHONHASHSEED; we count them all.
    """
    ties = {}
    for column, test in spec["methods"].items():
        if test == "TVD":
            pooled = np.concatenate(
                [clean_categorical(reference[column]), clean_categorical(current[column])]
            )
            ties[column] = tvd_permutations(
                pd.factorize(pooled)[0], len(clean_categorical(reference[column]))
            )[1]
    return ties


def _same_score(ours: float, theirs) -> bool:
    if isinstance(theirs, str):  # Evidently's inf/nan travel as text
        return repr(float(ours)) == theirs
    return math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-15)  # p = 1 - cdf: ~1e-16 absolute


def _identical(column: ColumnDrift) -> bool:
    return column.note is not None and column.note.endswith(IDENTICAL)


def _check_refusal(column: ColumnDrift, error: str, where: str) -> None:
    """Evidently refused the column: ours does what REFUSALS says."""
    expected = next((ours for key, ours in REFUSALS.items() if key in error), None)
    assert expected is not None, (where, "Evidently failed in a way we do not expect", error)
    if expected == "identical":
        assert column.status == "ok" and _identical(column) and not column.drifted, (where, column)
    elif expected == "identical or failed":
        assert (column.status == "ok" and _identical(column)) or column.status == "failed", (where, column)
    else:
        assert column.status == expected, (where, column, error)


def _check_scored(column: ColumnDrift, expected: dict, where: str, ties: int = 0) -> None:
    assert TESTS[str(column.method)].title == expected["method"], where
    assert column.threshold == expected["threshold"], where
    if _identical(column):  # one same value on both sides: Evidently may give NaN or even drift
        assert column.drifted is False and column.status == "ok", (where, column)
        return
    assert column.status == "ok", (where, column)
    assert column.score is not None
    if ties:  # Evidently counts some, all or none of the exact ties: its p-value is at most ours
        assert column.score - ties / TVD_PERMUTATIONS - 1e-12 <= expected["score"] <= column.score, (
            where,
            column.score,
            expected["score"],
            ties,
        )
    else:
        assert _same_score(column.score, expected["score"]), (where, column.score, expected["score"])
    assert column.drifted == expected["drifted"], (where, column.score, expected)


@pytest.mark.parametrize("case", sorted(_cases()))
def test_columns_match_evidently(compared, case):
    ours, theirs, ties = compared[case]
    for column in ours.columns:
        expected = theirs["columns"][column.column]
        where = f"{case}/{column.column}"
        if "error" in expected:
            _check_refusal(column, expected["error"], where)
        else:
            _check_scored(column, expected, where, ties.get(column.column, 0))


@pytest.mark.parametrize("case", ["mixed_equal", "mixed_heavy"])
def test_dataset_verdict_matches_evidently(compared, case):
    ours, theirs, _ = compared[case]
    assert theirs["dataset"] is not None
    assert ours.drifted_columns == theirs["dataset"]["drifted_columns"]
    assert math.isclose(ours.share, theirs["dataset"]["share"], rel_tol=1e-12)
    assert ours.drifted == theirs["dataset"]["drifted"]


def test_every_new_test_scores_and_both_verdicts_occur(compared):
    """Each new test is compared on scored columns (not only refusals), drifting and not."""
    scored: dict[str, set] = {}
    for ours, theirs, _ in compared.values():
        for column in ours.columns:
            if column.status == "ok" and "error" not in theirs["columns"][column.column]:
                scored.setdefault(str(column.method), set()).add(column.drifted)
    for test in NEW_TESTS[NUM] + NEW_TESTS[CAT]:
        assert scored.get(test) == {True, False}, (test, scored.get(test))
