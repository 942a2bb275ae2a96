"""Counter increases per series over several windows ending at `now`, from rollups of finished blocks.

Time from the first window's start to `now` is cut into UTC days; a day that a window
boundary falls into is cut into hours instead.  Each series' samples in a block are
summarised: sample count, first and last sample, and the sum of the increases inside it
(each sample against its predecessor in the block; a drop is a reset).  Joining blocks in
time order links a block's first sample to the previous block's last one, which gives
exactly the per-sample increases of one pass over all the samples.  Only the few hours that
hold a boundary (or `now`, or the start of what is read) are read sample by sample; every
other block is the same for any `now`, so it is kept in memory per store and series, and
persisted in the store's `slo_rollups` table when the store is writable (a fresh process
then reads the rollups instead of every sample).  Kept blocks are checked against the store
on every call (per series the sample count and sum of timestamps over the kept span, then
per block for a series that differs: ingest only ever adds or deletes rows), so late and
deleted samples are noticed and only the blocks they touch are read again.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from console.slo.blocks import (
    EMPTY,
    Block,
    BlockKey,
    Blocks,
    PerWindow,
    Span,
    block_at,
    epoch_ms,
    id_list,
    read_blocks,
    span_of,
    ts_literal,
)
from console.slo.rollups import Mark, load_marks, load_rollups, save_rollups, stale_blocks, store_state

if TYPE_CHECKING:
    import duckdb

    from console.store import Store
    from console.store.db import SampleWrites

_MAX_CACHED_SERIES = 200_000
# From this many blocks (series x steady blocks) vouched rollups are joined as arrays (`oncall
# slo`, a console's first read): NumPy's import (~70 ms) then costs less than a summary tuple
# per block (~10 us each).
ARRAYS_FROM = 10_000
_cache: dict[tuple[str, int], dict[BlockKey, Block]] = {}
_lock = threading.Lock()


def cache_key(store: Store) -> str:
    """What in-process caches of a store's numbers are keyed by: its file (a snapshot's original)."""
    return str(getattr(store, "snapshot_of", None) or store.path)


def window_sums(
    store: Store,
    series_ids: Sequence[int],
    now: datetime,
    windows: Sequence[timedelta],
    lookback: timedelta,
    *,
    memory: bool = True,
) -> dict[int, PerWindow]:
    """Per series: (increase, samples) over each window (t > now − w, t ≤ now).

    Samples are read back to `max(windows) + lookback` before `now`; the first one read
    only sets the base.  Finished blocks come from memory (with `memory`), then from the
    store's rollups, then from the samples; new ones are persisted when the store is
    writable.  A read-only store with rollups for under half the span is read in one pass.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    span = span_of(ids, now, windows, lookback)
    writes, checked_at = _writes_log(store, memory)
    cur = store.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")  # every read below sees the same samples
        # The marks, read now unless this process remembers blocks of these series: then the
        # rollups' check is its own (the writes it logged), and the arrays' path is not taken.
        fresh = not memory or not _remembers(cache_key(store), span.ids)
        vouched = (store_state(cur), load_marks(cur, ids)) if fresh else None
        if vouched is not None and len(span.ids) * len(span.steady) >= ARRAYS_FROM:
            answer = _from_vouched_rollups(cur, span, vouched)
            if answer is not None:
                cur.execute("COMMIT")
                _verified(writes, ids, checked_at)  # every block checked out, as below
                return answer
        known, remembered = _known_blocks(cur, span, cache_key(store), memory)
        if getattr(store, "read_only", True) and not memory and _mostly_unrolled(span, known):
            return single_pass_sums(cur, ids, now, windows, lookback)
        # While no block comes from memory (always without it; a console's first frame with it)
        # every known block is a persisted rollup: its mark may vouch for it, and the samples
        # need no scan to trust the rollups.
        if vouched is not None and not remembered:  # read above: the same marks
            marks: Marks | None = vouched
        else:
            marks = None if remembered else (store_state(cur), load_marks(cur, ids))
        read, parts, redo = _read_missing(cur, span, known, writes, marks)
        cur.execute("COMMIT")
    finally:
        cur.close()
    _verified(writes, ids, checked_at)
    _record(store, span, known, redo, memory, _new_marks(span, marks))
    return {i: _combine(span, known[i], read, parts, i) for i in ids}


Marks = tuple[tuple[int, int], dict[int, Mark]]  # the store's state, and the series' marks


def _from_vouched_rollups(
    cur: duckdb.DuckDBPyConnection, span: Span, vouched: Marks
) -> dict[int, PerWindow] | None:
    """Every series' sums from its persisted rollups as arrays, when the store's marks vouch
    for every steady block and each is persisted (`oncall slo` on a store whose rollups are
    built); None otherwise, and the usual path reads and checks what it must.

    A long-running process takes it while it remembers no block of these series: a console's
    first frame (from ARRAYS_FROM blocks; the demo's has fewer and imports no NumPy), and its
    reads until a write: the marks then no longer vouch, and the usual path keeps the blocks
    in memory, checking only the blocks the process's logged writes reached since."""
    if not span.steady:
        return None
    state, marks = vouched
    first, end = span.steady[0][0], span.steady[-1][0] + span.steady[-1][1]
    for i in span.ids:
        held = _trusted(marks.get(i), state)
        if held is None or not (held[0] <= first and end <= held[1]):
            return None
    from console.slo.combined import combine_all, steady_rollups  # NumPy: only on this path

    steady = steady_rollups(cur, span)
    if steady is None:
        return None
    read, parts = read_blocks(cur, span, sorted(span.raw), span.raw)
    return combine_all(span, steady, read, parts)


def _verified(writes: SampleWrites | None, ids: Sequence[int], checked_at: int) -> None:
    """Note that these series' kept blocks matched the samples as of the writes log's
    `checked_at`: the next check reads only blocks written since."""
    if writes is not None:
        for i in ids:
            writes.verified[i] = checked_at


def _remembers(store_key: str, ids: Sequence[int]) -> bool:
    """Whether this process keeps blocks of any of these series in memory."""
    with _lock:
        return any(_cache.get((store_key, i)) for i in ids)


def _trusted(mark: Mark | None, state: tuple[int, int]) -> tuple[int, int] | None:
    """The span [lo, hi] (ms) whose rollups a mark vouches for in the store's `state`."""
    return (mark.lo_ms, mark.hi_ms) if mark is not None and mark.state == state else None


def _new_marks(span: Span, marks: Marks | None) -> dict[int, Mark]:
    """The marks to persist once this call's blocks matched the samples: the span checked,
    joined with a mark of the same state it overlaps; none where the old mark covers it."""
    if marks is None:
        return {}
    state, old = marks
    new = {}
    for i in span.ids:
        lo, hi = span.lo_ms, span.now_ms
        held = _trusted(old.get(i), state)
        if held is not None and held[0] <= lo and hi <= held[1]:
            continue
        if held is not None and held[0] <= hi and lo <= held[1]:
            lo, hi = min(lo, held[0]), max(hi, held[1])
        new[i] = Mark(state, lo, hi)
    return new


def _writes_log(store: Store, memory: bool) -> tuple[SampleWrites | None, int]:
    """A writer's log of what it wrote, and how far it goes now (with `memory` only).

    A writer knows what it wrote since it last checked its kept blocks: only blocks those
    writes could reach are checked again (none, while samples arrive in time order)."""
    writes = getattr(store, "sample_writes", None) if memory else None
    return writes, writes.generation if writes is not None else 0


def _record(
    store: Store,
    span: Span,
    known: dict[int, dict[BlockKey, Block]],
    redo: set[tuple[int, BlockKey]],
    memory: bool,
    marks: dict[int, Mark],
) -> None:
    """Persist the blocks read again and the new marks (a writable store), and keep the steady
    blocks (with `memory`)."""
    if (redo or marks) and not getattr(store, "read_only", True):
        save_rollups(store, {pair: known[pair[0]][pair[1]] for pair in redo}, marks, span)
    if memory:
        _keep_in_memory(cache_key(store), span, known)


def _known_blocks(
    cur: duckdb.DuckDBPyConnection, span: Span, store_key: str, memory: bool
) -> tuple[dict[int, dict[BlockKey, Block]], bool]:
    """Per series, the steady blocks already summarised: in memory, else in the rollups; and
    whether any came from memory."""
    with _lock:
        known = {i: dict(_cache.get((store_key, i), {})) if memory else {} for i in span.ids}
    remembered = any(known.values())
    if any(b not in known[i] for i in span.ids for b in span.steady):
        for (series_id, key), block in load_rollups(cur, span.ids, span.steady).items():
            known[series_id].setdefault(key, block)
    return known, remembered


def _mostly_unrolled(span: Span, known: dict[int, dict[BlockKey, Block]]) -> bool:
    """Whether rollups cover under half the span: one pass is then cheaper."""
    return sum(len(known[i]) for i in span.ids) * 2 < len(span.ids) * len(span.steady)


def _read_missing(
    cur: duckdb.DuckDBPyConnection,
    span: Span,
    known: dict[int, dict[BlockKey, Block]],
    writes: SampleWrites | None,
    marks: Marks | None,
) -> tuple[Blocks, dict[tuple[int, BlockKey], PerWindow], set[tuple[int, BlockKey]]]:
    """Read the raw blocks, the steady ones not known, and the known ones the store changed.

    `known` is updated; returns what was read, the raw blocks' per-window parts and the
    steady blocks read again (to persist).
    """
    redo = {(i, b) for i in span.ids for b in span.steady if b not in known[i]}
    read, parts = read_blocks(cur, span, sorted(span.raw | {b for _, b in redo}), span.raw)
    for pair in redo:
        known[pair[0]][pair[1]] = read.get(pair, EMPTY)
    stale = stale_blocks(cur, span, read, known, _kept_to_check(span, redo, writes, marks))
    if stale:
        again, _ = read_blocks(cur, span, sorted({b for _, b in stale}), set())
        for pair in stale:
            known[pair[0]][pair[1]] = again.get(pair, EMPTY)
        redo |= stale
    return read, parts, redo


def _kept_to_check(
    span: Span, redo: set[tuple[int, BlockKey]], writes: SampleWrites | None, marks: Marks | None
) -> dict[int, list[BlockKey]]:
    """Per series, the kept blocks to check against the store: those a write could reach
    (this process's writes), or those no mark in the store's present state vouches for."""
    kept = {i: [b for b in span.steady if (i, b) not in redo] for i in span.ids}
    if marks is not None:
        state, found = marks
        for i in span.ids:
            held = _trusted(found.get(i), state)
            if held is not None:
                kept[i] = [b for b in kept[i] if not (held[0] <= b[0] and b[0] + b[1] <= held[1])]
    if writes is None:
        return kept
    for i in span.ids:
        since = writes.oldest_since(writes.verified.get(i))
        kept[i] = [] if since is None else [b for b in kept[i] if b[0] + b[1] > since]
    return kept


def _keep_in_memory(store_key: str, span: Span, known: dict[int, dict[BlockKey, Block]]) -> None:
    keep = set(span.steady)
    with _lock:
        for series_id in span.ids:
            _cache[(store_key, series_id)] = {k: v for k, v in known[series_id].items() if k in keep}
        while len(_cache) > _MAX_CACHED_SERIES:
            _cache.pop(next(iter(_cache)))


class _Joined(NamedTuple):
    """One series' blocks in time order, as `_combine` adds them up per window."""

    firsts: list[int]  # every block's first sample time
    links: list[float]  # every block's first sample's increase over the previous block's last
    block_starts: list[int]  # whole blocks: start
    inners: list[float]  # whole blocks: own increases
    counts: list[int]  # whole blocks: samples
    splits: list[PerWindow]  # blocks a window boundary falls into: their per-window parts


def _link(previous: Block | None, block: Block) -> float:
    """A block's first sample's increase over the previous block's last (a drop is a reset)."""
    if previous is None:
        return 0.0
    if block.first_value < previous.last_value:
        return block.first_value
    return block.first_value - previous.last_value


def _join(
    span: Span,
    mine: dict[BlockKey, Block],
    read: Blocks,
    parts: dict[tuple[int, BlockKey], PerWindow],
    series_id: int,
) -> _Joined:
    joined = _Joined([], [], [], [], [], [])
    previous: Block | None = None
    for key in span.blocks:
        block = block_at(span, read, mine, series_id, key)
        if block.count == 0:
            continue
        joined.firsts.append(block.first_ts)
        joined.links.append(_link(previous, block))
        split = parts.get((series_id, key))
        if split is None:
            joined.block_starts.append(key[0])
            joined.inners.append(block.inner)
            joined.counts.append(block.count)
        else:
            joined.splits.append(split)
        previous = block
    return joined


def _combine(
    span: Span,
    mine: dict[BlockKey, Block],
    read: Blocks,
    parts: dict[tuple[int, BlockKey], PerWindow],
    series_id: int,
) -> PerWindow:
    """One series' (increase, samples) per window from its blocks in time order.

    A block's link (its first sample's increase over the previous block's last) counts in
    the windows that hold that sample; a whole block's own increases in the windows it lies
    in; a block a window boundary falls into adds its per-window parts.
    """
    joined = _join(span, mine, read, parts, series_id)
    link_tail = list(accumulate(reversed(joined.links), initial=0.0))[::-1]
    inner_tail = list(accumulate(reversed(joined.inners), initial=0.0))[::-1]
    count_tail = list(accumulate(reversed(joined.counts), initial=0))[::-1]
    out = []
    for k, start in enumerate(span.starts):
        j = bisect_right(joined.block_starts, start)
        total = link_tail[bisect_right(joined.firsts, start)] + inner_tail[j]
        samples = count_tail[j]
        for split in joined.splits:
            total += split[k][0]
            samples += split[k][1]
        out.append((total, samples))
    return out


def clear_cache() -> None:
    """Forget every cached block (tests and benchmarks measure the first computation)."""
    with _lock:
        _cache.clear()


def single_pass_sums(
    cur: duckdb.DuckDBPyConnection,
    series_ids: Sequence[int],
    now: datetime,
    windows: Sequence[timedelta],
    lookback: timedelta,
) -> dict[int, list[tuple[float, int]]]:
    """The same as `window_sums` in one pass over every sample, caching nothing.

    Cheaper than building the cache, so a one-shot command (`oncall slo`) uses it.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    lo = now - max(windows) - lookback
    sums = ", ".join(
        f"sum(inc) FILTER (WHERE ts > {ts_literal(epoch_ms(now - w))}), "
        f"count(*) FILTER (WHERE ts > {ts_literal(epoch_ms(now - w))})"
        for w in windows
    )
    rows = cur.execute(f"""
        SELECT series_id, {sums} FROM (
            SELECT series_id, ts, CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                                       ELSE value - prev END AS inc
            FROM (SELECT series_id, ts, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                  FROM samples
                  WHERE series_id IN ({id_list(ids)}) AND ts > {ts_literal(epoch_ms(lo))}
                    AND ts <= {ts_literal(epoch_ms(now))} AND value IS NOT NULL AND NOT isnan(value)))
        GROUP BY series_id
    """).fetchall()
    out = {i: [(0.0, 0)] * len(windows) for i in ids}
    for series_id, *values in rows:
        out[int(series_id)] = [
            (float(values[2 * k] or 0.0), int(values[2 * k + 1] or 0)) for k in range(len(windows))
        ]
    return out
