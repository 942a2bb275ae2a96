"""Data quality of a current window against its reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from console.drift.quality import QualityThresholds, data_quality


def test_missing_out_of_range_and_new_categories():
    reference = pd.DataFrame({"amount": np.linspace(0, 100, 200), "country": ["de", "fr"] * 100})
    current = pd.DataFrame(
        {
            "amount": [np.nan] * 20 + [150.0] * 30 + [50.0] * 150,
            "country": ["de"] * 180 + ["es"] * 15 + [None] * 5,
        }
    )
    report = data_quality(reference, current)
    amount, country = report.columns
    assert amount.missing_share == 0.1
    assert amount.reference_range == (0.0, 100.0)
    assert amount.out_of_range_share == 30 / 180
    assert country.new_categories == ["es"] and country.new_category_share == 15 / 195
    assert country.missing_share == 0.025
    joined = " | ".join(report.problems)
    assert "'amount': missing share 0.1 > 0.05" in joined
    assert "'amount': out-of-range share" in joined and "range 0..100" in joined
    assert "'country': new categories es" in joined
    assert not any("'country': missing" in p for p in report.problems)


def test_thresholds_and_explicit_range():
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    current = pd.DataFrame({"x": [0.5, 2.0, 2.5, np.nan]})
    lenient = data_quality(
        reference, current, ranges={"x": (0.0, 10.0)}, thresholds=QualityThresholds(missing_share=0.5)
    )
    assert lenient.columns[0].out_of_range_share == 0.0 and lenient.problems == []
    strict = data_quality(reference, current)
    assert any("out-of-range share 0.333" in p for p in strict.problems)


def test_text_in_a_numeric_column_is_a_type_mismatch():
    reference = pd.DataFrame({"age": [30.0, 40.0, 50.0]})
    current = pd.DataFrame({"age": ["31", "forty", "45", None]})
    column = data_quality(reference, current).columns[0]
    assert column.kind == "num"
    assert column.type_mismatch_share == 1 / 3
    assert any("type mismatch" in p for p in column.problems)


def test_row_count_missing_columns_and_empty_window():
    reference = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    empty = data_quality(
        reference, pd.DataFrame({"a": pd.Series([], dtype=float)}), thresholds=QualityThresholds(min_rows=10)
    )
    assert empty.current_rows == 0
    assert empty.missing_columns == ["b"]
    assert empty.problems[0] == "current window has 0 rows (< 10): no data"
    assert empty.columns[0].missing_share is None and "no data" in empty.columns[0].problems


def test_all_missing_current_column_is_no_data():
    reference = pd.DataFrame({"a": [1.0, 2.0]})
    report = data_quality(reference, pd.DataFrame({"a": [np.nan, np.nan]}))
    assert report.columns[0].missing_share == 1.0
    assert "column 'a': no data" in report.problems
