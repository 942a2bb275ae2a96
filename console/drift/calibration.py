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

import importlib.machinery
import importlib.util
import math
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

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
    """scikit-learn's `IsotonicRegression(out_of_bounds="clip").fit(scores, labels)` for 0/1 labels."""
    ranked = _Ranked.of(np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64))
    return _fit_sorted(ranked.x, ranked.y)


def calibrator_for(
    labels: np.ndarray,
    scores: np.ndarray,
    order: np.ndarray | None = None,
    drawn: Iterable[np.ndarray] | None = None,
) -> Isotonic | None:
    """The isotonic calibrator NannyML fits on this reference, or None when it decides not to calibrate.
    `order`: `np.argsort(scores)` where the caller has it already; `drawn`: `draw_test_parts(labels)`
    where the caller started the draws earlier (and closes them)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    own = draw_test_parts(labels) if drawn is None else None  # the draws start now
    try:
        ranked = _Ranked.of(labels, scores, order)
        needed = _needs_calibration(labels, scores, ranked, drawn if drawn is not None else own)
    finally:
        if own is not None:
            own.close()
    return _fit_sorted(ranked.x, ranked.y) if needed else None


def draw_test_parts(labels: np.ndarray) -> _Drawn | None:
    """The calibration check's test parts (`stratified_test_parts`) drawn on a thread from now on,
    for `calibrator_for`; None when the labels are of one class (no check then). Close it after."""
    labels = np.asarray(labels, dtype=np.float64)
    return _Drawn(labels) if labels.size and labels.min() != labels.max() else None


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by score. Ties may come in any order: the labels of a tie are only ever summed,
    and 0/1 sums are exact, so this gives what scikit-learn's sort by (score, label) gives."""

    order: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray, scores: np.ndarray, order: np.ndarray | None = None) -> _Ranked:
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
    unique_x: np.ndarray, unique_y: np.ndarray, weights: np.ndarray, r: np.ndarray | None = None
) -> Isotonic:
    """Pool-adjacent-violators on the distinct scores' mean labels, then scikit-learn's trimming.
    `unique_y` and `weights` must be arrays of this call's own: the fit overwrites them (and `r`,
    a buffer of at least `unique_y.size + 1` for the blocks, if given)."""
    fitted, blocks = _pooled(unique_y, weights, r)
    levels = fitted[blocks[:-1]]
    if np.all(levels[1:] > levels[:-1]):  # as PAVA leaves its blocks: the runs of equal values
        keep = np.zeros(fitted.size, dtype=bool)  # each run's first and last
        keep[blocks[:-1]] = True
        keep[blocks[1:] - 1] = True
    else:
        keep = np.ones(fitted.size, dtype=bool)
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Isotonic(unique_x[keep], fitted[keep])


def _isotonic_regression(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`scipy.optimize.isotonic_regression(y, weights=weights).x` (increasing), computed in `y`'s place:
    the same C++ pool-adjacent-violators call on the same float64 arrays, without the wrapper's copies."""
    return _pooled(y, weights)[0]


def _pooled(y: np.ndarray, weights: np.ndarray, r: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The isotonic fit (in `y`'s place) and its blocks' boundaries (starts, then the length).
    `r`: a buffer for the blocks to reuse (at least y.size + 1 long)."""
    if r is None:
        r = np.full(y.size + 1, -1, dtype=np.intp)
    else:
        r = r[: y.size + 1]
        r.fill(-1)
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
    return _needs_calibration(labels, scores, _Ranked.of(labels, scores))


def _needs_calibration(
    labels: np.ndarray, scores: np.ndarray, ranked: _Ranked, drawn: Iterable[np.ndarray] | None = None
) -> bool:
    """`drawn`: the test parts being drawn already (`_Drawn`), if the caller started them."""
    if labels.min() == labels.max():
        return False
    if _sorted_auc(ranked.x, ranked.y) > SEPARATED_AUC:
        return False
    groups = _Groups.of(ranked)
    rank = None
    tests, calibrated = [], []
    for test in drawn if drawn is not None else _test_parts(labels):  # each train part: every other row
        if groups is not None:
            calibrator = groups.fit_without(test, labels[test])
        else:
            rank = ranked.rank if rank is None else rank
            in_train = np.ones(labels.size, dtype=bool)
            in_train[rank[test]] = False  # the train part in score order
            calibrator = _fit_sorted(ranked.x[in_train], ranked.y[in_train])
        tests.append(test)
        calibrated.append(calibrator(scores[test]))
    pooled = np.concatenate(tests)
    edges = _bin_edges(pooled.size, ECE_BINS)
    if groups is not None and groups.x.size == labels.size:
        # every score distinct: the pooled rows in score order by counting (a row repeated across
        # test parts is one score and one label, so any order of its copies sorts the same)
        in_order = np.repeat(
            np.arange(labels.size), np.bincount(groups.of_row[pooled], minlength=labels.size)
        )
        before = _sorted_calibration_error(ranked.y[in_order], ranked.x[in_order], edges)
    else:
        before = _expected_calibration_error(labels[pooled], scores[pooled], edges)
    after = _expected_calibration_error(labels[pooled], np.concatenate(calibrated), edges)
    return bool(before > after)


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
    def of(cls, ranked: _Ranked) -> _Groups | None:
        gaps = np.diff(ranked.x)
        if np.any((gaps > 0) & (gaps < _RESOLUTION)):
            return None
        is_start = np.concatenate(([True], gaps > 0))
        starts = np.flatnonzero(is_start)
        of_row = np.empty(ranked.x.size, dtype=np.intp)
        of_row[ranked.order] = np.cumsum(is_start) - 1
        counts = np.diff(np.append(starts, ranked.x.size))
        if starts.size == ranked.x.size:  # every score distinct: a group is a row
            return cls(of_row, ranked.x, counts, ranked.y.astype(np.int64), ranked.y)
        positives = np.add.reduceat(ranked.y, starts).astype(np.int64)  # sums of 0/1: exact
        return cls(of_row, ranked.x[starts], counts, positives, positives / counts)

    def fit_without(self, rows: np.ndarray, labels: np.ndarray) -> Isotonic:
        """The isotonic fit on every row but `rows` (what scikit-learn fits on the train part).
        Counts stay integers until the one division, so the means are scikit-learn's to the bit."""
        left = self.of_row[rows]
        if self.x.size == self.of_row.size:  # one row a group: the train part is the other groups
            train = np.ones(self.x.size, dtype=bool)
            train[left] = False
            weights, r = self._buffers(self.x.size - left.size)
            weights.fill(1.0)
            return _fit_unique(self.x[train], self.labels[train], weights, r)
        counts = self.counts - np.bincount(left, minlength=self.x.size)
        positives = self.positives - np.bincount(left[labels == 1], minlength=self.x.size)
        present = np.flatnonzero(counts)
        weights, r = self._buffers(present.size)
        np.copyto(weights, counts[present])
        return _fit_unique(self.x[present], positives[present] / weights, weights, r)

    def _buffers(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Weights and blocks buffers of `size` reused by each train part's fit (fresh large arrays
        cost a page fault per page, each time)."""
        if not self.scratch:
            self.scratch.extend((np.empty(self.x.size), np.empty(self.x.size + 1, dtype=np.intp)))
        weights, r = self.scratch
        return weights[:size], r


class _Drawn:
    """`stratified_test_parts(labels)` drawn on a thread of its own while the caller fits on the parts
    already drawn (numpy's shuffles let go of the GIL), handed over in order; an error raised by the
    draws is raised where the parts are read, as the plain call would raise it."""

    def __init__(self, labels: np.ndarray) -> None:
        self._parts: queue.SimpleQueue[np.ndarray | BaseException | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        threading.Thread(target=self._draw, args=(labels,), name="calibration-splits", daemon=True).start()

    def _draw(self, labels: np.ndarray) -> None:
        end: BaseException | None = CalibrationError("the calibration's random splits stopped short")
        try:
            for part in _test_parts(labels):
                if self._stop.is_set():
                    return
                self._parts.put(part)
            end = None
        except Exception as exc:  # noqa: BLE001 - raised again where the parts are read (__iter__)
            end = exc
        finally:
            self._parts.put(end)

    def __iter__(self) -> Iterator[np.ndarray]:
        while (item := self._parts.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """No more parts wanted (e.g. the reference's scores separate the classes)."""
        self._stop.set()


def stratified_test_parts(labels: np.ndarray) -> list[np.ndarray]:
    """All of `_test_parts(labels)`."""
    return list(_test_parts(labels))


def _test_parts(labels: np.ndarray) -> Iterator[np.ndarray]:
    """The test parts of scikit-learn's `StratifiedShuffleSplit(n_splits=10, test_size=0.1,
    random_state=42).split` of 0/1 labels, each in scikit-learn's order. Each train part is every
    other row: per class, train and test counts add up to the class's rows (`_approximate_mode` of
    the rest hands the rest out), so only the test parts are kept. The same random draws are made
    (a shuffle's draws depend only on its length), into reused buffers: the train part's own
    permutation only has to advance the generator, so a scratch array is shuffled for it (of
    machine-size integers: numpy shuffles those fastest).
    The shuffles go through a `Generator` on the same MT19937: its shuffle makes the very draws of
    the legacy `RandomState.shuffle` (the same `random_interval` calls), but without holding the
    GIL, so the caller's thread fits meanwhile (tests/unit/test_calibration_splits.py)."""
    n = labels.size
    n_test = math.ceil(TEST_SHARE * n)
    n_train = n - n_test
    positive = labels == 1  # 0/1 labels: classes [0, 1], as np.unique would find them
    class_indices = [np.flatnonzero(~positive), np.flatnonzero(positive)]
    class_counts = np.array([len(i) for i in class_indices])
    if np.min(class_counts) < 2:
        raise CalibrationError(
            "a class has fewer than 2 rows in the reference; calibration needs at least 2 of each class"
        )
    if n_train < 2 or n_test < 2:
        raise CalibrationError(f"the reference has too few rows ({n}) to test calibration")
    bits = np.random.MT19937()
    bits.state = cast(Any, np.random.RandomState(SPLIT_SEED).get_state(legacy=False))  # a state dict
    rng, shuffler = np.random.RandomState(bits), np.random.Generator(bits)  # one stream of draws
    shuffled = [np.empty_like(i) for i in class_indices]
    scratch = np.empty(n_train, dtype=np.intp)
    for _ in range(SPLITS):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        test = []
        for i in range(2):
            np.copyto(shuffled[i], class_indices[i])
            shuffler.shuffle(shuffled[i])  # rng.permutation(class_indices[i]): a copy, shuffled
            test.append(shuffled[i][n_i[i] : n_i[i] + t_i[i]])
        shuffler.shuffle(scratch)  # the train part's permutation (n_train rows)
        part = np.concatenate(test)
        shuffler.shuffle(part)  # rng.permutation(test)
        yield part


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
    return _sorted_calibration_error(labels[order], scores[order], edges)


def _sorted_calibration_error(labels: np.ndarray, scores: np.ndarray, edges: list[tuple[int, int]]) -> float:
    """The expected calibration error of scores sorted ascending and their labels."""
    terms = [
        (right - left) / scores.size * abs(np.mean(scores[left:right]) - np.mean(labels[left:right]))
        for left, right in edges
    ]
    return float(np.sum(terms))


def roc_auc(labels: np.ndarray, scores: np.ndarray, order: np.ndarray | slice | None = None) -> float:
    """ROC AUC of scores against 0/1 labels (ties count half), NaN with a single class.
    `order`: `np.argsort(scores)` where the caller has it (`slice(None)`: the scores are sorted)."""
    order = np.argsort(scores) if order is None else order
    return _sorted_auc(np.asarray(scores)[order], (np.asarray(labels) == 1)[order].astype(np.float64))


def _sorted_auc(x: np.ndarray, y: np.ndarray) -> float:
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
