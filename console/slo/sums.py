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
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from console.store import Store

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_MAX_CACHED_SERIES = 200_000

BlockKey = tuple[int, int]  # (start ms, length ms)


class Block(NamedTuple):
    """One series' samples in one block of time."""

    count: int  # type: ignore[assignment]  # a field named as the samples are counted; shadows tuple.count
    first_ts: int
    first_value: float
    last_ts: int
    last_value: float
    inner: float  # increases of the block's samples after its first
    ts_sum: int  # sum of the samples' epoch µs: checks a kept block against the store


EMPTY = Block(0, 0, 0.0, 0, 0.0, 0.0, 0)
_cache: dict[tuple[str, int], dict[BlockKey, Block]] = {}
_lock = threading.Lock()


def _ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)) / timedelta(milliseconds=1))


def _id_list(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _literal(ms: int) -> str:
    return f"TIMESTAMP '{datetime(1970, 1, 1) + timedelta(milliseconds=ms):%Y-%m-%d %H:%M:%S.%f}'"


def _merge(keys: Sequence[BlockKey]) -> list[tuple[int, int]]:
    """Blocks as sorted [start, end) ranges, adjacent ones joined."""
    out: list[tuple[int, int]] = []
    for start, length in sorted(keys):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], start + length)
        else:
            out.append((start, start + length))
    return out


def _range_sql(keys: Sequence[BlockKey]) -> str:
    """Blocks as a condition on `ts` (so DuckDB can skip row groups)."""
    return " OR ".join(f"(ts >= {_literal(a)} AND ts < {_literal(b)})" for a, b in _merge(keys)) or "false"


def _partition(lo_ms: int, now_ms: int, starts: Sequence[int]) -> tuple[list[BlockKey], set[BlockKey]]:
    """The blocks covering (lo, now], in order, and which of them must be read sample by sample."""
    marks = [lo_ms, now_ms, *starts]
    cut_days = {m // DAY_MS for m in marks}
    raw_hours = {m // HOUR_MS for m in marks}
    blocks: list[BlockKey] = []
    raw: set[BlockKey] = set()
    for day in range(lo_ms // DAY_MS, now_ms // DAY_MS + 1):
        if day not in cut_days:
            blocks.append((day * DAY_MS, DAY_MS))
            continue
        for hour in range(day * 24, day * 24 + 24):
            if hour * HOUR_MS > now_ms or (hour + 1) * HOUR_MS <= lo_ms:
                continue
            blocks.append((hour * HOUR_MS, HOUR_MS))
            if hour in raw_hours:
                raw.add((hour * HOUR_MS, HOUR_MS))
    return blocks, raw


def _block_sql(hour_days: Sequence[int], column: str = "t") -> str:
    """SQL for the start (ms) of the block a sample at `column` (epoch ms) falls in."""
    return (
        f"CASE WHEN {column} // {DAY_MS} IN ({_id_list(hour_days) or 'NULL'}) "
        f"THEN {column} // {HOUR_MS} * {HOUR_MS} ELSE {column} // {DAY_MS} * {DAY_MS} END"
    )


def cache_key(store: Store) -> str:
    """What in-process caches of a store's numbers are keyed by: its file (a snapshot's original)."""
    return str(getattr(store, "snapshot_of", None) or store.path)


class _Span(NamedTuple):
    """What one call covers: (lo, now] cut into blocks, and the windows' starts (ms)."""

    ids: list[int]
    lo_ms: int
    now_ms: int
    starts: list[int]
    blocks: list[BlockKey]
    raw: set[BlockKey]  # read sample by sample
    steady: list[BlockKey]  # the same for any `now`: kept and persisted


def _span(ids: list[int], now: datetime, windows: Sequence[timedelta], lookback: timedelta) -> _Span:
    now_ms = _ms(now)
    lo_ms = now_ms - int((max(windows) + lookback) / timedelta(milliseconds=1))
    starts = [now_ms - int(w / timedelta(milliseconds=1)) for w in windows]
    blocks, raw = _partition(lo_ms, now_ms, starts)
    return _Span(ids, lo_ms, now_ms, starts, blocks, raw, [b for b in blocks if b not in raw])


def window_sums(
    store: Store,
    series_ids: Sequence[int],
    now: datetime,
    windows: Sequence[timedelta],
    lookback: timedelta,
    *,
    memory: bool = True,
) -> dict[int, list[tuple[float, int]]]:
    """Per series: (increase, samples) over each window (t > now − w, t ≤ now).

    Samples are read back to `max(windows) + lookback` before `now`; the first one read
    only sets the base.  Finished blocks come from memory (with `memory`), then from the
    store's rollups, then from the samples; new ones are persisted when the store is
    writable.  A read-only store with rollups for under half the span is read in one pass.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    span = _span(ids, now, windows, lookback)
    store_key = cache_key(store)
    writable = not getattr(store, "read_only", True)
    # A writer knows what it wrote since it last checked its kept blocks: only blocks those
    # writes could reach are checked again (none, while samples arrive in time order).
    writes = getattr(store, "sample_writes", None) if memory else None
    checked_at = writes.generation if writes is not None else 0

    cur = store.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")  # every read below sees the same samples
        known = _known_blocks(cur, span, store_key, memory)
        if not writable and not memory and _mostly_unrolled(span, known):
            return single_pass_sums(cur, ids, now, windows, lookback)
        read, parts, redo = _read_missing(cur, span, known, writes)
        cur.execute("COMMIT")
    finally:
        cur.close()
    if writes is not None:
        for i in ids:
            writes.verified[i] = checked_at
    if redo and writable:
        _save_rollups(store, {pair: known[pair[0]][pair[1]] for pair in redo})
    if memory:
        _keep_in_memory(store_key, span, known)
    return {i: _combine(span.blocks, span.raw, span.starts, known[i], read, parts, i) for i in ids}


def _known_blocks(cur: Any, span: _Span, store_key: str, memory: bool) -> dict[int, dict[BlockKey, Block]]:
    """Per series, the steady blocks already summarised: in memory, else in the rollups."""
    with _lock:
        known = {i: dict(_cache.get((store_key, i), {})) if memory else {} for i in span.ids}
    if any(b not in known[i] for i in span.ids for b in span.steady):
        for (series_id, key), block in _load_rollups(cur, span.ids, span.steady).items():
            known[series_id].setdefault(key, block)
    return known


def _mostly_unrolled(span: _Span, known: dict[int, dict[BlockKey, Block]]) -> bool:
    """Whether rollups cover under half the span: one pass is then cheaper."""
    return sum(len(known[i]) for i in span.ids) * 2 < len(span.ids) * len(span.steady)


def _read_missing(
    cur: Any, span: _Span, known: dict[int, dict[BlockKey, Block]], writes: Any
) -> tuple[
    dict[tuple[int, BlockKey], Block],
    dict[tuple[int, BlockKey], list[tuple[float, int]]],
    set[tuple[int, BlockKey]],
]:
    """Read the raw blocks, the steady ones not known, and the known ones the store changed.

    `known` is updated; returns what was read, the raw blocks' per-window parts and the
    steady blocks read again (to persist).
    """
    ids, raw = span.ids, span.raw
    redo = {(i, b) for i in ids for b in span.steady if b not in known[i]}
    wanted = sorted(raw | {b for _, b in redo})
    read, parts = _read_blocks(cur, ids, wanted, raw, span.lo_ms, span.now_ms, span.starts)
    for pair in redo:
        known[pair[0]][pair[1]] = read.get(pair, EMPTY)
    kept = _kept_to_check(span, redo, writes)
    stale = _stale_blocks(cur, ids, span.lo_ms, span.now_ms, span.blocks, raw, read, known, kept)
    if stale:
        again_wanted = sorted({b for _, b in stale})
        again, _ = _read_blocks(cur, ids, again_wanted, set(), span.lo_ms, span.now_ms, span.starts)
        for pair in stale:
            known[pair[0]][pair[1]] = again.get(pair, EMPTY)
        redo |= stale
    return read, parts, redo


def _kept_to_check(span: _Span, redo: set[tuple[int, BlockKey]], writes: Any) -> dict[int, list[BlockKey]]:
    """Per series, the kept blocks to check against the store: those a write could reach."""
    kept = {i: [b for b in span.steady if (i, b) not in redo] for i in span.ids}
    if writes is None:
        return kept
    for i in span.ids:
        since = writes.oldest_since(writes.verified.get(i))
        kept[i] = [] if since is None else [b for b in kept[i] if b[0] + b[1] > since]
    return kept


def _keep_in_memory(store_key: str, span: _Span, known: dict[int, dict[BlockKey, Block]]) -> None:
    keep = set(span.steady)
    with _lock:
        for series_id in span.ids:
            _cache[(store_key, series_id)] = {k: v for k, v in known[series_id].items() if k in keep}
        while len(_cache) > _MAX_CACHED_SERIES:
            _cache.pop(next(iter(_cache)))


def _combine(
    blocks: list[BlockKey],
    raw: set[BlockKey],
    starts: list[int],
    mine: dict[BlockKey, Block],
    read: dict[tuple[int, BlockKey], Block],
    parts: dict[tuple[int, BlockKey], list[tuple[float, int]]],
    series_id: int,
) -> list[tuple[float, int]]:
    """One series' (increase, samples) per window from its blocks in time order.

    A block's link (its first sample's increase over the previous block's last) counts in
    the windows that hold that sample; a whole block's own increases in the windows it lies
    in; a block a window boundary falls into adds its per-window parts.
    """
    firsts: list[int] = []
    block_starts: list[int] = []
    links: list[float] = []
    inners: list[float] = []
    counts: list[int] = []
    splits: list[list[tuple[float, int]]] = []
    previous: Block | None = None
    for key in blocks:
        block = read.get((series_id, key), EMPTY) if key in raw else mine.get(key, EMPTY)
        if block.count == 0:
            continue
        firsts.append(block.first_ts)
        links.append(
            0.0
            if previous is None
            else block.first_value
            if block.first_value < previous.last_value
            else block.first_value - previous.last_value
        )
        split = parts.get((series_id, key))
        if split is None:
            block_starts.append(key[0])
            inners.append(block.inner)
            counts.append(block.count)
        else:
            splits.append(split)
        previous = block
    link_tail = list(accumulate(reversed(links), initial=0.0))[::-1]
    inner_tail = list(accumulate(reversed(inners), initial=0.0))[::-1]
    count_tail = list(accumulate(reversed(counts), initial=0))[::-1]
    out = []
    for k, start in enumerate(starts):
        j = bisect_right(block_starts, start)
        total = link_tail[bisect_right(firsts, start)] + inner_tail[j]
        samples = count_tail[j]
        for split in splits:
            total += split[k][0]
            samples += split[k][1]
        out.append((total, samples))
    return out


def _load_rollups(cur: Any, ids: list[int], keys: list[BlockKey]) -> dict[tuple[int, BlockKey], Block]:
    """The persisted summaries of the given blocks for the given series."""
    if not keys:
        return {}
    wanted = set(keys)
    hour_days = sorted({a // DAY_MS for a, length in keys if length == HOUR_MS})
    rows = cur.execute(f"""
        SELECT series_id, start_ms, length_ms, samples, first_ts, first_value, last_ts,
               last_value, inner_inc, ts_offset::HUGEINT + samples::HUGEINT * start_ms * 1000
        FROM slo_rollups
        WHERE series_id IN ({_id_list(ids)})
          AND start_ms >= {min(keys)[0]} AND start_ms <= {max(keys)[0]}
          AND (length_ms = {DAY_MS} OR start_ms // {DAY_MS} IN ({_id_list(hour_days) or "NULL"}))
    """).fetchall()
    make = Block._make
    return {(row[0], (row[1], row[2])): make(row[3:]) for row in rows if (row[1], row[2]) in wanted}


def _save_rollups(store: Store, blocks: dict[tuple[int, BlockKey], Block]) -> None:
    """Persist block summaries (replacing older ones of the same series and block).

    Persisting only saves later work: a failure (another writer's conflict) is ignored.
    """
    import duckdb

    pairs = sorted(blocks)
    values = [blocks[p] for p in pairs]
    columns = [  # handed over as lists (no Arrow: building Arrow arrays imports pandas)
        [p[0] for p in pairs],
        [p[1][0] for p in pairs],
        [p[1][1] for p in pairs],
        [b.count for b in values],
        [b.first_ts for b in values],
        [float(b.first_value) for b in values],
        [b.last_ts for b in values],
        [float(b.last_value) for b in values],
        [float(b.inner) for b in values],
        [b.ts_sum - b.count * p[1][0] * 1000 for p, b in zip(pairs, values)],
    ]
    rows = """SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]),
                     unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::DOUBLE[]),
                     unnest(?::BIGINT[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]),
                     unnest(?::BIGINT[])"""
    try:
        with store.transaction() as cur:
            cur.execute(
                """
                DELETE FROM slo_rollups
                WHERE (series_id, start_ms, length_ms) IN
                      (SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]))
            """,
                columns[:3],
            )
            cur.execute(f"INSERT INTO slo_rollups {rows}", columns)
    except duckdb.Error:
        pass


def _stale_blocks(
    cur: Any,
    ids: list[int],
    lo_ms: int,
    now_ms: int,
    blocks: list[BlockKey],
    raw: set[BlockKey],
    read: dict[tuple[int, BlockKey], Block],
    known: dict[int, dict[BlockKey, Block]],
    kept: dict[int, list[BlockKey]],
) -> set[tuple[int, BlockKey]]:
    """Kept blocks that no longer match the store.

    One scan compares each series' sample count and sum of timestamps over (lo, now] with
    its blocks' (kept, just read and the raw ones); only a series that differs is then
    compared block by block, over its kept blocks.
    """
    if not any(kept.values()):
        return set()
    rows = cur.execute(f"""
        SELECT series_id, count(*), sum(epoch_us(ts)) FROM samples
        WHERE series_id IN ({_id_list(ids)}) AND value IS NOT NULL AND NOT isnan(value)
          AND ts > {_literal(lo_ms)} AND ts <= {_literal(now_ms)}
        GROUP BY series_id
    """).fetchall()
    found = {int(i): (int(n), int(s)) for i, n, s in rows}
    suspects = []
    for series_id in ids:
        if not kept[series_id]:
            continue
        mine = known[series_id]
        count = ts_sum = 0
        for key in blocks:
            block = read.get((series_id, key), EMPTY) if key in raw else mine.get(key, EMPTY)
            count += block.count
            ts_sum += block.ts_sum
        if found.get(series_id, (0, 0)) != (count, ts_sum):
            suspects.append(series_id)
    if not suspects:
        return set()
    suspect_keys = sorted({b for i in suspects for b in kept[i]})
    hour_days = sorted({a // DAY_MS for a, length in suspect_keys if length == HOUR_MS})
    rows = cur.execute(f"""
        SELECT series_id, {_block_sql(hour_days)} AS block_start, count(*), sum(tu)
        FROM (SELECT series_id, epoch_ms(ts) AS t, epoch_us(ts) AS tu FROM samples
              WHERE series_id IN ({_id_list(suspects)})
                AND value IS NOT NULL AND NOT isnan(value) AND ({_range_sql(suspect_keys)}))
        GROUP BY ALL
    """).fetchall()
    hour_day_set = set(hour_days)
    found_blocks = {}
    for series_id, start, count, ts_sum in rows:
        length = HOUR_MS if int(start) // DAY_MS in hour_day_set else DAY_MS
        found_blocks[(int(series_id), (int(start), length))] = (int(count), int(ts_sum))
    stale = set()
    for series_id in suspects:
        for key in kept[series_id]:
            block = known[series_id][key]
            if found_blocks.get((series_id, key), (0, 0)) != (block.count, block.ts_sum):
                stale.add((series_id, key))
    return stale


def _read_blocks(
    cur: Any,
    ids: list[int],
    wanted: list[BlockKey],
    raw: set[BlockKey],
    lo_ms: int,
    now_ms: int,
    starts: list[int],
) -> tuple[dict[tuple[int, BlockKey], Block], dict[tuple[int, BlockKey], list[tuple[float, int]]]]:
    """Summaries of the wanted blocks for every series, and per-window parts of the raw ones."""
    if not wanted:
        return {}, {}
    hour_days = sorted({start // DAY_MS for start, length in wanted if length == HOUR_MS})
    # A sample's bucket: how many window starts lie before it.  Windows nest, so sample t
    # is in window j exactly when its bucket is above j's rank among the sorted starts.
    ordered = sorted(set(starts))
    bucket = " + ".join(f"(t > {a})::INTEGER" for a in ordered)
    # One sort per series; a block's first sample is then linked to whatever was read before
    # it, so that increase is taken back out (`lead_inc`): joining blocks re-links them.
    rows = cur.execute(f"""
        WITH inc AS (
            SELECT series_id, t, tu, value, {bucket} AS bucket,
                   {_block_sql(hour_days)} AS block_start,
                   CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                        ELSE value - prev END AS inc
            FROM (SELECT series_id, epoch_ms(ts) AS t, epoch_us(ts) AS tu, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                  FROM samples
                  WHERE series_id IN ({_id_list(ids)})
                    AND ts > {_literal(lo_ms)} AND ts <= {_literal(now_ms)}
                    AND value IS NOT NULL AND NOT isnan(value) AND ({_range_sql(wanted)}))
        )
        SELECT series_id, block_start, bucket, count(*), min(t), arg_min(value, t),
               max(t), arg_max(value, t), sum(inc), sum(tu), arg_min(inc, t)
        FROM inc GROUP BY series_id, block_start, bucket
    """).fetchall()
    hour_day_set = set(hour_days)
    merged: dict[tuple[int, BlockKey], list[Any]] = {}
    by_bucket: dict[tuple[int, BlockKey], dict[int, list[Any]]] = {}
    for (
        series_id,
        start,
        bucket_no,
        count,
        first_ts,
        first_value,
        last_ts,
        last_value,
        inner,
        ts_sum,
        lead_inc,
    ) in rows:
        length = HOUR_MS if int(start) // DAY_MS in hour_day_set else DAY_MS
        key = (int(series_id), (int(start), length))
        by_bucket.setdefault(key, {})[int(bucket_no)] = [
            float(inner or 0.0),
            int(count),
            int(first_ts),
            float(lead_inc or 0.0),
        ]
        acc = merged.get(key)
        if acc is None:
            merged[key] = [
                int(count),
                int(first_ts),
                float(first_value),
                int(last_ts),
                float(last_value),
                float(inner or 0.0),
                int(ts_sum),
                float(lead_inc or 0.0),
            ]
            continue
        acc[0] += int(count)
        if first_ts < acc[1]:
            acc[1], acc[2], acc[7] = int(first_ts), float(first_value), float(lead_inc or 0.0)
        if last_ts > acc[3]:
            acc[3], acc[4] = int(last_ts), float(last_value)
        acc[5] += float(inner or 0.0)
        acc[6] += int(ts_sum)
    for key, acc in merged.items():
        acc[5] -= acc[7]  # the block's own increases only
        for part in by_bucket[key].values():
            if part[2] == acc[1]:
                part[0] -= acc[7]
        del acc[7]
    blocks = {key: Block(*values) for key, values in merged.items()}
    parts: dict[tuple[int, BlockKey], list[tuple[float, int]]] = {}
    ranks = [ordered.index(start) for start in starts]
    for key, buckets in by_bucket.items():
        if key[1] not in raw:
            continue
        inc = [0.0] * (len(ordered) + 2)  # per bucket, then summed from the top:
        cnt = [0] * (len(ordered) + 2)  # window of rank r holds buckets above r
        for bucket_no, part in buckets.items():
            inc[bucket_no] += part[0]
            cnt[bucket_no] += part[1]
        for b in range(len(ordered), -1, -1):
            inc[b] += inc[b + 1]
            cnt[b] += cnt[b + 1]
        parts[key] = [(inc[r + 1], cnt[r + 1]) for r in ranks]
    return blocks, parts


def clear_cache() -> None:
    """Forget every cached block (tests and benchmarks measure the first computation)."""
    with _lock:
        _cache.clear()


def single_pass_sums(
    cur: Any, series_ids: Sequence[int], now: datetime, windows: Sequence[timedelta], lookback: timedelta
) -> dict[int, list[tuple[float, int]]]:
    """The same as `window_sums` in one pass over every sample, caching nothing.

    Cheaper than building the cache, so a one-shot command (`oncall slo`) uses it.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    lo = now - max(windows) - lookback
    sums = ", ".join(
        f"sum(inc) FILTER (WHERE ts > {_literal(_ms(now - w))}), "
        f"count(*) FILTER (WHERE ts > {_literal(_ms(now - w))})"
        for w in windows
    )
    rows = cur.execute(f"""
        SELECT series_id, {sums} FROM (
            SELECT series_id, ts, CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                                       ELSE value - prev END AS inc
            FROM (SELECT series_id, ts, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                  FROM samples
                  WHERE series_id IN ({_id_list(ids)}) AND ts > {_literal(_ms(lo))}
                    AND ts <= {_literal(_ms(now))} AND value IS NOT NULL AND NOT isnan(value)))
        GROUP BY series_id
    """).fetchall()
    out = {i: [(0.0, 0)] * len(windows) for i in ids}
    for series_id, *values in rows:
        out[int(series_id)] = [
            (float(values[2 * k] or 0.0), int(values[2 * k + 1] or 0)) for k in range(len(windows))
        ]
    return out
