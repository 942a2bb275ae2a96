"""The calibration check's random splits: the test parts of scikit-learn's
`StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42).split` of 0/1 labels, draw for
draw, drawn on a thread of their own while the caller fits on the parts already drawn."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

SPLITS = 10
TEST_SHARE = 0.1
SPLIT_SEED = 42


class CalibrationError(ValueError):
    """The reference cannot be used to calibrate (e.g. a class with a single row)."""


def draw_test_parts(labels: np.ndarray) -> Drawn | None:
    """The calibration check's test parts (`stratified_test_parts`) drawn on a thread from now on;
    None when the labels are of one class (no check then). Close it after."""
    labels = np.asarray(labels, dtype=np.float64)
    return Drawn(labels) if labels.size and labels.min() != labels.max() else None


class Drawn:
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
            for part in stratified_parts(labels):
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
    """All of `stratified_parts(labels)`."""
    return list(stratified_parts(labels))


def stratified_parts(labels: np.ndarray) -> Iterator[np.ndarray]:
    """The test parts of scikit-learn's `StratifiedShuffleSplit(n_splits=10, test_size=0.1,
    random_state=42).split` of 0/1 labels, each in scikit-learn's order. Each train part is every
    other row: per class, train and test counts add up to the class's rows (`_approximate_mode` of
    the rest hands the rest out), so only the test parts are kept. The same random draws are made
    (a shuffle's draws depend only on its length), into reused buffers: the train part's own
    permutation only has to advance the generator, so it shuffles a view that repeats one integer
    n_train times (the draws of a shuffle of n_train values, without moving any in memory).
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
    one = np.zeros(1, dtype=np.intp)
    advance = as_strided(one, shape=(n_train,), strides=(0,))  # n_train places, all `one`'s
    for _ in range(SPLITS):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        test = []
        for i in range(2):
            np.copyto(shuffled[i], class_indices[i])
            shuffler.shuffle(shuffled[i])  # rng.permutation(class_indices[i]): a copy, shuffled
            test.append(shuffled[i][n_i[i] : n_i[i] + t_i[i]])
        shuffler.shuffle(advance)  # the train part's permutation (n_train rows): its draws only
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
