"""Every series' window sums at once from persisted rollups the store's marks vouch for.

A one-shot command (`oncall slo`) keeps nothing in memory: when every steady block of every
series is persisted and vouched for, the blocks are read as arrays and joined in time order
for all series together, instead of one summary tuple per block and one join per series.  The
numbers are the same as `sums._combine`'s, bit for bit: each series' links and whole blocks'
own increases are added from its latest block back (as `_combine`'s tails are), the two sums
then added, then the split blocks' parts in time order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from console.slo.blocks import HOUR_MS, Block, BlockKey, Blocks, PerWindow, Span
from console.slo.rollups import rollups_of

if TYPE_CHECKING:
    import duckdb


class Steady(NamedTuple):
    """The steady blocks of the span's series as arrays, in (series, time) order."""

    series: np.ndarray  # the series' place in span.ids
    start: np.ndarray
    samples: np.ndarray
    first_ts: np.ndarray
    first_value: np.ndarray
    last_value: np.ndarray
    inner: np.ndarray


def _codes(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """One integer per block: its start, plus one for an hour (starts are whole hours)."""
    return starts + (lengths == HOUR_MS)


def steady_rollups(cur: duckdb.DuckDBPyConnection, span: Span) -> Steady | None:
    """The persisted rollups of every steady block of every series; None unless each one is
    there exactly once (then the caller reads what is missing the usual way)."""
    if not span.steady:
        return None
    keys = np.array(span.steady, dtype=np.int64)
    wanted = np.sort(_codes(keys[:, 0], keys[:, 1]))
    cols = cur.execute(f"""
        SELECT series_id, start_ms, length_ms, samples, first_ts, first_value, last_value, inner_inc
        FROM slo_rollups WHERE {rollups_of(span.ids, span.steady)}
    """).fetchnumpy()
    code = _codes(np.asarray(cols["start_ms"]), np.asarray(cols["length_ms"]))
    at = np.searchsorted(wanted, code).clip(max=len(wanted) - 1)
    keep = wanted[at] == code
    ids = np.asarray(span.ids, dtype=np.int64)
    series_id = np.asarray(cols["series_id"])[keep]
    series = np.searchsorted(ids, series_id)
    slot = series * len(wanted) + at[keep]
    if len(slot) != len(ids) * len(wanted) or len(np.unique(slot)) != len(slot):
        return None
    order = np.argsort(slot, kind="stable")
    pick = np.flatnonzero(keep)[order]
    return Steady(
        series[order],
        np.asarray(cols["start_ms"])[pick],
        np.asarray(cols["samples"])[pick],
        np.asarray(cols["first_ts"])[pick],
        np.asarray(cols["first_value"], dtype=np.float64)[pick],
        np.asarray(cols["last_value"], dtype=np.float64)[pick],
        np.asarray(cols["inner_inc"], dtype=np.float64)[pick],
    )


def combine_all(
    span: Span, steady: Steady, read: Blocks, parts: dict[tuple[int, BlockKey], PerWindow]
) -> dict[int, PerWindow]:
    """Per series: (increase, samples) per window, from its steady blocks and the raw ones read."""
    place = {series_id: k for k, series_id in enumerate(span.ids)}
    raw = sorted(
        (place[i], key[0], block, parts[(i, key)]) for (i, key), block in read.items() if block.count
    )
    n_raw = len(raw)
    has = steady.samples > 0
    series = np.concatenate([steady.series[has], np.array([r[0] for r in raw], dtype=np.int64)])
    start = np.concatenate([steady.start[has], np.array([r[1] for r in raw], dtype=np.int64)])
    split = np.concatenate([np.zeros(int(has.sum()), dtype=bool), np.ones(n_raw, dtype=bool)])
    order = np.lexsort((start, series))
    series, start, split = series[order], start[order], split[order]

    def column(values: np.ndarray, field: str, dtype: type) -> np.ndarray:
        extra: np.ndarray = np.array([getattr(r[2], field) for r in raw], dtype=dtype)
        return np.concatenate([values[has], extra])[order]

    first_ts = column(steady.first_ts, "first_ts", np.int64)
    first_value = column(steady.first_value, "first_value", np.float64)
    last_value = column(steady.last_value, "last_value", np.float64)
    inner = column(steady.inner, "inner", np.float64)
    count = column(steady.samples, "count", np.int64)
    previous = np.concatenate([[0.0], last_value[:-1]])
    link = np.where(first_value < previous, first_value, first_value - previous)
    link[np.concatenate([[True], series[1:] != series[:-1]])] = 0.0  # a series' first block
    whole = ~split
    n = len(span.ids)
    windows = []
    back = series[::-1]  # latest block first: bincount adds in this order, as the tails do
    for start_ms in span.starts:
        linked = (first_ts > start_ms)[::-1]
        inside = whole & (start > start_ms)
        own = inside[::-1]
        total = np.bincount(back[linked], weights=link[::-1][linked], minlength=n)
        total += np.bincount(back[own], weights=inner[::-1][own], minlength=n)
        samples = np.bincount(series[inside], weights=count[inside], minlength=n)
        windows.append((total, samples.astype(np.int64)))
    return _with_splits(span, windows, raw, place)


def _with_splits(
    span: Span,
    windows: list[tuple[np.ndarray, np.ndarray]],
    raw: list[tuple[int, int, Block, PerWindow]],
    place: dict[int, int],
) -> dict[int, PerWindow]:
    """Add each split block's parts to its series' windows, in time order (raw is sorted)."""
    totals = [[float(x) for x in total] for total, _ in windows]
    samples = [[int(x) for x in counted] for _, counted in windows]
    for series, _, _, split in raw:
        for k, (increase, counted) in enumerate(split):
            totals[k][series] += increase
            samples[k][series] += counted
    return {
        series_id: [(totals[k][at], samples[k][at]) for k in range(len(windows))]
        for series_id, at in place.items()
    }
