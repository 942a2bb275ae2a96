"""The calibration check's random splits: the test parts of scikit-learn's
StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42), drawn on a thread."""

from __future__ import annotations

import math

import numpy as np
import pytest

from console.drift.calibration_splits import (
    CalibrationError,
    _approximate_mode,
    draw_test_parts,
    stratified_test_parts,
)


def sklearn_test_parts(labels: np.ndarray) -> list[np.ndarray]:
    """scikit-learn 1.x's `StratifiedShuffleSplit._iter_indices` for 0/1 labels, as it is written:
    a legacy RandomState, a permutation of each class, of the train part and of the test part."""
    n = labels.size
    n_test = math.ceil(0.1 * n)
    n_train = n - n_test
    classes, y_indices = np.unique(labels, return_inverse=True)
    class_counts = np.bincount(y_indices)
    class_indices = np.split(np.argsort(y_indices, kind="mergesort"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(42)
    parts = []
    for _ in range(10):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        train, test = [], []
        for i in range(len(classes)):
            permutation = rng.permutation(class_counts[i])
            indices = class_indices[i].take(permutation, mode="clip")
            train.extend(indices[: n_i[i]])
            test.extend(indices[n_i[i] : n_i[i] + t_i[i]])
        rng.permutation(train)
        parts.append(rng.permutation(test))
    return parts


@pytest.mark.parametrize(("rows", "share"), [(20, 0.5), (997, 0.3), (20_011, 0.05), (200_000, 0.4)])
def test_the_splits_are_scikit_learns_draw_for_draw(rows: int, share: float) -> None:
    labels = (np.random.default_rng(rows).random(rows) < share).astype(np.float64)
    expected = sklearn_test_parts(labels)
    drawn = draw_test_parts(labels)
    assert drawn is not None
    try:
        threaded = list(drawn)
    finally:
        drawn.close()
    for ours in (stratified_test_parts(labels), threaded):
        assert len(ours) == 10
        for got, want in zip(ours, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_an_error_in_the_draws_is_raised_where_the_parts_are_read() -> None:
    labels = np.array([0.0] * 30 + [1.0])
    drawn = draw_test_parts(labels)
    assert drawn is not None
    with pytest.raises(CalibrationError, match="fewer than 2 rows"):
        list(drawn)
    assert draw_test_parts(np.zeros(30)) is None  # one class: nothing to check
