"""Every chunk's columns for CBPE at once, when no row misses a score, a predicted class or a label.

Each chunk's rows are sorted by score once (its ROC AUC, estimated and realized, reads them in
that order; rows with equal scores have equal calibrated scores, so the order among them changes
nothing; chunks of one size are sorted as the rows of one matrix), the scores are calibrated in
that order (interpolation is fastest on sorted input), the expected confusion matrix and the
realized counts of all chunks are summed in one pass each, and the ROC AUCs of all chunks are
computed together (`estimation_auc`). The sums run in another order than one chunk's `np.sum`,
so they agree to the last bits only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from console.drift.estimation_auc import estimated_aucs, realized_aucs, size_runs
from console.drift.estimation_metrics import Cells, Columns, Counts


class Span(Protocol):
    """A chunk: rows [start, stop) (`estimation.Chunk`)."""

    @property
    def start(self) -> int: ...

    @property
    def stop(self) -> int: ...


@dataclass(frozen=True)
class SortedChunks:
    """The data's columns with each chunk's rows in score order; per chunk, its cells and counts."""

    calibrated: np.ndarray
    scores: np.ndarray
    predicted: np.ndarray
    labels: np.ndarray | None
    cells: list[Cells]  # empty: not asked for
    counts: list[Counts] | None  # None: no labels, or not asked for
    order: np.ndarray  # the rows of the data in this order (each chunk's by score)
    starts: np.ndarray  # each chunk's first row
    rows: np.ndarray  # and its rows

    def columns(self, chunk: Span) -> Columns:
        rows = slice(chunk.start, chunk.stop)
        labels = None if self.labels is None else self.labels[rows]
        return self.calibrated[rows], self.scores[rows], self.predicted[rows], labels

    def estimated_aucs(self) -> tuple[list[float], list[bool]]:
        """Each chunk's estimated ROC AUC, and whether NannyML fails on it."""
        values, failed = estimated_aucs(self.calibrated, self.starts, self.rows)
        return values.tolist(), failed.tolist()

    def realized_aucs(self) -> list[float]:
        """Each chunk's realized ROC AUC (NaN with a single class or without labels)."""
        if self.labels is None:
            return [float("nan")] * self.rows.size
        return realized_aucs(self.scores, self.labels, self.starts, self.rows).tolist()


def chunk_order(scores: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """The rows of contiguous chunks, each chunk's sorted by score (`np.argsort` of each chunk)."""
    starts = np.fromiter((c.start for c in spans), dtype=np.intp, count=len(spans))
    rows = np.fromiter((c.stop - c.start for c in spans), dtype=np.intp, count=len(spans))
    parts = []
    for first, stop in size_runs(rows):
        size, begin = int(rows[first]), int(starts[first])
        block = scores[begin : begin + (stop - first) * size].reshape(stop - first, size)
        parts.append((np.argsort(block, axis=1) + starts[first:stop, None]).ravel())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


def sorted_chunks(
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    spans: Sequence[Span],
    calibrator: Callable[[np.ndarray], np.ndarray] | None,
    *,
    cells: bool = True,
    counts: bool = True,
    order: np.ndarray | None = None,
) -> SortedChunks | None:
    """The chunks of `data` (scores, predicted classes, labels or None) sorted and summed, or None
    when a row misses a value (or the chunks leave a gap): then each chunk is computed on its own,
    dropping those rows as NannyML does. `order`: a `SortedChunks.order` of the same data and chunks."""
    all_scores, all_predicted, all_labels = data
    present = [all_scores, all_predicted] + ([all_labels] if all_labels is not None else [])
    if not contiguous(spans, all_scores.size) or any(bool(np.isnan(a).any()) for a in present):
        return None
    if order is None:
        order = chunk_order(all_scores, spans)
    scores = all_scores[order]
    calibrated = scores if calibrator is None else calibrator(scores)
    if np.isnan(calibrated).any():
        return None
    predicted = all_predicted[order]
    labels = None if all_labels is None else all_labels[order]
    starts = np.fromiter((c.start for c in spans), dtype=np.intp, count=len(spans))
    rows = np.diff(np.append(starts, all_scores.size))
    binary = bool(np.count_nonzero(predicted) == np.count_nonzero(predicted == 1))  # 0s and 1s only
    summed = _cells(predicted, calibrated, starts, rows, binary) if cells else []
    counted = _counts(predicted, labels, starts, rows, binary) if counts and labels is not None else None
    return SortedChunks(calibrated, scores, predicted, labels, summed, counted, order, starts, rows)


def _cells(
    predicted: np.ndarray, calibrated: np.ndarray, starts: np.ndarray, rows: np.ndarray, binary: bool
) -> list[Cells]:
    """`estimation_metrics.expected_cells` of every chunk. `binary`: every predicted class is 0 or 1;
    then each cell's terms are made with fewer passes, the same values (x * 1 is x, x - 0 is x)."""
    if binary:
        positive_part = calibrated * predicted
        negative_part = calibrated - positive_part  # the calibrated score where predicted 0, else 0
        terms = (positive_part, predicted - positive_part, negative_part, (1 - predicted) - negative_part)
    else:
        positive, negative = predicted == 1, predicted == 0
        terms = (
            np.where(positive, calibrated, 0.0),
            np.where(positive, 1 - calibrated, 0.0),
            np.where(negative, calibrated, 0.0),
            np.where(negative, 1 - calibrated, 0.0),
        )
    sums = [np.add.reduceat(term, starts).tolist() for term in terms]
    return list(zip(*sums, rows.tolist(), strict=True))


def contiguous(spans: Sequence[Span], n: int) -> bool:
    """The chunks cover rows 0..n in order, none empty."""
    expected = 0
    for chunk in spans:
        if chunk.start != expected or chunk.stop <= chunk.start:
            return False
        expected = chunk.stop
    return bool(spans) and expected == n


def _counts(
    predicted: np.ndarray, labels: np.ndarray, starts: np.ndarray, rows: np.ndarray, binary: bool
) -> list[Counts]:
    """`estimation_metrics.realized_counts` of every chunk (all of its rows are labelled 0 or 1).
    `binary`: every predicted class is 0 or 1; then the counts are sums of 0s and 1s (exact)."""
    if binary:
        tp = np.add.reduceat(labels * predicted, starts)
        predicted_positive = np.add.reduceat(predicted, starts)
        positive = np.add.reduceat(labels, starts)
        fp, fn = predicted_positive - tp, positive - tp
        right = rows - fp - fn
        one_class = (positive == 0) | (positive == rows)
        one_predicted = (predicted_positive == 0) | (predicted_positive == rows)
    else:

        def count(mask: np.ndarray) -> np.ndarray:
            return np.add.reduceat(mask, starts, dtype=np.int64)

        right = count(labels == predicted)
        tp = count((labels == 1) & (predicted == 1))
        fp = count((labels == 0) & (predicted == 1))
        fn = count((labels == 1) & (predicted == 0))
        one_class = np.minimum.reduceat(labels, starts) == np.maximum.reduceat(labels, starts)
        one_predicted = np.minimum.reduceat(predicted, starts) == np.maximum.reduceat(predicted, starts)
    return [
        (int(n), float(r / n), bool(c), bool(p), float(t), float(f), float(m))
        for n, r, c, p, t, f, m in zip(rows, right, one_class, one_predicted, tp, fp, fn, strict=True)
    ]
