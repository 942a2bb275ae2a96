"""Isotonic calibration of predicted probabilities, and the test of whether it helps, as NannyML does.

NannyML 0.13 (`nannyml.calibration`) fits scikit-learn's `IsotonicRegression(out_of_bounds="clip",
increasing=True)` on the reference, and only when `needs_calibration` says so: ten stratified
shuffle splits (10% test, `random_state=42`), a calibrator fitted on each train part, and the
expected calibration error (10 equal-count bins) of all test parts pooled, before and after.
This module reproduces both step by step without scikit-learn: the same sort, the same merging
of duplicate scores (scikit-learn's `_make_unique`), scipy's pool-adjacent-violators (which
scikit-learn itself calls on scipy >= 1.12), the same interpolation, and the same random draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SPLITS = 10
TEST_SHARE = 0.1
SPLIT_SEED = 42
ECE_BINS = 10
SEPARATED_AUC = 0.999  # above this reference ROC AUC, NannyML never calibrates
_RESOLUTION = float(np.finfo(np.float64).resolution)  # scores closer than this count as one (1e-15)


class CalibrationError(ValueError):
    """The reference cannot be used to calibrate (e.g. a class with a single row)."""


@dataclass(frozen=True)
class Isotonic:
    """A fitted isotonic calibrator: breakpoints, clipped outside [x_min, x_max]."""

    x: np.ndarray
    y: np.ndarray

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        clipped = np.clip(np.asarray(scores, dtype=np.float64), self.x[0], self.x[-1])
        if self.y.size == 1:
            return np.repeat(self.y, clipped.shape)
        return np.interp(clipped, self.x, self.y)


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> Isotonic:
    """scikit-learn's `IsotonicRegression(out_of_bounds="clip").fit(scores, labels)`."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    order = np.lexsort((labels, scores))
    return _fit_sorted(scores[order], labels[order])


def _fit_sorted(x: np.ndarray, y: np.ndarray) -> Isotonic:
    """The fit on pairs already sorted by (score, label)."""
    from scipy.optimize import isotonic_regression

    unique_x, unique_y, weights = _make_unique(x, y)
    fitted = np.asarray(isotonic_regression(unique_y, weights=weights, increasing=True).x, dtype=np.float64)
    keep = np.ones(fitted.size, dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Isotonic(unique_x[keep], fitted[keep])


def _make_unique(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores within 1e-15 of their group's first score merged; each group's mean label and size."""
    gaps = np.diff(x)
    if np.any((gaps > 0) & (gaps < _RESOLUTION)):
        starts = _greedy_starts(x)
    else:
        starts = np.flatnonzero(np.concatenate(([True], gaps >= _RESOLUTION)))
    counts = np.diff(np.append(starts, x.size)).astype(np.float64)
    sums = np.add.reduceat(y, starts)
    return x[starts], sums / counts, counts


def _greedy_starts(x: np.ndarray) -> np.ndarray:
    """Group starts as scikit-learn finds them: a new group once a score is 1e-15 past the group's first."""
    starts = [0]
    current = x[0]
    for index in range(1, x.size):
        if x[index] - current >= _RESOLUTION:
            starts.append(index)
            current = x[index]
    return np.asarray(starts, dtype=np.intp)


def needs_calibration(labels: np.ndarray, scores: np.ndarray) -> bool:
    """NannyML's `needs_calibration`: whether isotonic calibration lowers the pooled test ECE."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if np.unique(labels).size == 1:
        return False
    if roc_auc(labels, scores) > SEPARATED_AUC:
        return False
    order = np.lexsort((labels, scores))  # each train part, taken in this order, is sorted too
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    tests, calibrated = [], []
    for train, test in stratified_splits(labels):
        in_train = np.zeros(order.size, dtype=bool)
        in_train[rank[train]] = True
        sorted_train = order[in_train]
        calibrator = _fit_sorted(scores[sorted_train], labels[sorted_train].astype(np.float64))
        tests.append(test)
        calibrated.append(calibrator(scores[test]))
    pooled = np.concatenate(tests)
    edges = _bin_edges(pooled.size, ECE_BINS)
    before = _expected_calibration_error(labels[pooled], scores[pooled], edges)
    after = _expected_calibration_error(labels[pooled], np.concatenate(calibrated), edges)
    return bool(before > after)


def stratified_splits(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's `StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42).split`."""
    n = labels.size
    n_test = math.ceil(TEST_SHARE * n)
    n_train = n - n_test
    classes, inverse, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if np.min(class_counts) < 2:
        raise CalibrationError(
            "a class has a single row in the reference; calibration needs at least 2 of each class"
        )
    if n_train < classes.size or n_test < classes.size:
        raise CalibrationError(f"the reference has too few rows ({n}) to test calibration")
    class_indices = np.split(np.argsort(inverse, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(SPLIT_SEED)
    splits = []
    for _ in range(SPLITS):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        train: list[np.ndarray] = []
        test: list[np.ndarray] = []
        for i in range(classes.size):
            shuffled = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
            train.append(shuffled[: n_i[i]])
            test.append(shuffled[n_i[i] : n_i[i] + t_i[i]])
        splits.append((rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))))
    return splits


def _approximate_mode(class_counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's `_approximate_mode`: per-class draws, remainders handed out with random ties."""
    continuous = class_counts / class_counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (indices,) = np.where(remainder == value)
            now = min(len(indices), need)
            floored[rng.choice(indices, size=now, replace=False)] += 1
            need -= now
            if need == 0:
                break
    return floored.astype(int)


def _bin_edges(length: int, bins: int) -> list[tuple[int, int]]:
    """NannyML's `_get_bin_index_edges`: equal-count bins over a sorted vector, the last one longer."""
    if length <= 2 * bins:
        bins = length // 2
        if bins < 2:
            raise CalibrationError(f"the reference has too few rows ({length} tested) to test calibration")
    width = length // bins
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, edges: list[tuple[int, int]]
) -> float:
    order = scores.argsort()
    scores, labels = scores[order], labels[order]
    terms = [
        (right - left) / scores.size * abs(np.mean(scores[left:right]) - np.mean(labels[left:right]))
        for left, right in edges
    ]
    return float(np.sum(terms))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of scores against 0/1 labels (ties count half), NaN with a single class."""
    from scipy.stats import rankdata

    positive = np.asarray(labels) == 1
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
