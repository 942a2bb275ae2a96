"""The drift statistics on cleaned arrays: p-value tests, distances and divergences, as Evidently 0.7 defines them."""

from __future__ import annotations

import math

import numpy as np


def p_ks(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(ref, cur).pvalue)


def p_chisquare(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    from scipy.stats import chi2

    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (cur_counts - expected) ** 2 / expected
    statistic = float(terms.sum())
    return float(chi2.sf(statistic, len(ref_counts) - 1))


def p_z(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Two-proportion Z-test on the share of rows that are not the first (smallest) key."""
    from scipy.stats import norm

    present = (ref_counts > 0) | (cur_counts > 0)
    ref_counts, cur_counts = ref_counts[present], cur_counts[present]
    if len(ref_counts) == 1:
        return 1.0
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    p_ref = float(n_ref - int(ref_counts[0])) / n_ref
    p_cur = float(n_cur - int(cur_counts[0])) / n_cur
    pooled = float(p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p_ref - p_cur) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """First Wasserstein distance between two sorted samples, as the area between quantile functions."""
    n_ref, n_cur = len(ref_sorted), len(cur_sorted)
    if n_ref == n_cur:
        return float(np.abs(ref_sorted - cur_sorted).sum() / n_ref)
    # Quantile levels where either step function jumps, in units of 1 / (n_ref * n_cur).
    levels = np.concatenate(
        [np.arange(n_ref, dtype=np.int64) * n_cur, np.arange(n_cur, dtype=np.int64) * n_ref]
    )
    levels.sort(kind="stable")
    levels = np.append(levels, n_ref * n_cur)
    starts, widths = levels[:-1], np.diff(levels)
    keep = widths > 0
    starts, widths = starts[keep], widths[keep]
    gaps = np.abs(ref_sorted[starts // n_cur] - cur_sorted[starts // n_ref])
    return float(np.dot(widths.astype(np.float64), gaps) / (float(n_ref) * float(n_cur)))


def shares_binned(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each side's share per Sturges bin, equal-width over the combined data."""
    combined = np.concatenate([ref, cur])
    edges = np.histogram_bin_edges(combined, bins="sturges")
    return (np.histogram(ref, edges)[0] / len(ref), np.histogram(cur, edges)[0] / len(cur))


def fill_empty(shares: np.ndarray) -> np.ndarray:
    """Evidently's fill for empty bins: the smallest non-empty share / 1e6 if ≤ 1e-4, else 1e-4."""
    nonzero = shares[shares != 0]
    if nonzero.size == 0:
        return shares
    smallest = nonzero.min()
    filled = shares.astype(np.float64, copy=True)
    filled[filled == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return filled


def jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    from scipy.special import rel_entr

    p = p / p.sum()
    q = q / q.sum()
    mid = (p + q) / 2.0
    total = float(rel_entr(p, mid).sum() + rel_entr(q, mid).sum())
    return math.sqrt(total / 2.0)


def kl(p: np.ndarray, q: np.ndarray) -> float:
    from scipy.special import rel_entr

    return float(rel_entr(p / p.sum(), q / q.sum()).sum())


def psi(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum((p - q) * np.log(p / q)))


def hellinger_numeric(ref: np.ndarray, cur: np.ndarray) -> float:
    """Hellinger distance over Sturges bins spanning the distinct values of both sides."""
    distinct = np.unique(np.concatenate([ref, cur]))
    edges = np.histogram_bin_edges(distinct, bins="sturges")
    dens_ref = np.histogram(ref, bins=edges, density=True)[0]
    dens_cur = np.histogram(cur, bins=edges, density=True)[0]
    width = (edges.max() - edges.min()) / (len(edges) - 1)
    overlap = float(np.sum(np.sqrt(dens_ref * dens_cur) * width))
    return math.sqrt(1 - min(max(overlap, 0.0), 1.0))


def hellinger_shares(p: np.ndarray, q: np.ndarray) -> float:
    overlap = float(np.sum(np.sqrt(p * q)))
    return math.sqrt(1 - min(max(overlap, 0.0), 1.0))
