"""Blocks of time one series' samples are summarised in: their keys, SQL over them, and reading
them from the samples (with each window's part of a block a window boundary falls into)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import duckdb

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

BlockKey = tuple[int, int]  # (start ms, length ms)
PerWindow = list[tuple[float, int]]  # (increase, samples) per window


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
Blocks = dict[tuple[int, BlockKey], Block]  # (series id, block) -> summary


def epoch_ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)) / timedelta(milliseconds=1))


def id_list(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def ts_literal(ms: int) -> str:
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


def range_sql(keys: Sequence[BlockKey]) -> str:
    """Blocks as a condition on `ts` (so DuckDB can skip row groups)."""
    return (
        " OR ".join(f"(ts >= {ts_literal(a)} AND ts < {ts_literal(b)})" for a, b in _merge(keys)) or "false"
    )


def hour_days(keys: Sequence[BlockKey]) -> list[int]:
    """The days (epoch days) cut into hours among the given blocks."""
    return sorted({start // DAY_MS for start, length in keys if length == HOUR_MS})


def block_sql(days: Sequence[int], column: str = "t") -> str:
    """SQL for the start (ms) of the block a sample at `column` (epoch ms) falls in."""
    return (
        f"CASE WHEN {column} // {DAY_MS} IN ({id_list(days) or 'NULL'}) "
        f"THEN {column} // {HOUR_MS} * {HOUR_MS} ELSE {column} // {DAY_MS} * {DAY_MS} END"
    )


def block_key(start: Any, days: set[int]) -> BlockKey:
    """The block starting at `start` (ms): an hour on a day cut into hours, else a day."""
    return int(start), HOUR_MS if int(start) // DAY_MS in days else DAY_MS


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


class Span(NamedTuple):
    """What one call covers: (lo, now] cut into blocks, and the windows' starts (ms)."""

    ids: list[int]
    lo_ms: int
    now_ms: int
    starts: list[int]
    blocks: list[BlockKey]
    raw: set[BlockKey]  # read sample by sample
    steady: list[BlockKey]  # the same for any `now`: kept and persisted


def span_of(ids: list[int], now: datetime, windows: Sequence[timedelta], lookback: timedelta) -> Span:
    now_ms = epoch_ms(now)
    lo_ms = now_ms - int((max(windows) + lookback) / timedelta(milliseconds=1))
    starts = [now_ms - int(w / timedelta(milliseconds=1)) for w in windows]
    blocks, raw = _partition(lo_ms, now_ms, starts)
    return Span(ids, lo_ms, now_ms, starts, blocks, raw, [b for b in blocks if b not in raw])


def block_at(span: Span, read: Blocks, mine: dict[BlockKey, Block], series_id: int, key: BlockKey) -> Block:
    """A series' block: as just read if it is read sample by sample, else as kept."""
    return read.get((series_id, key), EMPTY) if key in span.raw else mine.get(key, EMPTY)


@dataclass
class _Summary:
    """A block's samples in one window bucket (or, added up, in all of them).

    `lead` is the increase of the first sample over whatever was read before it: joining
    blocks re-links them, so it is taken back out of the block's own increases."""

    count: int
    first_ts: int
    first_value: float
    last_ts: int
    last_value: float
    inner: float
    ts_sum: int
    lead: float

    def add(self, other: _Summary) -> None:
        self.count += other.count
        if other.first_ts < self.first_ts:
            self.first_ts, self.first_value, self.lead = other.first_ts, other.first_value, other.lead
        if other.last_ts > self.last_ts:
            self.last_ts, self.last_value = other.last_ts, other.last_value
        self.inner += other.inner
        self.ts_sum += other.ts_sum

    def block(self) -> Block:
        inner = self.inner - self.lead  # the block's own increases only
        return Block(
            self.count, self.first_ts, self.first_value, self.last_ts, self.last_value, inner, self.ts_sum
        )


def _summary(row: tuple[Any, ...]) -> _Summary:
    _, _, _, count, first_ts, first_value, last_ts, last_value, inner, ts_sum, lead = row
    return _Summary(
        int(count),
        int(first_ts),
        float(first_value),
        int(last_ts),
        float(last_value),
        float(inner or 0.0),
        int(ts_sum),
        float(lead or 0.0),
    )


def _read_sql(
    ids: Sequence[int], wanted: Sequence[BlockKey], days: Sequence[int], ordered: Sequence[int], span: Span
) -> str:
    # A sample's bucket: how many window starts lie before it.  Windows nest, so sample t
    # is in window j exactly when its bucket is above j's rank among the sorted starts.
    bucket = " + ".join(f"(t > {a})::INTEGER" for a in ordered)
    # One sort per series; a block's first sample is then linked to whatever was read before
    # it, so that increase is taken back out (`lead_inc`): joining blocks re-links them.
    return f"""
        WITH inc AS (
            SELECT series_id, t, tu, value, {bucket} AS bucket,
                   {block_sql(days)} AS block_start,
                   CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                        ELSE value - prev END AS inc
            FROM (SELECT series_id, epoch_ms(ts) AS t, epoch_us(ts) AS tu, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                  FROM samples
                  WHERE series_id IN ({id_list(ids)})
                    AND ts > {ts_literal(span.lo_ms)} AND ts <= {ts_literal(span.now_ms)}
                    AND value IS NOT NULL AND NOT isnan(value) AND ({range_sql(wanted)}))
        )
        SELECT series_id, block_start, bucket, count(*), min(t), arg_min(value, t),
               max(t), arg_max(value, t), sum(inc), sum(tu), arg_min(inc, t)
        FROM inc GROUP BY series_id, block_start, bucket
    """


def _summaries(
    rows: list[tuple[Any, ...]], days: set[int]
) -> tuple[dict[tuple[int, BlockKey], _Summary], dict[tuple[int, BlockKey], dict[int, _Summary]]]:
    """Per (series, block): its whole summary, and its summary per window bucket."""
    merged: dict[tuple[int, BlockKey], _Summary] = {}
    by_bucket: dict[tuple[int, BlockKey], dict[int, _Summary]] = {}
    for row in rows:
        key = (int(row[0]), block_key(row[1], days))
        part = _summary(row)
        by_bucket.setdefault(key, {})[int(row[2])] = part
        if key in merged:
            merged[key].add(part)
        else:
            merged[key] = replace(part)
    return merged, by_bucket


def _window_parts(
    buckets: dict[int, _Summary], whole: _Summary, n_starts: int, ranks: list[int]
) -> PerWindow:
    """A block's (increase, samples) in each window: the window of rank r holds buckets above r."""
    inc = [0.0] * (n_starts + 2)  # per bucket, then summed from the top
    cnt = [0] * (n_starts + 2)
    for bucket_no, part in buckets.items():
        inc[bucket_no] += part.inner - whole.lead if part.first_ts == whole.first_ts else part.inner
        cnt[bucket_no] += part.count
    for b in range(n_starts, -1, -1):
        inc[b] += inc[b + 1]
        cnt[b] += cnt[b + 1]
    return [(inc[r + 1], cnt[r + 1]) for r in ranks]


SERIES_PER_READ = 100  # a read of whole days: this many series' samples sorted at once


def read_blocks(
    cur: duckdb.DuckDBPyConnection, span: Span, wanted: list[BlockKey], raw: set[BlockKey]
) -> tuple[Blocks, dict[tuple[int, BlockKey], PerWindow]]:
    """Summaries of the wanted blocks for every series, and per-window parts of the `raw` ones.

    Blocks other than the few raw hours (a first read builds them all) are read for a batch of
    series at a time: each series is summarised on its own, and one query over every sample of
    every series held them all in memory (1.05 GB peak for 1,000 SLOs at 100x)."""
    if not wanted:
        return {}, {}
    if set(wanted) <= raw or len(span.ids) <= SERIES_PER_READ:
        return _read_batch(cur, span, wanted, raw)
    blocks: Blocks = {}
    parts: dict[tuple[int, BlockKey], PerWindow] = {}
    for k in range(0, len(span.ids), SERIES_PER_READ):
        batch = span._replace(ids=span.ids[k : k + SERIES_PER_READ])
        more, more_parts = _read_batch(cur, batch, wanted, raw)
        blocks.update(more)
        parts.update(more_parts)
    return blocks, parts


def _read_batch(
    cur: duckdb.DuckDBPyConnection, span: Span, wanted: list[BlockKey], raw: set[BlockKey]
) -> tuple[Blocks, dict[tuple[int, BlockKey], PerWindow]]:
    days = hour_days(wanted)
    ordered = sorted(set(span.starts))
    rows = cur.execute(_read_sql(span.ids, wanted, days, ordered, span)).fetchall()
    merged, by_bucket = _summaries(rows, set(days))
    ranks = [ordered.index(start) for start in span.starts]
    parts = {
        key: _window_parts(buckets, merged[key], len(ordered), ranks)
        for key, buckets in by_bucket.items()
        if key[1] in raw
    }
    return {key: whole.block() for key, whole in merged.items()}, parts
