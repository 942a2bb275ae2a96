"""Isotonic calibration of predicted probabilities, and the test of whether it helps, as NannyML does.

NannyML 0.13 (`nannyml.calibration`) fits scikit-learn's `IsotonicRegression(out_of_bounds="clip",
increasing=True)` on the reference, and only when `needs_calibration` says so: ten stratified
shuffle splits (10% test, `random_state=42`, `console.drift.calibration_splits`), a calibrator
fitted on each train part, and the expected calibration error (10 equal-count bins,
`console.drift.calibration_error`) of all test parts pooled, before and after.
This module reproduces both step by step without scikit-learn: the same sort, the same merging
of duplicate scores (scikit-learn's `_make_unique`), scipy's pool-adjacent-violators (which
scikit-learn itself calls on scipy >= 1.12), the same interpolation, and the same random draws.
The two errors are first bounded without sorting the pooled rows (`Runs.bounds`); only when the
bounds leave the comparison open are the rows sorted as NannyML sorts them.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from console.drift.calibration_error import Runs, bin_edges, expected_calibration_error
from console.drift.calibration_splits import CalibrationError, draw_test_parts, stratified_parts

__all__ = [
    "CalibrationError",
    "Isotonic",
    "Ranked",
    "calibrator_for",
    "draw_test_parts",
    "fit_isotonic",
    "roc_auc",
]

SEPARATED_AUC = 0.999  # above this reference ROC AUC, NannyML never calibrates
_RESOLUTION = float(np.finfo(np.float64).resolution)  # scores closer than this count as one (1e-15)
_MARGIN = 1e-9  # bounds closer than this (relative) to deciding leave the comparison to the exact sort


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
    """scikit-learn's `IsotonicRegression(out_of_bounds="clip").fit(scores, labels)` for 0/1 labels."""
    ranked = Ranked.of(np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64))
    return _fit_sorted(ranked.x, ranked.y)


def calibrator_for(
    labels: np.ndarray,
    scores: np.ndarray,
    order: np.ndarray | Ranked | None = None,
    drawn: Iterable[np.ndarray] | None = None,
) -> Isotonic | None:
    """The isotonic calibrator NannyML fits on this reference, or None when it decides not to calibrate.
    `order`: `np.argsort(scores)` (or the rows `Ranked` by it) where the caller has it already;
    `drawn`: `draw_test_parts(labels)` where the caller started the draws earlier (and closes them)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    own = draw_test_parts(labels) if drawn is None else None  # the draws start now
    try:
        ranked = order if isinstance(order, Ranked) else Ranked.of(labels, scores, order)
        if _never_calibrated(labels, ranked):
            return None
        groups = _Groups.of(ranked)
        if not _needs_calibration(labels, scores, ranked, drawn if drawn is not None else own, groups):
            return None
    finally:
        if own is not None:
            own.close()
    return groups.fit_all() if groups is not None else _fit_sorted(ranked.x, ranked.y)


@dataclass(frozen=True)
class Ranked:
    """Rows sorted by score. Ties may come in any order: the labels of a tie are only ever summed,
    and 0/1 sums are exact, so this gives what scikit-learn's sort by (score, label) gives."""

    order: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray, scores: np.ndarray, order: np.ndarray | None = None) -> Ranked:
        order = np.argsort(scores) if order is None else order
        return cls(order, scores[order], labels[order])

    @property
    def rank(self) -> np.ndarray:
        """Each row's position in score order."""
        rank = np.empty(self.order.size, dtype=np.intp)
        rank[self.order] = np.arange(self.order.size)
        return rank


def _fit_sorted(x: np.ndarray, y: np.ndarray) -> Isotonic:
    """The fit on pairs sorted by score."""
    return _fit_unique(*_make_unique(x, y))


def _fit_unique(
    unique_x: np.ndarray,
    unique_y: np.ndarray,
    weights: np.ndarray,
    r: np.ndarray | None = None,
    at: np.ndarray | None = None,
) -> Isotonic:
    """Pool-adjacent-violators on the distinct scores' mean labels, then scikit-learn's trimming.
    `unique_y` and `weights` must be arrays of this call's own: the fit overwrites them (and `r`,
    a buffer of at least `unique_y.size + 1` for the blocks, if given). `at`: where each of
    `unique_y`'s scores is in `unique_x`, when `unique_x` holds more scores than are fitted."""
    fitted, blocks = _pooled(unique_y, weights, r)
    levels = fitted[blocks[:-1]]
    if np.all(levels[1:] > levels[:-1]):  # as PAVA leaves its blocks: the runs of equal values
        ends = np.empty(2 * levels.size, dtype=np.intp)  # each run's first and last, in order
        ends[0::2], ends[1::2] = blocks[:-1], blocks[1:] - 1
        keep = ends[np.concatenate(([True], ends[1:] != ends[:-1]))]
    else:
        kept = np.ones(fitted.size, dtype=bool)
        kept[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
        keep = np.flatnonzero(kept)
    return Isotonic(unique_x[keep if at is None else at[keep]], fitted[keep])


def _isotonic_regression(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`scipy.optimize.isotonic_regression(y, weights=weights).x` (increasing), computed in `y`'s place:
    the same C++ pool-adjacent-violators call on the same float64 arrays, without the wrapper's copies."""
    return _pooled(y, weights)[0]


def _pooled(y: np.ndarray, weights: np.ndarray, r: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The isotonic fit (in `y`'s place) and its blocks' boundaries (starts, then the length).
    `r`: a buffer for the blocks to reuse (at least y.size + 1 long; PAVA writes what it returns)."""
    r = np.empty(y.size + 1, dtype=np.intp) if r is None else r[: y.size + 1]
    fitted, _, r, blocks = _pava()(
        np.ascontiguousarray(y, np.float64), np.ascontiguousarray(weights, np.float64), r
    )
    return np.asarray(fitted, dtype=np.float64), np.asarray(r[: blocks + 1])


@cache
def _pava() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """scipy's pool-adjacent-violators routine (`scipy.optimize._pava_pybind.pava`, what
    `isotonic_regression` calls). Importing `scipy.optimize` to reach it costs ~0.3 s of linear
    algebra and solvers a CBPE run never uses, so the extension module is loaded from scipy's folder
    on its own when scipy.optimize is not imported yet; tests/unit/test_estimation.py checks it gives
    bitwise what `isotonic_regression` gives. Any surprise falls back to the ordinary import."""
    name = "scipy.optimize._pava_pybind"
    if name not in sys.modules and "scipy.optimize" not in sys.modules:
        scipy = importlib.util.find_spec("scipy")
        for folder in (scipy.submodule_search_locations or []) if scipy else []:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / "optimize" / f"_pava_pybind{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                    if spec is not None:
                        module = importlib.util.module_from_spec(spec)
                        loader.exec_module(module)
                        if callable(getattr(module, "pava", None)):
                            sys.modules[name] = module  # a later `import scipy.optimize` reuses it
                            return module.pava
    from scipy.optimize._pava_pybind import pava

    return pava


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
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    ranked = Ranked.of(labels, scores)
    if _never_calibrated(labels, ranked):
        return False
    return _needs_calibration(labels, scores, ranked, None, _Groups.of(ranked))


def _never_calibrated(labels: np.ndarray, ranked: Ranked) -> bool:
    """A single class, or scores that separate the classes: NannyML does not test then."""
    return bool(labels.min() == labels.max()) or sorted_auc(ranked.x, ranked.y) > SEPARATED_AUC


def _needs_calibration(
    labels: np.ndarray,
    scores: np.ndarray,
    ranked: Ranked,
    drawn: Iterable[np.ndarray] | None,
    groups: _Groups | None,
) -> bool:
    """`drawn`: the test parts being drawn already (`Drawn`), if the caller started them; `groups`:
    the reference's distinct scores (None: some are closer than 1e-15, so each train part is sorted)."""
    parts = drawn if drawn is not None else stratified_parts(labels)
    if groups is None:
        rank = ranked.rank
        tests, calibrated = [], []
        for test in parts:  # each train part: every other row, in score order
            in_train = np.ones(labels.size, dtype=bool)
            in_train[rank[test]] = False
            tests.append(test)
            calibrated.append(_fit_sorted(ranked.x[in_train], ranked.y[in_train])(scores[test]))
        return _sorted_decision(labels, scores, tests, calibrated)
    check = _Check(groups)
    for test in parts:
        check.add(test, labels[test])
    decided = check.decided()
    return decided if decided is not None else check.sorted_decision(labels, scores)


def _sorted_decision(
    labels: np.ndarray, scores: np.ndarray, tests: list[np.ndarray], calibrated: list[np.ndarray]
) -> bool:
    """NannyML's comparison, step by step: the pooled test rows sorted before and after calibration."""
    pooled = np.concatenate(tests)
    edges = bin_edges(pooled.size)
    before = expected_calibration_error(labels[pooled], scores[pooled], edges)
    after = expected_calibration_error(labels[pooled], np.concatenate(calibrated), edges)
    return bool(before > after)


@dataclass
class _Check:
    """The calibration test over the splits as they come: per split, its calibrator and the runs
    of its test rows' calibrated scores; for all splits, how often each distinct score was tested."""

    groups: _Groups
    tests: list[np.ndarray] = field(default_factory=list)
    calibrators: list[Isotonic] = field(default_factory=list)
    after: list[Runs] = field(default_factory=list)
    tested: np.ndarray = field(init=False)  # per distinct score, its pooled test rows
    positives: np.ndarray = field(init=False)  # and how many of them have label 1

    def __post_init__(self) -> None:
        self.tested = np.zeros(self.groups.x.size, dtype=np.int64)
        self.positives = np.zeros(self.groups.x.size, dtype=np.int64)

    def add(self, test: np.ndarray, labels: np.ndarray) -> None:
        calibrator, present, rows, positives = self.groups.fit_without(test, labels)
        self.tests.append(test)
        self.calibrators.append(calibrator)
        self.after.append(Runs.of_sorted(calibrator(self.groups.x[present]), rows, positives))
        self.tested[present] += rows
        self.positives[present] += positives

    def decided(self) -> bool | None:
        """Whether calibration lowers the pooled ECE, where the bounds of both errors tell; None if not."""
        edges = bin_edges(int(self.tested.sum()))
        before = Runs(self.groups.x, self.tested, self.positives).bounds(edges)
        after = Runs.merged(self.after).bounds(edges)
        margin = _MARGIN * (before[1] + after[1]) + 1e-300
        if before[0] > after[1] + margin:
            return True
        if before[1] + margin < after[0]:
            return False
        return None

    def sorted_decision(self, labels: np.ndarray, scores: np.ndarray) -> bool:
        calibrated = [c(scores[t]) for c, t in zip(self.calibrators, self.tests, strict=True)]
        return _sorted_decision(labels, scores, self.tests, calibrated)


@dataclass(frozen=True)
class _Groups:
    """The reference's distinct scores (no two closer than 1e-15, so a subset's groups are these
    groups too): each row's group, each group's score, size and positives. A train part's fit is
    then the groups minus its test part's rows, with no sort."""

    of_row: np.ndarray
    x: np.ndarray
    counts: np.ndarray
    positives: np.ndarray
    labels: np.ndarray  # each group's mean label, in score order
    scratch: list[np.ndarray] = field(default_factory=list)  # the fits' buffers (`_buffers`)

    @classmethod
    def of(cls, ranked: Ranked) -> _Groups | None:
        gaps = np.diff(ranked.x)
        if bool(np.all(gaps >= _RESOLUTION)):  # every score distinct: a group is a row
            ones = np.ones(ranked.x.size, dtype=np.int64)
            return cls(ranked.rank, ranked.x, ones, ranked.y.astype(np.int64), ranked.y)
        if np.any((gaps > 0) & (gaps < _RESOLUTION)):
            return None
        is_start = np.concatenate(([True], gaps > 0))
        starts = np.flatnonzero(is_start)
        of_row = np.empty(ranked.x.size, dtype=np.intp)
        of_row[ranked.order] = np.cumsum(is_start) - 1
        counts = np.diff(np.append(starts, ranked.x.size))
        positives = np.add.reduceat(ranked.y, starts).astype(np.int64)  # sums of 0/1: exact
        return cls(of_row, ranked.x[starts], counts, positives, positives / counts)

    @property
    def distinct(self) -> bool:
        return self.x.size == self.of_row.size

    def fit_all(self) -> Isotonic:
        """The isotonic fit on every row (`_fit_sorted` of the reference, bitwise)."""
        return _fit_unique(self.x, self.labels.copy(), self.counts.astype(np.float64))

    def fit_without(
        self, rows: np.ndarray, labels: np.ndarray
    ) -> tuple[Isotonic, np.ndarray, np.ndarray, np.ndarray]:
        """The isotonic fit on every row but `rows` (what scikit-learn fits on the train part), and
        the groups of `rows` (ascending), with their rows and positives among `rows`.
        Counts stay integers until the one division, so the means are scikit-learn's to the bit."""
        left = self.of_row[rows]
        if self.distinct:  # one row a group: the train part is the other groups
            weights, r, train, tests = self._buffers()
            train.fill(True)
            train[left] = False
            kept = np.flatnonzero(train)
            tested = np.flatnonzero(np.logical_not(train, out=tests))
            weights = weights[: kept.size]
            weights.fill(1.0)
            fitted = _fit_unique(self.x, self.labels[kept], weights, r, kept)
            return fitted, tested, np.ones(tested.size, dtype=np.int64), self.positives[tested]
        in_test = np.bincount(left, minlength=self.x.size)
        positive = np.bincount(left[labels == 1], minlength=self.x.size)
        counts = self.counts - in_test
        present = np.flatnonzero(counts)
        weights, r = self._buffers()[:2]
        weights = weights[: present.size]
        np.copyto(weights, counts[present])
        means = (self.positives - positive)[present] / weights
        tested = np.flatnonzero(in_test)
        return _fit_unique(self.x, means, weights, r, present), tested, in_test[tested], positive[tested]

    def _buffers(self) -> list[np.ndarray]:
        """Weights, blocks and two masks over the groups, reused by each train part's fit (fresh
        large arrays cost a page fault per page, each time)."""
        if not self.scratch:
            size = self.x.size
            self.scratch.extend((np.empty(size), np.empty(size + 1, dtype=np.intp)))
            self.scratch.extend((np.empty(size, dtype=bool), np.empty(size, dtype=bool)))
        return self.scratch


def roc_auc(labels: np.ndarray, scores: np.ndarray, order: np.ndarray | slice | None = None) -> float:
    """ROC AUC of scores against 0/1 labels (ties count half), NaN with a single class.
    `order`: `np.argsort(scores)` where the caller has it (`slice(None)`: the scores are sorted)."""
    order = np.argsort(scores) if order is None else order
    return sorted_auc(np.asarray(scores)[order], (np.asarray(labels) == 1)[order].astype(np.float64))


def sorted_auc(x: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC from scores sorted ascending and their 0/1 labels (Mann-Whitney U with mean ranks)."""
    n_pos = float(np.sum(y))
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    distinct = x[1:] != x[:-1]
    if distinct.all():  # no ties: the ranks are 1..n
        positive_rank_sum = float(np.dot(y, np.arange(1.0, y.size + 1)))
    else:
        starts = np.flatnonzero(np.concatenate(([True], distinct)))
        counts = np.diff(np.append(starts, x.size))
        mean_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based ranks, ties averaged
        positive_rank_sum = float(np.dot(np.add.reduceat(y, starts), mean_rank))
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
