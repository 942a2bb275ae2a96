"""Evidently 0.7's empirical maximum mean discrepancy test: an RBF kernel whose bandwidth is the
reference's median pairwise distance, and a p-value from 100 permutations of the pooled rows.

Evidently draws its permutations from numpy's unseeded global generator, so its p-value changes
from run to run; here they come from `RandomState(0)`, the same draws Evidently makes after
`np.random.seed(0)`. The kernel is never held whole: row blocks of it multiply the indicator of
each split's reference rows, which gives every split's three block sums at once.
"""

from __future__ import annotations

import numpy as np

from console.drift.catalogue import Scored, Untestable

MMD_PERMUTATIONS = 100
MMD_SEED = 0
MMD_MAX_ROWS = 10_000  # the test is quadratic in rows (Evidently holds the whole kernel)
BLOCK_ROWS = 512


def empirical_mmd(ref: np.ndarray, cur: np.ndarray) -> Scored:
    """The share of permuted splits whose MMD is at least the observed one."""
    nx, ny = len(ref), len(cur)
    if nx < 2 or ny < 2:
        raise Untestable("empirical_mmd needs at least 2 values on each side")
    n = nx + ny
    if n > MMD_MAX_ROWS:
        raise Untestable(
            f"empirical_mmd is quadratic in rows: at most {MMD_MAX_ROWS:,} reference and current "
            f"rows together (here {n:,}); sample the data or choose another test, e.g. wasserstein"
        )
    pooled = np.concatenate([ref, cur])
    sigma = _median_sigma(ref)
    gamma = 1.0 / (2.0 * sigma**2)
    splits = _splits(n, nx)
    k_split, k_ones = _kernel_products(pooled, gamma, splits)
    rest = 1.0 - splits
    xx = (splits * k_split).sum(axis=0)
    xy = (rest * k_split).sum(axis=0)
    yy = (rest * (k_ones[:, None] - k_split)).sum(axis=0)
    mmd = xx / (nx * (nx - 1)) + yy / (ny * (ny - 1)) - 2.0 * xy / (nx * ny)
    return Scored(float(np.mean(mmd[0] <= mmd[1:])))


def _squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(row - col)²; Evidently expands it to col² - 2·row·col + row², which cancels to nonsense (even
    negative) for values far from zero, e.g. 1e9 ± 1e-3, and then overflows the kernel."""
    return (rows[:, None] - cols[None, :]) ** 2


def _median_sigma(ref: np.ndarray) -> float:
    """sqrt(median / 2) of the reference's squared pairwise distances (numpy's "nearest" median)."""
    flat = _squared_distances(ref, ref).ravel()
    middle = int(np.round((flat.size - 1) * 0.5))  # numpy's "nearest": round half to even
    flat.partition(middle)
    sigma = float((0.5 * flat[middle]) ** 0.5)
    return sigma if sigma != 0 else 0.5**0.5


def _splits(n: int, nx: int) -> np.ndarray:
    """Indicator columns of the reference side: the observed split, then each permutation's."""
    state = np.random.RandomState(MMD_SEED)
    splits = np.zeros((n, MMD_PERMUTATIONS + 1))
    splits[:nx, 0] = 1.0
    for column in range(1, MMD_PERMUTATIONS + 1):
        splits[state.permutation(n)[:nx], column] = 1.0
    return splits


def _kernel_products(pooled: np.ndarray, gamma: float, splits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K @ splits and K @ 1 for the kernel K with a zero diagonal, one block of rows at a time."""
    n = len(pooled)
    k_split = np.empty_like(splits)
    k_ones = np.empty(n)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        block = np.exp(-gamma * _squared_distances(pooled[start:stop], pooled))
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        k_split[start:stop] = block @ splits
        k_ones[start:stop] = block.sum(axis=1)
    return k_split, k_ones
