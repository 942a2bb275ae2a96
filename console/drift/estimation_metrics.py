"""CBPE's per-chunk numbers, as NannyML 0.13 computes them: estimates from calibrated scores,
sampling errors from reference components (`nannyml.sampling_error.binary_classification`),
and realized values where labels are known (scikit-learn's definitions, NaN where NannyML gives NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from console.drift.calibration import roc_auc

# one chunk's calibrated scores, scores, predicted classes and labels (None: no labels at all)
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
Components = tuple[float, ...]
# the rows' order by score: `np.argsort` of a chunk's scores, or SORTED when they are in that order already
Order = np.ndarray | slice
SORTED: Order = slice(None)


class Undefined(ArithmeticError):
    """A metric NannyML fails on for a chunk (its chunk record becomes all NaN)."""


def usable(columns: Columns, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated, second column) without the rows NannyML drops: a NaN in either."""
    calibrated, scores, predicted, _ = columns
    second = scores if metric == "roc_auc" else predicted
    keep = ~(np.isnan(calibrated) | np.isnan(second))
    return (calibrated, second) if keep.all() else (calibrated[keep], second[keep])


# --- estimates (NannyML's estimate_* functions) ------------------------------------------------------


def estimate_roc_auc(columns: Columns, order: Order | None = None) -> float:
    """ROC AUC of the expected labels (calibrated scores) ranked by the model's scores.
    `order`: the chunk's `Order` where the caller has it (and no row has a NaN)."""
    calibrated, scores = usable(columns, "roc_auc") if order is None else columns[:2]
    if calibrated.size == 0:
        return math.nan
    expected = calibrated[np.argsort(scores) if order is None else order][::-1]
    cumulative = np.cumsum(expected)
    false_cumulative = 1 + np.arange(len(expected)) - cumulative
    tps = np.round(np.concatenate(([0.0], cumulative)), 5)
    fps = np.round(np.concatenate(([0.0], false_cumulative)), 5)
    tpr, fpr = tps / tps[-1], fps / fps[-1]
    steps = np.diff(fpr)
    direction = 1.0
    if np.any(steps < 0):
        if not np.all(steps <= 0):
            raise Undefined("x is neither increasing nor decreasing")
        direction = -1.0
    return float(direction * np.trapezoid(tpr, fpr))


Cells = tuple[float, float, float, float, int]  # expected tp, fp, fn, tn and the rows they are of


def expected_cells(columns: Columns) -> Cells:
    """The expected confusion matrix of a chunk (F1, precision, recall and accuracy share it)."""
    calibrated, predicted = usable(columns, "accuracy")
    if calibrated.size == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    positive, negative = predicted == 1, predicted == 0
    tp = np.sum(np.where(positive, calibrated, 0))
    fp = np.sum(np.where(positive, 1 - calibrated, 0))
    fn = np.sum(np.where(negative, calibrated, 0))
    tn = np.sum(np.where(negative, 1 - calibrated, 0))
    return tp, fp, fn, tn, calibrated.size


def _cells_estimate(metric: str) -> Callable[..., float]:
    """F1, precision, recall or accuracy of the expected confusion matrix (`cells`: the chunk's, if known)."""

    def estimate(columns: Columns | None, cells: Cells | None = None) -> float:
        if cells is None:
            assert columns is not None
            cells = expected_cells(columns)
        tp, fp, fn, tn, rows = cells
        if rows == 0:
            return math.nan
        if metric == "accuracy":
            return float((tp + tn) / rows)
        bottom = {"f1": tp + 0.5 * (fp + fn), "precision": tp + fp, "recall": tp + fn}[metric]
        return float(tp / bottom) if bottom != 0 else 0.0

    return estimate


CELL_METRICS = ("f1", "precision", "recall", "accuracy")
ESTIMATES: dict[str, Callable[..., float]] = {
    "roc_auc": estimate_roc_auc,
    **{m: _cells_estimate(m) for m in CELL_METRICS},
}


# --- sampling error: components from the reference, scaled by the chunk's size ---------------------


def auroc_components(
    labels: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    order: np.ndarray | None = None,
    ranked: np.ndarray | None = None,
) -> Components:
    """Std of the per-positive Mann-Whitney terms and the positive share (the minority class).
    `order`: `np.argsort(scores)` where the caller has it already; `ranked`: the labels in that order."""
    if np.mean(labels) > 0.5:
        labels, scores, order, ranked = np.abs(labels - 1), 1 - scores, None, None
    if ranked is None:
        ranked = labels[np.argsort(scores) if order is None else order]
    # NannyML takes np.unique(labels * rank)[1:]: the ranks of the positives, without rank 0
    indexes = np.flatnonzero(ranked[1:] == 1) + 1
    n_pos = np.sum(ranked)
    terms = np.true_divide(indexes - np.arange(indexes.size), ranked.size - n_pos)
    return float(np.std(terms)), float(n_pos / ranked.size)


def _two_valued_std(count: int, value: float, others: int) -> float:
    """`np.std` of `count` copies of `value` and `others` zeros, without making them."""
    size = count + others
    mean = count * value / size
    return math.sqrt((count * (value - mean) ** 2 + others * mean**2) / size)


def _f1_components(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> Components:
    right, wrong = labels == predicted, labels != predicted
    tp = int(np.count_nonzero(right & (predicted == 1)))
    fp = int(np.count_nonzero(wrong & (predicted == 1)))
    fn = int(np.count_nonzero(wrong & (predicted == 0)))
    relevant = tp + fp + fn
    if relevant == 0:
        return math.nan, 0.0
    factor = relevant / ((fn + fp) * 0.5 + tp)
    return _two_valued_std(tp, factor, fn + fp), relevant / predicted.size


def _precision_components(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> Components:
    tp = int(np.count_nonzero((labels == predicted) & (predicted == 1)))
    fp = int(np.count_nonzero((labels != predicted) & (predicted == 1)))
    std = _two_valued_std(tp, 1.0, fp) if tp + fp else math.nan
    return std, float(np.sum(predicted) / predicted.size)


def _recall_components(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> Components:
    tp = int(np.count_nonzero((labels == predicted) & (predicted == 1)))
    fn = int(np.count_nonzero((labels != predicted) & (predicted == 0)))
    std = _two_valued_std(tp, 1.0, fn) if tp + fn else math.nan
    return std, float(np.sum(labels) / predicted.size)


def _accuracy_components(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> Components:
    correct = int(np.count_nonzero(labels.astype(int) == predicted.astype(int)))
    return (_two_valued_std(correct, 1.0, predicted.size - correct),)


COMPONENTS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Components]] = {
    "roc_auc": auroc_components,
    "f1": _f1_components,
    "precision": _precision_components,
    "recall": _recall_components,
    "accuracy": _accuracy_components,
}


def sampling_error(metric: str, components: Components, columns: Columns) -> float:
    """The reference's std over the square root of the chunk's (relevant) rows."""
    return rows_error(metric, components, usable(columns, metric)[0].size)


def rows_error(metric: str, components: Components, rows: int) -> float:
    """`sampling_error` of a chunk of `rows` rows, none missing a value."""
    if rows == 0:
        return math.nan
    if metric == "accuracy":
        return float(components[0] / np.sqrt(rows))
    std, fraction = components
    return float(std / np.sqrt(rows * fraction))


# --- realized performance where labels are known --------------------------------------------------


def realized(
    metric: str, columns: Columns, counts: Counts | None = None, order: Order | None = None
) -> float:
    """The metric on the chunk's labelled rows (uncalibrated scores for ROC AUC); NaN as NannyML gives it.
    `counts`: the chunk's `realized_counts`, if known (F1, precision, recall and accuracy share them);
    `order`: the chunk's `Order` where the caller has it (and no row has a NaN)."""
    _, scores, _, labels = columns
    if labels is None:
        return math.nan
    if metric == "roc_auc":
        if order is None:
            keep = ~(np.isnan(scores) | np.isnan(labels))
            scores, labels = scores[keep], labels[keep]
        if labels.size == 0 or labels.min() == labels.max():  # none, or a single class (nunique <= 1)
            return math.nan
        return roc_auc(labels, scores, order)
    return counted(metric, realized_counts(columns) if counts is None else counts)


def counted(metric: str, counts: Counts | None) -> float:
    """F1, precision, recall or accuracy from a chunk's `realized_counts` (None: no labels)."""
    if counts is None:
        return math.nan
    rows, accuracy, one_class, one_predicted, tp, fp, fn = counts
    if rows == 0:
        return math.nan
    if metric == "accuracy":
        return accuracy
    if one_class or one_predicted:  # a single class or a single predicted class
        return math.nan
    if metric == "precision":
        return tp / (tp + fp) if tp + fp else 0.0
    if metric == "recall":
        return tp / (tp + fn) if tp + fn else 0.0
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


# labelled rows, accuracy, a single class?, a single predicted class?, tp, fp, fn
Counts = tuple[int, float, bool, bool, float, float, float]


def realized_counts(columns: Columns) -> Counts:
    """A chunk's labelled rows (with a predicted class) counted once for the realized metrics."""
    _, _, predicted, labels = columns
    assert labels is not None
    keep = ~(np.isnan(predicted) | np.isnan(labels))
    predicted, labels = predicted[keep], labels[keep]
    if labels.size == 0:
        return 0, math.nan, True, True, math.nan, math.nan, math.nan
    accuracy = float(np.mean(labels == predicted))
    one_class = bool(labels.min() == labels.max())
    one_predicted = bool(predicted.min() == predicted.max())
    tp = float(np.sum((labels == 1) & (predicted == 1)))
    fp = float(np.sum((labels == 0) & (predicted == 1)))
    fn = float(np.sum((labels == 1) & (predicted == 0)))
    return labels.size, accuracy, one_class, one_predicted, tp, fp, fn
