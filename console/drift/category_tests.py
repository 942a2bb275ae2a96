"""Evidently 0.7's further tests for categorical columns: Fisher's exact, the G-test and the total
variation distance's permutation p-value, on each side's count per category (keys sorted).

Each returns a `Scored` or raises `Untestable`; docs/drift_tests.md says where these differ from
Evidently, which refuses samples of unequal size for Fisher's exact and the G-test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from console.drift.catalogue import Scored, Untestable

TVD_PERMUTATIONS = 1000
TVD_SEED = 0  # Evidently seeds numpy's global generator with 0 before its permutations
TVD_PERMUTED_MAX_ROWS = 50_000  # above, splits are drawn as counts: a permutation per split is slow
DRAWN_AS_COUNTS = (
    "p-value from 1000 random splits drawn as multivariate hypergeometric counts "
    "(over {rows:,} rows: the same test as Evidently's permutations, not the same draws)"
)
ONE_CATEGORY = "one category ({key!r}) on both sides: identical, no drift"


def fisher_exact(
    ref: np.ndarray, cur: np.ndarray, keys: list, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> Scored:
    """Two-sided Fisher's exact test on the 2×2 table of side × category (binary columns only)."""
    from scipy.stats import fisher_exact as fisher

    if len(keys) > 2:
        shown = ", ".join(map(repr, keys[:5])) + (", ..." if len(keys) > 5 else "")
        raise Untestable(
            f"Fisher's exact test needs a binary column; found {len(keys)} categories ({shown}); "
            "choose another test, e.g. chisquare"
        )
    if len(keys) == 1:
        return Scored(1.0, ONE_CATEGORY.format(key=keys[0]))
    table = np.array([[cur_counts[1], cur_counts[0]], [ref_counts[1], ref_counts[0]]])
    return Scored(float(fisher(table).pvalue))


def g_test(
    ref: np.ndarray, cur: np.ndarray, keys: list, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> Scored:
    """G-test of current's counts against the reference's shares scaled to current's size."""
    from scipy.stats import power_divergence

    if len(keys) == 1:
        return Scored(1.0, ONE_CATEGORY.format(key=keys[0]))
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    with np.errstate(divide="ignore"):
        p = float(power_divergence(cur_counts, expected, lambda_="log-likelihood").pvalue)
    new = [key for key, n_ref, n_cur in zip(keys, ref_counts, cur_counts) if n_ref == 0 and n_cur > 0]
    if new:
        shown = ", ".join(map(repr, new[:5]))
        return Scored(p, f"categories absent from the reference ({shown}): the G statistic is infinite")
    return Scored(p)


def tvd(
    ref: np.ndarray, cur: np.ndarray, keys: list, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> Scored:
    """The share of 1000 permuted splits whose total variation distance is at least the observed one."""
    import pandas as pd

    codes = pd.factorize(np.concatenate([ref, cur]))[0]
    if len(codes) > TVD_PERMUTED_MAX_ROWS:
        at_least = _tvd_drawn_as_counts(codes, len(ref))
        return Scored(at_least / TVD_PERMUTATIONS, DRAWN_AS_COUNTS.format(rows=TVD_PERMUTED_MAX_ROWS))
    at_least, _ties = tvd_permutations(codes, len(ref))
    return Scored(at_least / TVD_PERMUTATIONS)


def _tvd_drawn_as_counts(codes: np.ndarray, n_ref: int) -> int:
    """tvd_permutations' first count, each split's reference counts drawn at once (O(categories))."""
    totals = np.bincount(codes)
    observed = np.bincount(codes[:n_ref], minlength=len(totals))[None, :]
    generator = np.random.Generator(np.random.PCG64(TVD_SEED))
    permuted = generator.multivariate_hypergeometric(totals, n_ref, size=TVD_PERMUTATIONS)
    n_cur = len(codes) - n_ref
    distance = _scaled_tvd(observed, totals, n_ref, n_cur)[0]
    return int(np.sum(_scaled_tvd(permuted.astype(np.int64), totals, n_ref, n_cur) >= distance))


def tvd_permutations(codes: np.ndarray, n_ref: int) -> tuple[int, int]:
    """How many permuted splits have a distance at least the observed one, and how many exactly it.

    Splits are drawn as Evidently draws them (np.random.choice(pooled, n_ref, replace=False) after
    np.random.seed(0)); distances are compared exactly, as integers 2·n_ref·n_cur·TVD.
    """
    n_cur = len(codes) - n_ref
    totals = np.bincount(codes)
    observed = np.bincount(codes[:n_ref], minlength=len(totals))[None, :]
    state = np.random.RandomState(TVD_SEED)
    permuted = np.empty((TVD_PERMUTATIONS, len(totals)), dtype=np.int64)
    for row in range(TVD_PERMUTATIONS):
        permuted[row] = np.bincount(codes[state.permutation(len(codes))[:n_ref]], minlength=len(totals))
    distance = _scaled_tvd(observed, totals, n_ref, n_cur)[0]
    distances = _scaled_tvd(permuted, totals, n_ref, n_cur)
    return int(np.sum(distances >= distance)), int(np.sum(distances == distance))


def _scaled_tvd(ref_counts: np.ndarray, totals: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """2·n_ref·n_cur times the total variation distance, per row of reference counts: an integer."""
    cur_counts = totals - ref_counts
    return np.abs(ref_counts * np.int64(n_cur) - cur_counts * np.int64(n_ref)).sum(axis=1)


CATEGORY_TESTS: dict[str, Callable[[np.ndarray, np.ndarray, list, np.ndarray, np.ndarray], Scored]] = {
    "fisher_exact": fisher_exact,
    "g_test": g_test,
    "TVD": tvd,
}
