"""The calibration check's expected calibration errors: the bounds that hold whatever order NannyML's
sort gives equal scores, and the decision taken from them, against the step-by-step sort."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from console.drift import calibration
from console.drift.calibration_error import (
    Runs,
    bin_edges,
    expected_calibration_error,
    sorted_calibration_error,
)


def test_the_bounds_hold_every_order_of_equal_scores() -> None:
    scores = np.array([0.1, 0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9])
    labels = np.array([0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0], dtype=np.float64)
    edges = bin_edges(scores.size, 4)  # bins of 3: edges cut the runs of 0.3 and 0.5
    runs = Runs.of_sorted(scores, np.ones(scores.size, dtype=np.int64), labels.astype(np.int64))
    least, most = runs.bounds(edges)
    errors = set()
    for first in itertools.permutations(range(3, 5)):
        for second in itertools.permutations(range(5, 9)):
            order = [0, 1, 2, *first, *second, 9, 10, 11]
            errors.add(round(sorted_calibration_error(labels[order], scores[order], edges), 12))
    assert len(errors) > 1  # the order of equal scores matters here
    assert least - 1e-12 <= min(errors) and max(errors) <= most + 1e-12


def _reference(rng: np.random.Generator, rows: int, temper: float, decimals: int | None):
    logit = rng.normal(size=rows)
    scores = 1 / (1 + np.exp(-logit * temper))
    if decimals is not None:
        scores = scores.round(decimals)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return labels, scores


CASES = [
    (rows, temper, decimals)
    for rows in (3_000, 40_000)
    for temper in (0.6, 1.0, 1.03, 2.5)
    for decimals in (None, 2)
]


def _checked(labels: np.ndarray, scores: np.ndarray) -> calibration._Check:
    """The calibration test over NannyML's ten splits, every split added."""
    groups = calibration._Groups.of(calibration.Ranked.of(labels, scores))
    assert groups is not None
    check = calibration._Check(groups)
    for test in calibration.stratified_parts(labels):
        check.add(test, labels[test])
    return check


@pytest.mark.parametrize(("rows", "temper", "decimals"), CASES)
def test_bounds_hold_the_sorted_errors_and_the_decision_is_the_sorted_one(rows, temper, decimals) -> None:
    rng = np.random.default_rng(rows + int(temper * 100) + (decimals or 0))
    labels, scores = _reference(rng, rows, temper, decimals)
    check = _checked(labels, scores)
    pooled = np.concatenate(check.tests)
    edges = bin_edges(pooled.size)
    before = expected_calibration_error(labels[pooled], scores[pooled], edges)
    calibrated = np.concatenate([c(scores[t]) for c, t in zip(check.calibrators, check.tests, strict=True)])
    after = expected_calibration_error(labels[pooled], calibrated, edges)
    before_least, before_most = Runs(check.groups.x, check.tested, check.positives).bounds(edges)
    after_least, after_most = Runs.merged(check.after).bounds(edges)
    assert before_least - 1e-12 <= before <= before_most + 1e-12
    assert after_least - 1e-12 <= after <= after_most + 1e-12
    decided = check.decided()
    assert decided in (None, before > after)
    assert calibration.needs_calibration(labels, scores) == (before > after)


def test_a_clearly_overconfident_reference_is_decided_by_the_bounds() -> None:
    labels, scores = _reference(np.random.default_rng(5), 50_000, 2.5, None)
    check = _checked(labels, scores)
    assert check.decided() is True


@pytest.mark.parametrize("decimals", [None, 3])
def test_each_train_parts_fit_is_the_fit_on_its_rows_sorted_bitwise(decimals) -> None:
    labels, scores = _reference(np.random.default_rng(11), 20_000, 1.7, decimals)
    ranked = calibration.Ranked.of(labels, scores)
    groups = calibration._Groups.of(ranked)
    assert groups is not None and groups.distinct == (decimals is None)
    rank = ranked.rank
    for test in list(calibration.stratified_parts(labels))[:3]:
        fitted = groups.fit_without(test, labels[test])[0]
        in_train = np.ones(labels.size, dtype=bool)
        in_train[rank[test]] = False
        expected = calibration._fit_sorted(ranked.x[in_train], ranked.y[in_train])  # scikit-learn's steps
        np.testing.assert_array_equal(fitted.x, expected.x)
        np.testing.assert_array_equal(fitted.y, expected.y)
