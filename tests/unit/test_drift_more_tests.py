"""The further drift tests at their edges: constant columns, one category, empty or tiny sides,
and the cases where Evidently fails and we say what happened instead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact, power_divergence

from console.drift.config import DriftWindow
from console.drift.mmd import MMD_MAX_ROWS
from console.drift.stats import TESTS, DriftError, column_drift, dataset_drift, resolve_test, result_samples

rng = np.random.default_rng(7)
NUMERIC = ("anderson", "cramer_von_mises", "t_test", "mannw", "ed", "es", "empirical_mmd")
CATEGORICAL = ("fisher_exact", "g_test", "TVD")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("anderson", "anderson"),
        ("cramer_von_mises", "cramer_von_mises"),
        ("t_test", "t_test"),
        ("mannw", "mannw"),
        ("ed", "ed"),
        ("es", "es"),
        ("empirical_mmd", "empirical_mmd"),
        ("fisher_exact", "fisher_exact"),
        ("g_test", "g_test"),
        ("TVD", "TVD"),
        ("tvd", "TVD"),
        ("energy_distance", "ed"),
        ("epps_singleton", "es"),
    ],
)
def test_evidently_names_select_the_tests(name, expected):
    assert resolve_test(name).name == expected


def test_a_workspace_window_accepts_the_new_names():
    window = DriftWindow.model_validate(
        {"model": "m", "reference": {"file": "r.csv"}, "methods": {"amount": "anderson", "plan": "TVD"}}
    )
    assert window.methods == {"amount": "anderson", "plan": "TVD"}


@pytest.mark.parametrize(("name", "kind"), [("fisher_exact", "num"), ("TVD", "num"), ("anderson", "cat")])
def test_a_test_refuses_the_other_kind_of_column(name, kind):
    with pytest.raises(DriftError, match="does not apply"):
        column_drift("x", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], kind, name)


def test_defaults_and_comparisons_are_evidentlys():
    expected = {
        "anderson": (0.1, "p<"),
        "cramer_von_mises": (0.1, "p<="),
        "t_test": (0.05, "p<"),
        "mannw": (0.05, "p<"),
        "ed": (0.1, ">"),
        "es": (0.05, "p<"),
        "empirical_mmd": (0.1, "p<"),
        "fisher_exact": (0.1, "p<"),
        "g_test": (0.1, "p<"),
        "TVD": (0.1, "p<"),
    }
    assert {n: (TESTS[n].threshold, TESTS[n].drift_when) for n in expected} == expected
    assert not TESTS["ed"].drifted(0.1, 0.1)  # energy distance drifts strictly above
    assert TESTS["cramer_von_mises"].drifted(0.1, 0.1)
    assert TESTS["ed"].score_kind == "distance" and TESTS["TVD"].score_kind == "p_value"


@pytest.mark.parametrize("name", NUMERIC)
def test_one_same_value_on_both_sides_is_no_drift(name):
    result = column_drift("x", np.full(60, 3.0), np.full(40, 3.0), "num", name)
    assert result.status == "ok"
    assert result.drifted is False
    assert result.score == (0.0 if name == "ed" else 1.0)


@pytest.mark.parametrize("name", ["anderson", "cramer_von_mises", "t_test", "es"])
def test_identical_constants_say_so(name):
    """Evidently fails (anderson, es), returns NaN (t_test) or even drift (cramer_von_mises) here."""
    result = column_drift("x", np.full(60, 3.0), np.full(40, 3.0), "num", name)
    assert result.note == "both samples hold the single value 3: identical, no drift"


@pytest.mark.parametrize("name", ["anderson", "cramer_von_mises", "t_test", "mannw", "ed", "empirical_mmd"])
def test_two_different_constants_drift(name):
    result = column_drift("x", np.full(60, 3.0), np.full(40, 4.0), "num", name)
    assert result.status == "ok" and result.drifted is True, result


def test_epps_singleton_without_spread_fails_loudly():
    result = column_drift("x", np.full(60, 3.0), [3.0] * 35 + [4.0] * 5, "num", "es")
    assert (result.status, result.score, result.drifted) == ("failed", None, None)
    assert "interquartile range" in result.note


def test_epps_singleton_needs_five_values_a_side():
    result = column_drift("x", rng.normal(size=50), rng.normal(size=4), "num", "es")
    assert result.status == "failed"
    assert "at least 5 values on each side (reference 50, current 4)" in result.note


@pytest.mark.parametrize(("name", "rows"), [("cramer_von_mises", 1), ("empirical_mmd", 1), ("t_test", 1)])
def test_too_few_values_fail_with_the_reason(name, rows):
    result = column_drift("x", [1.0], rng.normal(size=rows), "num", name)
    assert result.status == "failed" and result.note, result


@pytest.mark.parametrize("name", NUMERIC + CATEGORICAL)
def test_an_empty_current_side_is_no_data(name):
    kind = "num" if name in NUMERIC else "cat"
    reference = rng.normal(size=50) if kind == "num" else rng.choice(["a", "b"], 50)
    result = column_drift("x", reference, [np.nan, np.nan] if kind == "num" else [None], kind, name)
    assert (result.status, result.score, result.current_rows) == ("no data", None, 0)


@pytest.mark.parametrize("name", CATEGORICAL)
def test_one_category_on_both_sides_is_no_drift(name):
    result = column_drift("c", ["only"] * 30, ["only"] * 20, "cat", name)
    assert (result.status, result.score, result.drifted) == ("ok", 1.0, False)


def test_fisher_exact_needs_a_binary_column():
    result = column_drift("c", ["a", "b"] * 20, ["a", "c"] * 20, "cat", "fisher_exact")
    assert result.status == "failed"
    assert "needs a binary column; found 3 categories ('a', 'b', 'c')" in result.note


def test_fisher_exact_takes_samples_of_any_size():
    """Evidently refuses unequal sizes; the 2×2 table needs none."""
    result = column_drift("c", ["no"] * 70 + ["yes"] * 30, ["no"] * 20 + ["yes"] * 25, "cat", "fisher_exact")
    assert result.score == pytest.approx(fisher_exact([[25, 20], [30, 70]]).pvalue, rel=1e-12)
    assert result.drifted is True


def test_g_test_scales_the_reference_to_the_current_size():
    """Evidently passes raw reference counts as expected counts, which scipy refuses unless sizes agree."""
    result = column_drift("c", ["a"] * 50 + ["b"] * 150, ["a"] * 40 + ["b"] * 60, "cat", "g_test")
    expected = power_divergence([40, 60], [25.0, 75.0], lambda_="log-likelihood").pvalue
    assert result.score == pytest.approx(expected, rel=1e-12)


def test_g_test_names_a_category_the_reference_lacks():
    result = column_drift("c", ["a", "b"] * 50, ["a", "b", "new"] * 20, "cat", "g_test")
    assert (result.score, result.drifted) == (0.0, True)
    assert "categories absent from the reference ('new')" in result.note


def test_mann_whitney_is_one_sided_as_in_evidently():
    reference = rng.normal(0, 1, 800)
    assert column_drift("x", reference, rng.normal(0.4, 1, 800), "num", "mannw").drifted is True
    assert column_drift("x", reference, rng.normal(-0.4, 1, 800), "num", "mannw").drifted is False


def test_anderson_darling_says_when_its_p_value_is_capped():
    sample = rng.normal(size=400)
    result = column_drift("x", sample, sample, "num", "anderson")
    assert result.score == 0.25
    assert "capped at 0.25" in result.note


def test_permutation_tests_give_the_same_answer_twice():
    reference, current = rng.normal(0, 1, 300), rng.normal(0.15, 1, 200)
    first = column_drift("x", reference, current, "num", "empirical_mmd")
    assert column_drift("x", reference, current, "num", "empirical_mmd").score == first.score
    cats = rng.choice(list("abc"), 300), rng.choice(list("abc"), 200, p=[0.4, 0.3, 0.3])
    assert column_drift("c", *cats, "cat", "TVD").score == column_drift("c", *cats, "cat", "TVD").score


def test_empirical_mmd_refuses_more_rows_than_its_kernel_can_hold():
    result = column_drift("x", rng.normal(size=MMD_MAX_ROWS), rng.normal(size=10), "num", "empirical_mmd")
    assert result.status == "failed"
    assert "quadratic in rows" in result.note


def test_a_failed_column_counts_neither_way_and_writes_no_score():
    reference = pd.DataFrame({"flat": np.full(100, 1.0), "moved": rng.normal(0, 1, 100)})
    current = pd.DataFrame({"flat": [1.0] * 75 + [2.0] * 5, "moved": rng.normal(1, 1, 80)})
    drift = dataset_drift(reference, current, methods={"flat": "es", "moved": "t_test"})
    assert [c.status for c in drift.columns] == ["failed", "ok"]
    assert (drift.drifted_columns, len(drift.tested()), drift.share) == (1, 1, 1.0)
    assert drift.as_dict()["columns"][0]["note"].startswith("Epps-Singleton needs spread")
    samples = result_samples(drift, "m", pd.Timestamp("2026-12-03"))
    assert "flat" not in str(samples.column("labels").to_pylist())


def test_tvd_on_many_rows_draws_the_splits_as_counts_and_says_so(monkeypatch):
    """Same null distribution as permuting the rows (hypergeometric counts): a p-value close to it."""
    from console.drift import category_tests

    own = np.random.default_rng(7)  # not the module's: the data must not depend on which tests ran first
    reference = own.choice(list("abcd"), 3000)
    current = own.choice(list("abcd"), 2000, p=[0.27, 0.25, 0.25, 0.23])
    permuted = column_drift("c", reference, current, "cat", "TVD")
    monkeypatch.setattr(category_tests, "TVD_PERMUTED_MAX_ROWS", 4000)
    drawn = column_drift("c", reference, current, "cat", "TVD")
    assert permuted.note is None
    assert drawn.note.startswith(
        "p-value from 1000 random splits drawn as multivariate hypergeometric counts"
    )
    # two estimates of one p-value from 1000 draws each: their difference has a standard error
    # of about sqrt(2 p (1 - p) / 1000); four of them is a wide margin, a wrong null is far outside
    margin = 4 * np.sqrt(2 * permuted.score * (1 - permuted.score) / 1000)
    assert abs(drawn.score - permuted.score) < margin, (drawn.score, permuted.score, margin)


def test_empirical_mmd_does_not_depend_on_where_the_values_sit():
    """Evidently's x² - 2xy + y² turns values near 1e9 into negative distances and an overflowing kernel."""
    reference, current = rng.normal(0, 1, 300), rng.normal(0.05, 1, 200)
    near_zero = column_drift("x", reference, current, "num", "empirical_mmd")
    far = column_drift("x", reference + 1e9, current + 1e9, "num", "empirical_mmd")
    assert 0.0 < near_zero.score < 1.0
    assert far.score == near_zero.score


def test_anderson_darling_needs_four_values():
    result = column_drift("x", [1.0, 2.0], [3.0], "num", "anderson")
    assert result.status == "failed" and "at least 4 values" in result.note


def test_an_incident_shows_energy_distance_drifting_strictly_above():
    from datetime import datetime

    from console.incidents.shifts import DataShift

    at = datetime(2026, 12, 3, 11, 37)
    assert DataShift("m", "amount", "ed", 0.5, 0.1, ">", at, at).verdict() == "ed 0.50 > 0.1"
    assert (
        DataShift("m", "amount", "wasserstein", 0.5, 0.1, ">=", at, at).verdict() == "wasserstein 0.50 ≥ 0.1"
    )
