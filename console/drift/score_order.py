"""Rows by score without `np.argsort` of a million floats: the scores' bits, their low bits replaced
by the row number, sorted as integers (several times faster than an argsort), then the few rows
whose scores agree in all the other bits put in score order.

Only where no two scores are equal: there, every sort gives the one order; with equal scores
NannyML's order of them counts (`np.argsort`'s, which the AUROC components rank), so the callers
sort those with `np.argsort`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Span(Protocol):
    """A chunk: rows [start, stop) (`estimation.Chunk`)."""

    @property
    def start(self) -> int: ...

    @property
    def stop(self) -> int: ...


def distinct_order(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """`np.argsort(scores)` and the scores in that order, when the scores are distinct and not
    negative (the bits of such floats sort as the floats do); None otherwise."""
    n = scores.size
    low = max(1, (n - 1).bit_length())  # the bits for a row number
    if n < 2 or low > 40 or scores.dtype != np.float64:
        return None
    if not (bool(np.all(scores >= 0)) and not bool(np.signbit(scores).any())):  # NaN, -x or -0.0
        return None
    bits = np.ascontiguousarray(scores).view(np.uint64)
    shift = np.uint64(low)
    keys = np.sort((bits >> shift << shift) | np.arange(n, dtype=np.uint64))
    order = (keys & np.uint64((1 << low) - 1)).astype(np.intp)
    high = keys >> shift
    shared = np.flatnonzero(high[1:] == high[:-1])  # neighbours whose scores agree but in low bits
    if shared.size:
        at = np.union1d(shared, shared + 1)  # the rows of such runs, each run in row order
        by_score = np.lexsort((scores[order[at]], high[at]))
        order[at] = order[at][by_score]
    in_order = scores[order]
    return (order, in_order) if bool(np.all(in_order[1:] > in_order[:-1])) else None


def chunks_in_order(order: np.ndarray, spans: Sequence[Span], n: int) -> np.ndarray:
    """The rows of contiguous chunks covering rows 0..n, each chunk's in the order of `order` (all
    rows by score): a stable sort of the rows' chunk numbers, which numpy does by counting."""
    rows = np.fromiter((c.stop - c.start for c in spans), dtype=np.intp, count=len(spans))
    kind = np.uint8 if len(spans) <= 1 << 8 else np.uint16 if len(spans) <= 1 << 16 else np.intp
    chunk = np.repeat(np.arange(len(spans), dtype=kind), rows)
    assert chunk.size == n
    return order[np.argsort(chunk[order], kind="stable")]
