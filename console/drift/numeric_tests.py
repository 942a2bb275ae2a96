"""Evidently 0.7's further tests for numeric columns, on cleaned float arrays (reference, current).

Each returns a `Scored` (the score and, when there is one, a note saying what the number does not
show) or raises `Untestable` with the reason. Evidently passes the same samples to the same scipy
functions; where Evidently fails or returns NaN, these say what happened instead (see
docs/drift_tests.md): two samples that hold one same value are identical (p = 1, no drift).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from console.drift.catalogue import Scored, Untestable
from console.drift.mmd import empirical_mmd

ES_MIN_VALUES = 5  # scipy's epps_singleton_2samp needs this many values on each side
SCIPY_NOTES = {  # scipy's warnings, in a user's words
    "p-value capped": "p-value capped at 0.25 (the Anderson-Darling table ends there): the true value is larger",
    "p-value floored": "p-value floored at 0.001 (the Anderson-Darling table ends there): the true value is smaller",
    "catastrophic cancellation": "the samples are nearly constant: scipy warns the t statistic lost precision",
    "full rank": "the Epps-Singleton covariance estimate is singular (many repeated values): the p-value may be unreliable",
}


@contextmanager
def _noted(notes: list[str]) -> Iterator[None]:
    """Run scipy with its warnings caught: each becomes a note instead of a line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            yield
    for warning in caught:
        text = str(warning.message)
        note = next((n for key, n in SCIPY_NOTES.items() if key in text), f"scipy warned: {text}")
        if note not in notes:
            notes.append(note)


def _finite(p: float, title: str) -> float:
    if not np.isfinite(p):
        raise Untestable(f"{title} gave {p} on these samples; choose another test, e.g. ks")
    return float(p)


def _scored(score: float, notes: list[str]) -> Scored:
    return Scored(float(score), "; ".join(notes) or None)


def _same_single_value(ref: np.ndarray, cur: np.ndarray) -> bool:
    first = ref[0]
    return bool((ref == first).all() and (cur == first).all())


IDENTICAL = "both samples hold the single value {value:g}: identical, no drift"


def _identical(ref: np.ndarray, score: float) -> Scored:
    return Scored(score, IDENTICAL.format(value=float(ref[0])))


def anderson(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """k-sample Anderson-Darling (midrank) p-value; scipy caps it to [0.001, 0.25]."""
    from scipy.stats import anderson_ksamp

    if _same_single_value(ref, cur):
        return _identical(ref, 1.0)
    if len(ref) + len(cur) < 4:
        raise Untestable("Anderson-Darling needs at least 4 values in all (its variance divides by N - 3)")
    notes: list[str] = []
    with _noted(notes):
        p = anderson_ksamp([ref, cur], variant="midrank").pvalue
    return _scored(_finite(p, "Anderson-Darling"), notes)


def cramer_von_mises(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """Two-sample Cramér-von Mises p-value (exact up to 20 values a side, else asymptotic)."""
    from scipy.stats import cramervonmises_2samp

    if _same_single_value(ref, cur):
        return _identical(ref, 1.0)  # scipy's ties give p = 0.085 for two equal constants
    if len(ref) < 2 or len(cur) < 2:
        raise Untestable("Cramer-von Mises needs at least 2 values on each side")
    notes: list[str] = []
    with _noted(notes):
        p = cramervonmises_2samp(ref, cur).pvalue
    return _scored(_finite(p, "Cramer-von Mises"), notes)


def t_test(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """Student's two-sample t-test (pooled variance), two-sided p-value."""
    from scipy.stats import ttest_ind

    if _same_single_value(ref, cur):
        return _identical(ref, 1.0)
    if len(ref) + len(cur) < 3:
        raise Untestable("the t-test needs at least 3 values in all")
    notes: list[str] = []
    with _noted(notes):
        p = ttest_ind(ref, cur).pvalue
    return _scored(_finite(p, "the t-test"), notes)


def mannw(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """Mann-Whitney U, one-sided as Evidently asks: drift only when current is stochastically larger."""
    from scipy.stats import mannwhitneyu

    notes: list[str] = []
    with _noted(notes):
        p = mannwhitneyu(ref, cur, alternative="less").pvalue
    return _scored(_finite(p, "Mann-Whitney U"), notes)


def energy(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """scipy's energy distance, in the column's own units (not normed)."""
    from scipy.stats import energy_distance

    return Scored(float(energy_distance(ref, cur)))


def epps_singleton(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """Epps-Singleton p-value; it needs 5 values a side and a non-zero interquartile range."""
    from scipy.stats import epps_singleton_2samp, iqr

    if _same_single_value(ref, cur):
        return _identical(ref, 1.0)
    if len(ref) < ES_MIN_VALUES or len(cur) < ES_MIN_VALUES:
        raise Untestable(
            f"Epps-Singleton needs at least {ES_MIN_VALUES} values on each side "
            f"(reference {len(ref)}, current {len(cur)}); choose another test, e.g. ks"
        )
    if iqr(np.concatenate([ref, cur])) == 0:
        raise Untestable(
            "Epps-Singleton needs spread: the interquartile range of both samples together is 0 "
            "(over half the values are one value); choose another test, e.g. ks or anderson"
        )
    notes: list[str] = []
    with _noted(notes):
        p = epps_singleton_2samp(ref, cur).pvalue
    return _scored(_finite(p, "Epps-Singleton"), notes)


NUMERIC_TESTS: dict[str, Callable[[np.ndarray, np.ndarray], Scored]] = {
    "anderson": anderson,
    "cramer_von_mises": cramer_von_mises,
    "t_test": t_test,
    "mannw": mannw,
    "ed": energy,
    "es": epps_singleton,
    "empirical_mmd": empirical_mmd,
}
