"""Counter increases per series over several windows ending at `now`, with finished blocks cached.

Time from the first window's start to `now` is cut into UTC days; a day that a window
boundary falls into is cut into hours instead.  Each series' samples in a block are
summarised: sample count, first and last sample, and the sum of the increases inside it
(each sample against its predecessor in the block; a drop is a reset).  Joining blocks in
time order links a block's first sample to the previous block's last one, which gives
exactly the per-sample increases of one pass over all the samples.  Only the few hours that
hold a boundary (or `now`, or the start of what is read) are read sample by sample; every
other block is the same for any `now`, so it is cached per store and series and checked
against the store on every call (sample count and sum of timestamps per series: ingest only
ever adds or deletes rows).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_MAX_CACHED_SERIES = 200_000

BlockKey = tuple[int, int]          # (start ms, length ms)


@dataclass(frozen=True)
class Block:
    """One series' samples in one block of time."""

    count: int
    first_ts: int
    first_value: float
    last_ts: int
    last_value: float
    inner: float            # increases of the block's samples after its first
    ts_sum: int             # for checking the cache against the store


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
    return " OR ".join(f"(ts >= {_literal(a)} AND ts < {_literal(b)})"
                       for a, b in _merge(keys)) or "false"


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


def window_sums(cur: Any, store_key: str, series_ids: Sequence[int], now: datetime,
                windows: Sequence[timedelta], lookback: timedelta
                ) -> dict[int, list[tuple[float, int]]]:
    """Per series: (increase, samples) over each window (t > now − w, t ≤ now).

    Samples are read back to `max(windows) + lookback` before `now`; the first one read
    only sets the base.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    now_ms = _ms(now)
    lo_ms = now_ms - int((max(windows) + lookback) / timedelta(milliseconds=1))
    starts = [now_ms - int(w / timedelta(milliseconds=1)) for w in windows]
    blocks, raw = _partition(lo_ms, now_ms, starts)
    steady = [b for b in blocks if b not in raw]

    with _lock:
        cached = {i: _cache.get((store_key, i), {}) for i in ids}
    stale = _stale_series(cur, ids, steady, cached)
    for series_id in stale:
        cached[series_id] = {}
    if missing_any := [i for i in ids if any(b not in cached[i] for b in steady)]:
        cached.update({i: dict(cached[i]) for i in missing_any})
    missing = sorted({b for i in ids for b in steady if b not in cached[i]})
    read, parts = _read_blocks(cur, ids, sorted(raw) + missing, raw, lo_ms, now_ms, starts)

    keep = set(steady)
    with _lock:
        for series_id in ids:
            known = cached[series_id]
            for key in missing:
                known[key] = read.get((series_id, key), EMPTY)
            if missing or len(known) != len(keep):
                known = {k: v for k, v in known.items() if k in keep}
            cached[series_id] = known
            _cache[(store_key, series_id)] = known
        while len(_cache) > _MAX_CACHED_SERIES:
            _cache.pop(next(iter(_cache)))

    out: dict[int, list[tuple[float, int]]] = {}
    for series_id in ids:
        sums = [0.0] * len(starts)
        counts = [0] * len(starts)
        previous: Block | None = None
        for key in blocks:
            block = (read.get((series_id, key), EMPTY) if key in raw
                     else cached[series_id].get(key, EMPTY))
            if block.count == 0:
                continue
            link = 0.0
            if previous is not None:
                link = (block.first_value if block.first_value < previous.last_value
                        else block.first_value - previous.last_value)
            split = parts.get((series_id, key))
            for k, start in enumerate(starts):
                if block.first_ts > start:
                    sums[k] += link
                if split is not None:          # a block a window boundary falls into
                    sums[k] += split[k][0]
                    counts[k] += split[k][1]
                elif key[0] > start:           # a whole block inside the window
                    sums[k] += block.inner
                    counts[k] += block.count
            previous = block
        out[series_id] = list(zip(sums, counts))
    return out


def _stale_series(cur: Any, ids: list[int], steady: list[BlockKey],
                  cached: dict[int, dict[BlockKey, Block]]) -> set[int]:
    """Series whose cached blocks no longer match the store."""
    checks = {i: [b for b in steady if b in cached[i]] for i in ids}
    keys = sorted({b for blocks in checks.values() for b in blocks})
    if not keys:
        return set()
    rows = cur.execute(f"""
        SELECT series_id, count(*), sum(epoch_ms(ts)) FROM samples
        WHERE series_id IN ({_id_list([i for i in ids if checks[i]])})
          AND value IS NOT NULL AND NOT isnan(value) AND ({_range_sql(keys)})
        GROUP BY series_id
    """).fetchall()
    found = {int(i): (int(n), int(s)) for i, n, s in rows}
    stale = set()
    for series_id, blocks in checks.items():
        if not blocks:
            continue
        if len(blocks) != len(keys):       # checked over a different span: read it again
            stale.add(series_id)
            continue
        expect = (sum(cached[series_id][b].count for b in blocks),
                  sum(cached[series_id][b].ts_sum for b in blocks))
        if found.get(series_id, (0, 0)) != expect:
            stale.add(series_id)
    return stale


def _read_blocks(cur: Any, ids: list[int], wanted: list[BlockKey], raw: set[BlockKey],
                 lo_ms: int, now_ms: int, starts: list[int]
                 ) -> tuple[dict[tuple[int, BlockKey], Block],
                            dict[tuple[int, BlockKey], list[tuple[float, int]]]]:
    """Summaries of the wanted blocks for every series, and per-window parts of the raw ones."""
    if not wanted:
        return {}, {}
    hour_days = sorted({start // DAY_MS for start, length in wanted if length == HOUR_MS})
    day_sql = _id_list(hour_days) or "NULL"
    # A sample's bucket: how many window starts lie before it.  Windows nest, so sample t
    # is in window j exactly when its bucket is above j's rank among the sorted starts.
    ordered = sorted(set(starts))
    bucket = " + ".join(f"(t > {a})::INTEGER" for a in ordered)
    # One sort per series; a block's first sample is then linked to whatever was read before
    # it, so that increase is taken back out (`lead_inc`): joining blocks re-links them.
    rows = cur.execute(f"""
        WITH inc AS (
            SELECT series_id, t, value, {bucket} AS bucket,
                   CASE WHEN t // {DAY_MS} IN ({day_sql}) THEN t // {HOUR_MS} * {HOUR_MS}
                        ELSE t // {DAY_MS} * {DAY_MS} END AS block_start,
                   CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                        ELSE value - prev END AS inc
            FROM (SELECT series_id, epoch_ms(ts) AS t, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                  FROM samples
                  WHERE series_id IN ({_id_list(ids)})
                    AND ts > {_literal(lo_ms)} AND ts <= {_literal(now_ms)}
                    AND value IS NOT NULL AND NOT isnan(value) AND ({_range_sql(wanted)}))
        )
        SELECT series_id, block_start, bucket, count(*), min(t), arg_min(value, t),
               max(t), arg_max(value, t), sum(inc), sum(t), arg_min(inc, t)
        FROM inc GROUP BY series_id, block_start, bucket
    """).fetchall()
    hour_day_set = set(hour_days)
    merged: dict[tuple[int, BlockKey], list[Any]] = {}
    by_bucket: dict[tuple[int, BlockKey], dict[int, list[Any]]] = {}
    for (series_id, start, bucket_no, count, first_ts, first_value, last_ts, last_value,
         inner, ts_sum, lead_inc) in rows:
        length = HOUR_MS if int(start) // DAY_MS in hour_day_set else DAY_MS
        key = (int(series_id), (int(start), length))
        by_bucket.setdefault(key, {})[int(bucket_no)] = [float(inner or 0.0), int(count),
                                                         int(first_ts), float(lead_inc or 0.0)]
        acc = merged.get(key)
        if acc is None:
            merged[key] = [int(count), int(first_ts), float(first_value), int(last_ts),
                           float(last_value), float(inner or 0.0), int(ts_sum),
                           float(lead_inc or 0.0)]
            continue
        acc[0] += int(count)
        if first_ts < acc[1]:
            acc[1], acc[2], acc[7] = int(first_ts), float(first_value), float(lead_inc or 0.0)
        if last_ts > acc[3]:
            acc[3], acc[4] = int(last_ts), float(last_value)
        acc[5] += float(inner or 0.0)
        acc[6] += int(ts_sum)
    for key, acc in merged.items():
        acc[5] -= acc[7]                       # the block's own increases only
        for part in by_bucket[key].values():
            if part[2] == acc[1]:
                part[0] -= acc[7]
        del acc[7]
    blocks = {key: Block(*values) for key, values in merged.items()}
    parts: dict[tuple[int, BlockKey], list[tuple[float, int]]] = {}
    for key, buckets in by_bucket.items():
        if key[1] not in raw:
            continue
        sums = []
        for start in starts:
            rank = ordered.index(start)
            inside = [v for b, v in buckets.items() if b > rank]
            sums.append((sum(v[0] for v in inside), sum(v[1] for v in inside)))
        parts[key] = sums
    return blocks, parts


def clear_cache() -> None:
    """Forget every cached block (tests and benchmarks measure the first computation)."""
    with _lock:
        _cache.clear()


def single_pass_sums(cur: Any, series_ids: Sequence[int], now: datetime,
                     windows: Sequence[timedelta], lookback: timedelta
                     ) -> dict[int, list[tuple[float, int]]]:
    """The same as `window_sums` in one pass over every sample, caching nothing.

    Cheaper than building the cache, so a one-shot command (`oncall slo`) uses it.
    """
    ids = sorted({int(i) for i in series_ids})
    if not ids:
        return {}
    lo = now - max(windows) - lookback
    sums = ", ".join(f"sum(inc) FILTER (WHERE ts > {_literal(_ms(now - w))}), "
                     f"count(*) FILTER (WHERE ts > {_literal(_ms(now - w))})" for w in windows)
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
        out[int(series_id)] = [(float(values[2 * k] or 0.0), int(values[2 * k + 1] or 0))
                               for k in range(len(windows))]
    return out
