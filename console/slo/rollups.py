"""Block summaries persisted in the store's `slo_rollups` table, and kept ones checked against
the samples (ingest only ever adds or deletes rows, so a count and a sum of timestamps tell).

A series' mark (a row of the same table with start_ms -1 and length_ms 0) says its rollups
over [lo, hi] were checked against the samples when the store was in a state: its commit
sequence number (every journaled ingest bumps it, in the batch's transaction) and its sample
count (DuckDB knows it without reading the samples; retention changes it).  While the store is
in that state, those rollups need no check: a process that did not write the store can trust
them without reading every sample.  Writes to `samples` other than ingest and retention must
bump the commit sequence number too (`journal.note_commit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from console.slo.blocks import (
    DAY_MS,
    Block,
    BlockKey,
    Blocks,
    Span,
    block_at,
    block_key,
    block_sql,
    hour_days,
    id_list,
    range_sql,
    ts_literal,
)

if TYPE_CHECKING:
    import duckdb

    from console.store import Store


def rollups_of(ids: list[int], keys: list[BlockKey]) -> str:
    """SQL for the rows of `slo_rollups` that may hold the given blocks of the given series
    (the days, and the hours of days cut into hours, in the blocks' range; not the marks)."""
    return f"""series_id IN ({id_list(ids)})
          AND start_ms >= {min(keys)[0]} AND start_ms <= {max(keys)[0]}
          AND (length_ms = {DAY_MS} OR start_ms // {DAY_MS} IN ({id_list(hour_days(keys)) or "NULL"}))"""


def load_rollups(cur: duckdb.DuckDBPyConnection, ids: list[int], keys: list[BlockKey]) -> Blocks:
    """The persisted summaries of the given blocks for the given series."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = cur.execute(f"""
        SELECT series_id, start_ms, length_ms, samples, first_ts, first_value, last_ts,
               last_value, inner_inc, ts_offset::HUGEINT + samples::HUGEINT * start_ms * 1000
        FROM slo_rollups WHERE {rollups_of(ids, keys)}
    """).fetchall()
    make = Block._make
    return {(row[0], (row[1], row[2])): make(row[3:]) for row in rows if (row[1], row[2]) in wanted}


class Mark(NamedTuple):
    """A series' rollups over [lo_ms, hi_ms] matched the samples while the store was in `state`."""

    state: tuple[int, int]  # (commit sequence number, samples in the store)
    lo_ms: int
    hi_ms: int


def store_state(cur: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The store's commit sequence number and sample count: O(1), not a scan of the samples."""
    row = cur.execute(
        "SELECT (SELECT max(seq) FROM store_commits), (SELECT count(*) FROM samples)"
    ).fetchone()
    return (int(row[0] or 0), int(row[1])) if row else (0, 0)


def load_marks(cur: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, Mark]:
    """The series' marks (see the module's docstring)."""
    rows = cur.execute(f"""
        SELECT series_id, first_ts, samples, last_ts, ts_offset FROM slo_rollups
        WHERE start_ms = -1 AND length_ms = 0 AND series_id IN ({id_list(ids)})
    """).fetchall()
    return {int(i): Mark((int(seq), int(n)), int(lo), int(hi)) for i, seq, n, lo, hi in rows}


def save_rollups(
    store: Store, blocks: Blocks, marks: dict[int, Mark] | None = None, checked: Span | None = None
) -> None:
    """Persist block summaries (replacing older ones of the same series and block), and the
    series' new marks, in one transaction.  With marks, `checked` is the span whose steady
    blocks were checked: the marked series' other rollups inside it (a day now read in hours,
    hours now read as a day) were not, so they go, and a mark vouches only for what was checked.

    Persisting only saves later work: a failure (another writer's conflict) is ignored.
    """
    import duckdb

    marks = marks or {}
    if not blocks and not marks:
        return
    rows = [
        (
            series_id,
            start,
            length,
            b.count,
            b.first_ts,
            float(b.first_value),
            b.last_ts,
            float(b.last_value),
            float(b.inner),
            b.ts_sum - b.count * start * 1000,
        )
        for (series_id, (start, length)), b in sorted(blocks.items())
    ]
    rows += [
        (i, -1, 0, m.state[1], m.state[0], 0.0, m.lo_ms, 0.0, 0.0, m.hi_ms) for i, m in sorted(marks.items())
    ]
    columns = [list(column) for column in zip(*rows)]  # as lists: building Arrow arrays imports pandas
    select = """SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]),
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
            if marks and checked is not None:
                _drop_unchecked(cur, sorted(marks), checked)
            cur.execute(f"INSERT INTO slo_rollups {select}", columns)
    except duckdb.Error:
        pass


def _drop_unchecked(cur: duckdb.DuckDBPyConnection, ids: list[int], span: Span) -> None:
    """Delete the series' rollups inside the span that are not among its steady blocks."""
    inside = f"""
        DELETE FROM slo_rollups
        WHERE series_id IN ({id_list(ids)}) AND length_ms > 0
          AND start_ms >= {int(span.lo_ms)} AND start_ms + length_ms <= {int(span.now_ms)}"""
    if not span.steady:
        cur.execute(inside)
        return
    cur.execute(
        inside + " AND (start_ms, length_ms) NOT IN (SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]))",
        [[b[0] for b in span.steady], [b[1] for b in span.steady]],
    )


def _totals(span: Span, read: Blocks, mine: dict[BlockKey, Block], series_id: int) -> tuple[int, int]:
    """A series' sample count and timestamp sum over the span, from its blocks."""
    count = ts_sum = 0
    for key in span.blocks:
        block = block_at(span, read, mine, series_id, key)
        count += block.count
        ts_sum += block.ts_sum
    return count, ts_sum


def _changed_series(
    cur: duckdb.DuckDBPyConnection,
    span: Span,
    read: Blocks,
    known: dict[int, dict[BlockKey, Block]],
    kept: dict[int, list[BlockKey]],
) -> list[int]:
    """The series with kept blocks whose samples over (lo, now] differ from their blocks'."""
    rows = cur.execute(f"""
        SELECT series_id, count(*), sum(epoch_us(ts)) FROM samples
        WHERE series_id IN ({id_list(span.ids)}) AND value IS NOT NULL AND NOT isnan(value)
          AND ts > {ts_literal(span.lo_ms)} AND ts <= {ts_literal(span.now_ms)}
        GROUP BY series_id
    """).fetchall()
    found = {int(i): (int(n), int(s)) for i, n, s in rows}
    return [i for i in span.ids if kept[i] and found.get(i, (0, 0)) != _totals(span, read, known[i], i)]


def _block_counts(
    cur: duckdb.DuckDBPyConnection, series: list[int], keys: list[BlockKey]
) -> dict[tuple[int, BlockKey], tuple[int, int]]:
    """Per (series, block): the store's sample count and timestamp sum."""
    days = hour_days(keys)
    rows = cur.execute(f"""
        SELECT series_id, {block_sql(days)} AS block_start, count(*), sum(tu)
        FROM (SELECT series_id, epoch_ms(ts) AS t, epoch_us(ts) AS tu FROM samples
              WHERE series_id IN ({id_list(series)})
                AND value IS NOT NULL AND NOT isnan(value) AND ({range_sql(keys)}))
        GROUP BY ALL
    """).fetchall()
    day_set = set(days)
    return {(int(i), block_key(start, day_set)): (int(n), int(s)) for i, start, n, s in rows}


def stale_blocks(
    cur: duckdb.DuckDBPyConnection,
    span: Span,
    read: Blocks,
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
    suspects = _changed_series(cur, span, read, known, kept)
    if not suspects:
        return set()
    found = _block_counts(cur, suspects, sorted({b for i in suspects for b in kept[i]}))
    return {
        (i, key)
        for i in suspects
        for key in kept[i]
        if found.get((i, key), (0, 0)) != (known[i][key].count, known[i][key].ts_sum)
    }
