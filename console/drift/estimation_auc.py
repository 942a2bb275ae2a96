"""Every chunk's ROC AUC at once, estimated and realized, from rows sorted by score within each chunk.

Chunks of the same size are computed as the rows of one matrix: the cumulative sums, roundings and
trapezoids run along each row exactly as `estimation_metrics.estimate_roc_auc` runs along one chunk,
and the realized value's rank sums are integers, so both give bitwise what one chunk at a time gives
(tests/unit/test_estimation_auc.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import numpy as np

from console.drift.calibration import sorted_auc


def size_runs(rows: np.ndarray) -> Iterator[tuple[int, int]]:
    """The runs of consecutive chunks of one size: [first, stop) chunk numbers."""
    if rows.size == 0:
        return
    changes = np.flatnonzero(rows[1:] != rows[:-1]) + 1
    bounds = np.concatenate(([0], changes, [rows.size])).tolist()
    yield from pairwise(bounds)


def estimated_aucs(
    calibrated: np.ndarray, starts: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each chunk's estimated ROC AUC (`estimate_roc_auc`) and whether NannyML fails on it (its
    false positive rates neither rise nor fall): `calibrated` holds each chunk's rows by score."""
    values = np.empty(rows.size)
    failed = np.zeros(rows.size, dtype=bool)
    for first, stop in size_runs(rows):
        size = int(rows[first])
        block = calibrated[starts[first] : starts[first] + (stop - first) * size].reshape(stop - first, size)
        values[first:stop], failed[first:stop] = _estimated(block)
    return values, failed


def _estimated(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`estimate_roc_auc` of each row of `block` (a chunk's calibrated scores by ascending score):
    the same operations in the same order, into arrays made once."""
    chunks, size = block.shape
    tps = np.empty((chunks, size + 1))
    fps = np.empty((chunks, size + 1))
    tps[:, 0] = fps[:, 0] = 0.0
    np.cumsum(block[:, ::-1], axis=1, out=tps[:, 1:])  # the expected labels by descending score
    np.subtract(np.arange(1, size + 1), tps[:, 1:], out=fps[:, 1:])
    for rates in (tps, fps):
        np.round(rates, 5, out=rates)
        np.divide(rates, rates[:, -1:].copy(), out=rates)
    steps = np.diff(fps, axis=1)
    falling = np.any(steps < 0, axis=1)
    failed = falling & ~np.all(steps <= 0, axis=1) if falling.any() else falling
    heights = np.add(tps[:, 1:], tps[:, :-1])
    heights *= steps
    heights /= 2.0
    return np.where(falling, -1.0, 1.0) * heights.sum(axis=1), failed


def realized_aucs(scores: np.ndarray, labels: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each chunk's ROC AUC of its scores against its 0/1 labels (NaN with a single class), each
    chunk's rows sorted by score."""
    positive = (labels == 1).astype(np.float64)
    positives = np.add.reduceat(positive, starts)
    # the positives' ranks within their chunk (1-based): their places overall less the chunk's start,
    # sums of integers below 2**53, so exact
    rank_sums = np.add.reduceat(positive * np.arange(1.0, scores.size + 1), starts) - starts * positives
    negatives = rows - positives
    with np.errstate(divide="ignore", invalid="ignore"):  # a single class: NaN below
        values = (rank_sums - positives * (positives + 1) / 2) / (positives * negatives)
    same = scores[1:] == scores[:-1]
    same[starts[1:] - 1] = False  # a chunk's last row and the next chunk's first
    for chunk in np.flatnonzero(np.add.reduceat(np.append(same, False), starts)).tolist():  # ties
        rows_of = slice(starts[chunk], starts[chunk] + rows[chunk])
        values[chunk] = sorted_auc(scores[rows_of], positive[rows_of])
    single = (positives == 0) | (negatives == 0)
    values[single] = np.nan
    return values
