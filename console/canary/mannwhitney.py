"""The two-sided Mann–Whitney U test of canary against baseline, as scipy's
`mannwhitneyu(canary, baseline, alternative="two-sided", method="auto")` answers it, on groups
given sorted.

The test only sees ranks, so sorting each group first changes neither U nor p, and ranking two
sorted groups together is one merge.  From that merge the normal approximation is computed
operation for operation as scipy does; scipy's own call spends most of its time in a stable
argsort of the unsorted sample (benchmarks/bench_canary.py).  The exact distribution (`auto`
picks it when a group has at most 8 values and nothing ties) is scipy's where that is cheap;
scipy builds it in time quadratic in n_canary × n_baseline (19 s for 8 values against 10,080),
so for larger products it is counted here, exactly, as the coefficients of a Gaussian binomial.
tests/unit/test_canary_judge.py holds every U and p to scipy's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

EXACT_MAX = 8  # scipy's `auto`: exact when a group has at most this many values and nothing ties
SCIPY_EXACT_MAX = 4096  # n_canary × n_baseline up to which scipy's exact distribution is quick


@dataclass(frozen=True)
class Test:
    """One metric's test: the canary's U, the two-sided p, and scipy's method."""

    u: float
    p: float
    method: str  # "exact" | "asymptotic"


def scipy_method(baseline: np.ndarray, canary: np.ndarray) -> str:
    """What scipy's `method="auto"` picks for these two samples (scipy's `_mwu_choose_method`)."""
    import numpy as np

    if baseline.size > EXACT_MAX and canary.size > EXACT_MAX:
        return "asymptotic"
    both = np.concatenate([baseline, canary])
    return "asymptotic" if np.unique(both).size < both.size else "exact"


def mann_whitney(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Test]:
    """The test of each (baseline, canary) pair, both sorted and without NaN; small exact ones
    in one scipy call per pair of sizes."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    out: dict[int, Test] = {}
    small: dict[tuple[int, int], list[int]] = {}
    for index, (b, c) in enumerate(pairs):
        method = scipy_method(b, c)
        if method == "exact" and b.size * c.size <= SCIPY_EXACT_MAX:
            small.setdefault((c.size, b.size), []).append(index)
            continue
        u1, tie_term = rank_sum(b, c)
        p = exact_p(u1, c.size, b.size) if method == "exact" else normal_p(u1, c.size, b.size, tie_term)
        out[index] = Test(u1, p, method)
    for members in small.values():
        canaries = np.stack([pairs[i][1] for i in members])
        baselines = np.stack([pairs[i][0] for i in members])
        res = mannwhitneyu(canaries, baselines, alternative="two-sided", method="exact", axis=1)
        for position, index in enumerate(members):
            out[index] = Test(float(res.statistic[position]), float(res.pvalue[position]), "exact")
    return [out[i] for i in range(len(pairs))]


def rank_sum(baseline: np.ndarray, canary: np.ndarray) -> tuple[float, float]:
    """The canary's U (its rank sum less n(n+1)/2, ties at their average rank) and the tie term
    Σ(t³ − t) over groups of tied values, from both groups sorted."""
    import numpy as np

    n_canary, n = canary.size, canary.size + baseline.size
    both = np.concatenate([canary, baseline])
    order = np.argsort(both, kind="stable")  # two sorted runs: one merge
    merged = both[order]
    starts_group = np.empty(n, dtype=bool)
    starts_group[0] = True
    np.not_equal(merged[1:], merged[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    in_canary = order < n_canary
    if starts.size == n:  # no ties: ranks are positions + 1
        twice_rank_sum = 2 * (int(np.flatnonzero(in_canary).sum()) + n_canary)
        tie_term = 0.0
    else:  # a tie group's members share its average rank, (first + last) / 2 + 1
        counts = np.diff(np.append(starts, n))
        twice_average = 2 * starts + counts + 1
        group = np.cumsum(starts_group) - 1
        twice_rank_sum = int(twice_average[group[in_canary]].sum())
        tied = counts.astype(np.float64)
        tie_term = float(np.sum(tied**3 - tied))
    return twice_rank_sum / 2 - n_canary * (n_canary + 1) / 2, tie_term


def normal_p(u1: float, n_canary: int, n_baseline: int, tie_term: float) -> float:
    """Two-sided p of the normal approximation with scipy's tie and continuity corrections
    (scipy's `_get_mwu_z`, operation for operation)."""
    import numpy as np
    from scipy import special

    n = n_canary + n_baseline
    u = max(u1, n_canary * n_baseline - u1)
    s = math.sqrt(n_canary * n_baseline / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.float64(u - n_canary * n_baseline / 2 - 0.5) / np.float64(s)
    return min(max(float(special.ndtr(-z)) * 2, 0.0), 1.0)


def exact_p(u1: float, n_canary: int, n_baseline: int) -> float:
    """Two-sided exact p of U without ties: 2 × P(U ≥ max(U1, U2)) = 2 × P(U ≤ k) with
    k = m·n − max(U1, U2), by symmetry.  The number of arrangements of each U are the coefficients
    of [m + n choose m]_q = Π (1 − q^(n+i)) / (1 − q^i) over i = 1..m, counted in integers and
    only up to q^k (both steps are exact on a truncated power series)."""
    import numpy as np

    m, n = sorted((n_canary, n_baseline))
    k = m * n - int(max(u1, m * n - u1))
    counts = np.zeros(k + 1, dtype=object)
    counts[0] = 1
    for i in range(1, m + 1):
        shift = n + i
        if shift <= k:  # × (1 − q^shift)
            counts[shift:] = counts[shift:] - counts[:-shift]
        for residue in range(min(i, k + 1)):  # ÷ (1 − q^i): a running sum in steps of i
            counts[residue::i] = np.cumsum(counts[residue::i])
    return min(float(Fraction(2 * int(counts.sum()), math.comb(m + n, m))), 1.0)
