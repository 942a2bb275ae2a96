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
    """`estimate_roc_auc` of each row of `block` (a chunk's calibrated scores by ascending score)."""
    cumulative = np.cumsum(block[:, ::-1], axis=1)  # the expected labels by descending score
    false_cumulative = 1 + np.arange(block.shape[1]) - cumulative
    start = np.zeros((block.shape[0], 1))
    tps = np.round(np.concatenate((start, cumulative), axis=1), 5)
    fps = np.round(np.concatenate((start, false_cumulative), axis=1), 5)
    tpr, fpr = tps / tps[:, -1:], fps / fps[:, -1:]
    steps = np.diff(fpr, axis=1)
    falling = np.any(steps < 0, axis=1)
    failed = falling & ~np.all(steps <= 0, axis=1)
    direction = np.where(falling, -1.0, 1.0)
    return direction * np.trapezoid(tpr, fpr, axis=1), failed


def realized_aucs(scores: np.ndarray, labels: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each chunk's ROC AUC of its scores against its 0/1 labels (NaN with a single class), each
    chunk's rows sorted by score."""
    positive = (labels == 1).astype(np.float64)
    positives = np.add.reduceat(positive, starts)
    rank = np.arange(1.0, scores.size + 1) - np.repeat(starts, rows)  # 1-based, within the chunk
    rank_sums = np.add.reduceat(positive * rank, starts)  # integers: exact
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
