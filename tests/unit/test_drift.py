"""Drift core: Evidently's test choice, the definitions behind the scores, overrides and no-data cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from console.drift.stats import DriftError, column_drift, dataset_drift, infer_kind, wasserstein_sorted

rng = np.random.default_rng(11)


@pytest.mark.parametrize(("rows", "expected"), [(1000, "ks"), (1001, "wasserstein")])
def test_numeric_test_switches_after_1000_reference_rows(rows, expected):
    result = column_drift("x", rng.normal(size=rows), rng.normal(size=500), "num")
    assert result.method == expected


def test_rows_with_nan_or_inf_do_not_count_towards_the_1000():
    reference = rng.normal(size=1003)
    reference[:2] = np.nan
    reference[2], reference[3] = np.inf, -np.inf
    result = column_drift("x", reference, rng.normal(size=500), "num")
    assert (result.method, result.reference_rows) == ("ks", 999)


@pytest.mark.parametrize(
    ("values", "rows", "expected"),
    [
        ([0.0, 1.0], 500, "z"),
        ([0.0, 1.0, 2.0], 500, "chisquare"),
        ([0.0, 1.0, 2.0, 3.0, 4.0], 500, "chisquare"),
        ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 500, "ks"),
        ([0.0, 1.0, 2.0], 5000, "jensenshannon"),
        ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 5000, "wasserstein"),
    ],
)
def test_low_cardinality_numeric_columns_get_the_discrete_tests(values, rows, expected):
    result = column_drift("x", rng.choice(values, rows), rng.choice(values, 300), "num")
    assert result.method == expected


@pytest.mark.parametrize(
    ("values", "rows", "expected"),
    [
        (["a", "b"], 800, "z"),
        (["a", "b", "c"], 800, "chisquare"),
        (["a", "b"], 1200, "jensenshannon"),
    ],
)
def test_categorical_columns(values, rows, expected):
    assert column_drift("c", rng.choice(values, rows), rng.choice(values, 300), "cat").method == expected


def test_a_new_category_in_a_small_sample_is_drift():
    result = column_drift("c", ["a", "b", "c"] * 100, ["a", "b", "c", "d"] * 50, "cat")
    assert (result.method, result.score, result.drifted) == ("chisquare", 0.0, True)


def test_wasserstein_is_normed_by_the_reference_std_with_a_floor():
    reference = np.full(2000, 5.0)
    current = np.concatenate([np.full(1000, 5.0), np.full(1000, 5.01)])
    result = column_drift("x", reference, current, "num", method="wasserstein")
    assert result.score == pytest.approx(0.005 / 0.001)
    assert result.drifted


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=45),
)
def test_our_wasserstein_equals_scipys(reference, current):
    ours = wasserstein_sorted(np.sort(reference), np.sort(current))
    assert ours == pytest.approx(wasserstein_distance(reference, current), rel=1e-9, abs=1e-9)


def test_overrides_change_test_and_threshold():
    reference, current = rng.normal(size=3000), rng.normal(0.08, 1, 3000)
    default = column_drift("x", reference, current, "num")
    strict = column_drift("x", reference, current, "num", threshold=0.01)
    psi = column_drift("x", reference, current, "num", method="psi")
    assert default.method == "wasserstein" and not default.drifted
    assert strict.drifted and strict.threshold == 0.01
    assert psi.method == "psi" and psi.threshold == 0.1


def test_unknown_or_unfit_tests_are_refused():
    with pytest.raises(DriftError, match="unknown drift test 'foo'"):
        column_drift("x", [1.0], [1.0], "num", method="foo")
    with pytest.raises(DriftError, match="does not apply to categorical"):
        column_drift("c", ["a"], ["b"], "cat", method="wasserstein")


def test_all_missing_and_empty_columns_are_no_data():
    missing = column_drift("x", [np.nan, np.inf], [1.0, 2.0], "num")
    empty = column_drift("c", [], ["a"], "cat")
    assert (missing.status, missing.score, missing.drifted) == ("no data", None, None)
    assert empty.status == "no data"


def test_dataset_share_counts_only_columns_with_data():
    reference = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000), "gone": np.nan})
    current = pd.DataFrame({"a": rng.normal(1, 1, 2000), "b": rng.normal(size=2000), "gone": np.nan})
    result = dataset_drift(reference, current)
    assert [c.status for c in result.columns] == ["ok", "ok", "no data"]
    assert (result.drifted_columns, result.share, result.drifted) == (1, 0.5, True)
    assert dataset_drift(reference, current, drift_share=0.6).drifted is False


def test_empty_current_window_is_no_data_not_a_crash():
    reference = pd.DataFrame({"a": rng.normal(size=100), "c": ["x"] * 100})
    result = dataset_drift(reference, reference.iloc[:0])
    assert result.share is None and result.drifted is None
    assert {c.status for c in result.columns} == {"no data"}


def test_overrides_must_name_columns():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(DriftError, match="'b'"):
        dataset_drift(frame, frame, methods={"b": "psi"})


def test_kind_inference_follows_evidently():
    assert infer_kind(pd.Series([0.5, 1.5])) == "num"
    assert infer_kind(pd.Series(range(5))) == "cat"
    assert infer_kind(pd.Series(range(50))) == "num"
    assert infer_kind(pd.Series(["a", "b"])) == "cat"
    assert infer_kind(pd.Series([True, False])) == "cat"


def test_numbers_written_as_text_are_parsed_and_junk_is_dropped():
    reference = pd.Series(["1.5", "2.5", "x"] * 10, dtype=object)
    result = column_drift("x", reference, pd.Series([1.5, 2.5] * 10), "num")
    assert result.reference_rows == 20 and result.status == "ok"
