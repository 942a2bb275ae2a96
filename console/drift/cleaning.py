"""Cleaning and counting a column as Evidently 0.7 does before any test: no missing values, no ±inf."""

from __future__ import annotations

from typing import Any

import numpy as np


def clean_numeric(values: Any) -> np.ndarray:
    """The column as float64 without NaN and ±inf (Evidently drops those rows per column)."""
    array = _as_float(values)
    finite = np.isfinite(array)
    return array if finite.all() else array[finite]


def _as_float(values: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(values, pd.Series):
        if pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype("float64")
        if not pd.api.types.is_numeric_dtype(values.dtype):
            values = pd.to_numeric(values, errors="coerce")  # text that is no number counts as missing
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(values, dtype="float64")


def clean_categorical(values: Any) -> np.ndarray:
    """The column as an object array without missing values and ±inf."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    keep = series.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        keep = keep & np.isfinite(series.to_numpy(dtype="float64", na_value=np.nan))  # keep may be read-only
    return series.to_numpy(dtype=object)[keep]


def category_counts(reference: np.ndarray, current: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """Sorted keys of both columns and each side's count per key (zero where a side lacks the key)."""
    import pandas as pd

    codes, uniques = pd.factorize(np.concatenate([reference, current]), sort=False)
    order = _sort_order(list(uniques))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[codes]
    keys = [uniques[i] for i in order]
    n_keys = len(keys)
    ref_counts = np.bincount(codes[: len(reference)], minlength=n_keys)
    cur_counts = np.bincount(codes[len(reference) :], minlength=n_keys)
    return keys, ref_counts, cur_counts


def _sort_order(keys: list) -> list[int]:
    try:
        return sorted(range(len(keys)), key=lambda i: keys[i])
    except TypeError:
        return sorted(range(len(keys)), key=lambda i: (type(keys[i]).__name__, str(keys[i])))


def distinct_sorted(sorted_values: np.ndarray) -> int:
    if sorted_values.size == 0:
        return 0
    return 1 + int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]))
