"""Counter increases per series over several windows ending at `now`, with whole days cached.

Each series' samples are cut into UTC days.  A day is summarised as a block: its sample
count, first and last sample, and the sum of the increases inside it (each sample against
its predecessor within the day; a drop is a reset).  Joining blocks in time order links a
day's first sample to the previous block's last one, which gives exactly the per-sample
increases of one pass over all the samples.  A day that no window boundary cuts is the same
for every `now`, so it is cached per store and series, and checked against the store on
every call (sample count and sum of timestamps: ingest only ever adds or deletes rows).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

DAY_MS = 86_400_000
_MAX_CACHED_SERIES = 200_000


@dataclass(frozen=True)
class Block:
    """One series' samples on one UTC day."""

    count: int
    first_ts: int
    first_value: float
    last_ts: int
    last_value: float
    inner: float            # increases of the day's samples after its first
    ts_sum: int             # for checking the cache against the store


_cache: dict[tuple[str, int], dict[int, Block]] = {}
_lock = threading.Lock()


def _ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)) / timedelta(milliseconds=1))


def _ranges(days: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted days as [start ms, end ms) ranges of consecutive days."""
    out: list[tuple[int, int]] = []
    for day in sorted(days):
        if out and out[-1][1] == day * DAY_MS:
            out[-1] = (out[-1][0], (day + 1) * DAY_MS)
        else:
            out.append((day * DAY_MS, (day + 1) * DAY_MS))
    return out


def _id_list(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _literal(ms: int) -> str:
    return f"TIMESTAMP '{datetime(1970, 1, 1) + timedelta(milliseconds=ms):%Y-%m-%d %H:%M:%S.%f}'"


def _range_sql(ranges: list[tuple[int, int]]) -> str:
    """Timestamp ranges as a condition on `ts` (so DuckDB can skip row groups)."""
    return " OR ".join(f"(ts >= {_literal(a)} AND ts < {_literal(b)})" for a, b in ranges) or "false"


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
    first_day, last_day = lo_ms // DAY_MS, now_ms // DAY_MS
    cut = {first_day, last_day, *(s // DAY_MS for s in starts)}
    steady = [d for d in range(first_day, last_day + 1) if d not in cut]

    with _lock:
        cached = {i: _cache.get((store_key, i), {}) for i in ids}
    stale = set(ids) if not steady else _stale_series(cur, ids, steady, cached)
    fresh_days = {i: [d for d in steady if d not in cached[i]] for i in ids if i not in stale}
    missing = {i for i, days in fresh_days.items() if days}
    recompute = sorted(stale | missing)

    blocks, window_parts = _read_blocks(cur, ids, recompute, sorted(cut), steady, lo_ms,
                                        now_ms, starts)
    with _lock:
        for series_id in recompute:
            fresh = {d: b for (i, d), b in blocks.items() if i == series_id and d in set(steady)}
            _cache[(store_key, series_id)] = fresh
            cached[series_id] = fresh
        while len(_cache) > _MAX_CACHED_SERIES:
            _cache.pop(next(iter(_cache)))

    out: dict[int, list[tuple[float, int]]] = {}
    for series_id in ids:
        day_blocks = dict(cached[series_id])
        day_blocks.update({d: b for (i, d), b in blocks.items() if i == series_id and d in cut})
        sums = [0.0] * len(starts)
        counts = [0] * len(starts)
        previous: Block | None = None
        for day in sorted(day_blocks):
            block = day_blocks[day]
            link = 0.0
            if previous is not None:
                link = (block.first_value if block.first_value < previous.last_value
                        else block.first_value - previous.last_value)
            parts = window_parts.get((series_id, day))
            for k, start in enumerate(starts):
                if block.first_ts > start:
                    sums[k] += link
                if parts is not None:          # a day some window boundary cuts
                    sums[k] += parts[k][0]
                    counts[k] += parts[k][1]
                elif day * DAY_MS > start:     # a whole day inside the window
                    sums[k] += block.inner
                    counts[k] += block.count
            previous = block
        out[series_id] = list(zip(sums, counts))
    return out


def _stale_series(cur: Any, ids: list[int], steady: list[int],
                  cached: dict[int, dict[int, Block]]) -> set[int]:
    """Series whose cached days no longer match the store."""
    have = [i for i in ids if cached[i]]
    if not have:
        return set()
    rows = cur.execute(f"""
        SELECT series_id, count(*), sum(epoch_ms(ts)) FROM samples
        WHERE series_id IN ({_id_list(have)}) AND value IS NOT NULL AND NOT isnan(value)
          AND ({_range_sql(_ranges(steady))})
        GROUP BY series_id
    """).fetchall()
    found = {int(i): (int(n), int(s)) for i, n, s in rows}
    stale = set()
    for series_id in have:
        days = [cached[series_id][d] for d in steady if d in cached[series_id]]
        expect = (sum(b.count for b in days), sum(b.ts_sum for b in days))
        if found.get(series_id, (0, 0)) != expect:
            stale.add(series_id)
    return stale


def _read_blocks(cur: Any, ids: list[int], recompute: list[int], cut: list[int],
                 steady: list[int], lo_ms: int, now_ms: int, starts: list[int]
                 ) -> tuple[dict[tuple[int, int], Block], dict[tuple[int, int], list[tuple[float, int]]]]:
    """Blocks for the cut days of every series and every day of the series to recompute."""
    if len(recompute) == len(ids):
        where = "true"
    else:
        where = _range_sql(_ranges(cut))
        if recompute:
            where = f"({where}) OR series_id IN ({_id_list(recompute)})"
    # A sample's bucket: how many window starts lie before it.  Windows nest, so sample t
    # is in window j exactly when its bucket is above j's rank among the sorted starts.
    ordered = sorted(set(starts))
    bucket = " + ".join(f"(t > {a})::INTEGER" for a in ordered)
    rows = cur.execute(f"""
        WITH picked AS (
            SELECT series_id, epoch_ms(ts) AS t, value, epoch_ms(ts) // {DAY_MS} AS day
            FROM samples
            WHERE series_id IN ({_id_list(ids)}) AND ts > {_literal(lo_ms)} AND ts <= {_literal(now_ms)}
              AND value IS NOT NULL AND NOT isnan(value) AND ({where})
        ), inc AS (
            SELECT series_id, day, t, value, {bucket} AS bucket,
                   CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                        ELSE value - prev END AS inc
            FROM (SELECT *, lag(value) OVER (PARTITION BY series_id, day ORDER BY t) AS prev
                  FROM picked)
        )
        SELECT series_id, day, bucket, count(*), min(t), arg_min(value, t), max(t),
               arg_max(value, t), sum(inc), sum(t)
        FROM inc GROUP BY series_id, day, bucket
    """).fetchall()
    merged: dict[tuple[int, int], list[Any]] = {}
    by_bucket: dict[tuple[int, int], dict[int, tuple[float, int]]] = {}
    for series_id, day, bucket_no, count, first_ts, first_value, last_ts, last_value, inner, ts_sum in rows:
        key = (int(series_id), int(day))
        by_bucket.setdefault(key, {})[int(bucket_no)] = (float(inner or 0.0), int(count))
        acc = merged.get(key)
        if acc is None:
            merged[key] = [int(count), int(first_ts), float(first_value), int(last_ts),
                           float(last_value), float(inner or 0.0), int(ts_sum)]
            continue
        acc[0] += int(count)
        if first_ts < acc[1]:
            acc[1], acc[2] = int(first_ts), float(first_value)
        if last_ts > acc[3]:
            acc[3], acc[4] = int(last_ts), float(last_value)
        acc[5] += float(inner or 0.0)
        acc[6] += int(ts_sum)
    blocks = {key: Block(*values) for key, values in merged.items()}
    parts: dict[tuple[int, int], list[tuple[float, int]]] = {}
    cut_days = set(cut)
    for key, buckets in by_bucket.items():
        if key[1] not in cut_days:
            continue
        sums = []
        for start in starts:
            rank = ordered.index(start)
            inside = [v for b, v in buckets.items() if b > rank]
            sums.append((sum(v[0] for v in inside), sum(v[1] for v in inside)))
        parts[key] = sums
    return blocks, parts


def clear_cache() -> None:
    """Forget every cached day (tests and benchmarks measure the first computation)."""
    with _lock:
        _cache.clear()
