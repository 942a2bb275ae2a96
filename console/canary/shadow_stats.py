"""The numbers of a shadow comparison from paired scores: decided-class agreement, score
differences, and label-based performance (no scikit-learn: counts, and ROC AUC as a rank statistic)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

QUANTILES = {"p1": 0.01, "p5": 0.05, "p50": 0.5, "p95": 0.95, "p99": 0.99}


def _ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator; None (undefined, never 0) when there is nothing to divide by."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Agreement:
    """How often the two versions decide the same class (score >= threshold is the positive class)."""

    pairs: int
    agreed: int
    rate: float | None  # agreed / pairs; None without pairs
    both_positive: int
    both_negative: int
    champion_only_positive: int
    shadow_only_positive: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def agreement(champion: np.ndarray, shadow: np.ndarray, threshold: float) -> Agreement:
    """Agreement of the decided class over paired scores (same request, same position)."""
    champion_positive, shadow_positive = champion >= threshold, shadow >= threshold
    both_positive = int(np.count_nonzero(champion_positive & shadow_positive))
    both_negative = int(np.count_nonzero(~champion_positive & ~shadow_positive))
    agreed = both_positive + both_negative
    return Agreement(
        pairs=int(champion.size),
        agreed=agreed,
        rate=_ratio(agreed, int(champion.size)),
        both_positive=both_positive,
        both_negative=both_negative,
        champion_only_positive=int(np.count_nonzero(champion_positive & ~shadow_positive)),
        shadow_only_positive=int(np.count_nonzero(~champion_positive & shadow_positive)),
    )


@dataclass(frozen=True)
class ScoreDiffs:
    """The distribution of shadow − champion over paired scores; every figure None without pairs."""

    count: int
    mean: float | None
    std: float | None  # population standard deviation (numpy's default, ddof=0)
    p1: float | None
    p5: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max_abs: float | None

    def quantiles(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in QUANTILES}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_diffs(champion: np.ndarray, shadow: np.ndarray) -> ScoreDiffs:
    """Count, mean, std, quantiles (numpy's linear interpolation) and largest |difference|."""
    diffs = shadow - champion
    if diffs.size == 0:
        return ScoreDiffs(0, None, None, None, None, None, None, None, None)
    p1, p5, p50, p95, p99 = (float(q) for q in np.quantile(diffs, list(QUANTILES.values())))
    return ScoreDiffs(
        count=int(diffs.size),
        mean=float(np.mean(diffs)),
        std=float(np.std(diffs)),
        p1=p1,
        p5=p5,
        p50=p50,
        p95=p95,
        p99=p99,
        max_abs=float(np.max(np.abs(diffs))),
    )


@dataclass(frozen=True)
class Performance:
    """One version's performance on the labelled requests; a figure is None where it is undefined
    (precision without a predicted positive, ROC AUC without both classes), never 0 in its place."""

    version: str
    n: int
    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance(version: str, scores: np.ndarray, labels: np.ndarray, threshold: float) -> Performance:
    """Accuracy, precision, recall, F1 at `threshold` and ROC AUC of scores against 0/1 labels."""
    actual = labels == 1
    decided = scores >= threshold
    tp = int(np.count_nonzero(decided & actual))
    fp = int(np.count_nonzero(decided & ~actual))
    tn = int(np.count_nonzero(~decided & ~actual))
    fn = int(np.count_nonzero(~decided & actual))
    return Performance(
        version=version,
        n=int(labels.size),
        positives=tp + fn,
        negatives=tn + fp,
        true_positives=tp,
        false_positives=fp,
        true_negatives=tn,
        false_negatives=fn,
        accuracy=_ratio(tp + tn, int(labels.size)),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        roc_auc=roc_auc(scores, actual),
    )


def roc_auc(scores: np.ndarray, actual: np.ndarray) -> float | None:
    """The area under the ROC curve as the Mann–Whitney statistic: U of the positives' scores
    over the negatives' (ties count a half, by average ranks) divided by n1 × n0; None without
    both classes."""
    from scipy.stats import rankdata

    positives = int(np.count_nonzero(actual))
    negatives = int(actual.size) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    u = float(np.sum(ranks[actual])) - positives * (positives + 1) / 2
    return u / (positives * negatives)
