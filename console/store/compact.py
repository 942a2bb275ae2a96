"""Compaction: closed days of samples rewritten so they compress, and the store file rewritten.

Samples are appended to `sample_rows` as they arrive (the hot part; `oncall import` writes
the closed days it imports in the compacted layout already, console/store/sample_batch.py,
batch by batch).  Compaction rewrites
every sample before the start of the current UTC day (the cold part) sorted by week, then
series, then time (odd series backwards, so one series' last timestamp is next to the next
one's first and a bit-packing group that spans the two stays narrow), a few million samples
of whole series at a time (`SAMPLES_PER_SORT`); an integral value
goes to `ivalue` BIGINT, where DuckDB packs the deltas, the others stay in `value`.  The
view `samples` reads them with the columns and types of before, from the one table (a
UNION ALL of two tables measured 1.4× slower for the backtest).

DuckDB never gives a file's free blocks back, so `compact` rewrites the store into a new
file beside it and renames it over it (see `rewrite_store`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from console.store.files import StoreError, connect
from console.store.journal import wal_path
from console.store.reclaim import Store, block_usage, discard_unfinished, unfinished_path
from console.store.rows import scalar

# The rewritten file's block size: DuckDB's default is 256 kB; at 64 kB the blocks a table's
# last segments only partly fill waste less (measured: 2.19 -> 1.86 B/sample on 0.6 M samples,
# 1.87 -> 1.64 on 6 M); at 32 kB and below DuckDB stops bit-packing the timestamps.
BLOCK_SIZE = 65_536
WEEK_US = 7 * 86_400_000_000  # compacted samples are sorted within weeks since the epoch (Thursdays)

# A value kept exactly as a BIGINT: finite, integral, within a double's integers, not -0.0.
_INTEGRAL = (
    "(isfinite(value) AND value = trunc(value) AND abs(value) <= 9007199254740992 "
    "AND NOT (value = 0 AND signbit(value)))"
)
# (value, ivalue) of a compacted sample.
_ENCODED = f"CASE WHEN {_INTEGRAL} THEN NULL ELSE value END, CASE WHEN {_INTEGRAL} THEN value::BIGINT END"
_COLD_ORDER = (
    f"epoch_us(ts) // {WEEK_US}, series_id, "
    "CASE WHEN series_id % 2 = 0 THEN epoch_us(ts) ELSE -epoch_us(ts) END"
)


@dataclass
class Rewrite:
    """What a rewrite did: the file's size before and after, and the samples in each tier."""

    path: Path
    bytes_before: int
    bytes_after: int
    cold_samples: int
    hot_samples: int
    cold_before: datetime | None

    @property
    def samples(self) -> int:
        return self.cold_samples + self.hot_samples


# Rewrite when at least this share of the file's blocks is free after a checkpoint.
REWRITE_SHARE = 0.2


def reclaim_space(store: Store, *, rewrite_share: float = REWRITE_SHARE) -> dict[str, Any]:
    """Checkpoint the store, and rewrite its file when `rewrite_share` of its blocks are free.

    Returns the file's size before and after (bytes) and whether it was rewritten.  Cursors
    taken from the store before a rewrite belong to the old file: call this between uses.
    """
    with store._lock:
        before = store.path.stat().st_size
        store.con.execute("CHECKPOINT")
        total, free = block_usage(store.con)
        rewritten = bool(total) and free / total >= rewrite_share
        if rewritten:
            rewrite_store(store)
        return {"bytes_before": before, "bytes_after": store.path.stat().st_size, "rewritten": rewritten}


def day_start(now: datetime) -> datetime:
    """The start of `now`'s UTC day: samples before it are in closed days."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def cold_before(cur: object) -> datetime | None:
    """Where the last compaction ended: the samples before it were rewritten compacted."""
    return scalar(cur.execute("SELECT max(cold_before) FROM store_compactions"))  # type: ignore[attr-defined]


def needs_compaction(store: Store, now: datetime) -> bool:
    """Whether samples arrived for days closed before `now` after the last compaction's end."""
    cur = store.cursor()
    try:
        since = cold_before(cur) or datetime(1970, 1, 1)
        cur.execute("SELECT 1 FROM sample_rows WHERE ts >= ? AND ts < ? LIMIT 1", [since, day_start(now)])
        return cur.fetchone() is not None
    finally:
        cur.close()


def compact(store: Store, now: datetime) -> Rewrite:
    """Compact the samples of closed UTC days (before `now`'s day) and
    rewrite the file (`rewrite_store`); record the compaction in `store_compactions`."""
    return rewrite_store(store, cold_before=day_start(now), now=now)


def rewrite_store(
    store: Store, *, cold_before: datetime | None = None, now: datetime | None = None
) -> Rewrite:
    """Rewrite the store's file with only what it holds, giving back the space of deleted
    rows and freed blocks (DuckDB never shrinks a file by itself); with `cold_before`, the
    samples before it are compacted on the way (`compact`).

    Call it on a store open for writing, from the thread that owns it, after the work that
    deleted rows (retention) has committed.  It holds the store's lock throughout, so no
    transaction of this process runs meanwhile; queries other threads have in flight on the
    old connection fail, and cursors taken before it must not be used after it (`store.con`
    is a new connection).

    How: CHECKPOINT (the WAL is then empty); the schema (with sequences at their current
    values) and every table are copied into `STORE.compacting` in the same directory, the
    samples re-sorted; that file is checkpointed, closed, fsynced, made 0600 and renamed
    over the store while the old connection still holds DuckDB's lock, then the store is
    opened again.  A kill at any point leaves the old store whole (and a `.compacting` file
    the next rewrite removes) or the new one whole: the rename is the only step that
    changes what `STORE` names, and both files hold every sample.  The journal's commit
    sequence is copied with `store_commits`, so nothing reads as lost.
    """
    store._require_writable()
    path = store.path
    with store._lock:
        discard_unfinished(path)
        store.con.execute("CHECKPOINT")
        wal = wal_path(path)
        if wal.exists() and wal.stat().st_size:
            raise StoreError(f"store {path} still has a WAL after CHECKPOINT; not rewritten")
        before = path.stat().st_size
        fresh = unfinished_path(path)
        try:
            cold, hot = _copy_into(store, fresh, cold_before, now)
            _fsync(fresh)
            os.chmod(fresh, 0o600)
        except BaseException:
            discard_unfinished(path)  # the store itself was not touched
            raise
        os.replace(fresh, path)  # the one step that changes what the store's name holds
        _fsync_dir(path.parent)
        store.con.close()
        store.con = connect(path, read_only=False)
    return Rewrite(path, before, path.stat().st_size, cold, hot, cold_before)


def _copy_into(
    store: Store, fresh: Path, cold_before: datetime | None, now: datetime | None
) -> tuple[int, int]:
    """Build `fresh` from the store: every table, the samples before `cold_before` compacted;
    the samples before and after it."""
    con = store.con
    quoted = str(fresh).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS compacting (BLOCK_SIZE {BLOCK_SIZE})")
    try:
        database = scalar(con.execute("SELECT current_database()"))
        con.execute(f'COPY FROM DATABASE "{database}" TO compacting (SCHEMA)')
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND NOT temporary"
            ).fetchall()
        ]
        for table in tables:
            if table not in ("sample_rows", "store_compactions"):
                con.execute(f'INSERT INTO compacting.main."{table}" SELECT * FROM main."{table}"')
        cold, hot = _copy_samples(con, cold_before)
        con.execute("INSERT INTO compacting.main.store_compactions SELECT * FROM main.store_compactions")
        if cold_before is not None:
            con.execute(
                "INSERT INTO compacting.main.store_compactions VALUES (?, ?, ?, ?, ?)",
                [now or datetime.utcnow(), cold_before, cold, hot, store.path.stat().st_size],
            )
        con.execute("CHECKPOINT compacting")
    finally:
        con.execute("DETACH compacting")
    return cold, hot


def _copy_samples(con: object, cold_before: datetime | None) -> tuple[int, int]:
    """The samples into the new file: those before `cold_before` compacted, the others as
    they are; without `cold_before`, every row as it is.  Return (before, after) it."""
    execute = con.execute  # type: ignore[attr-defined]
    if cold_before is None:
        execute("INSERT INTO compacting.main.sample_rows SELECT * FROM main.sample_rows")
        return 0, int(scalar(execute("SELECT count(*) FROM compacting.main.sample_rows")))
    for first, last in _series_parts(execute, "main.samples", "ts < ?", [cold_before]):
        execute(
            f"""
            INSERT INTO compacting.main.sample_rows (series_id, ts, value, ivalue)
            SELECT series_id, ts, {_ENCODED} FROM main.samples
            WHERE ts < ? AND series_id BETWEEN ? AND ? ORDER BY {_COLD_ORDER}
            """,
            [cold_before, first, last],
        )
    execute(
        "INSERT INTO compacting.main.sample_rows (series_id, ts, value) "
        "SELECT series_id, ts, value FROM main.samples WHERE ts >= ?",
        [cold_before],
    )
    counts = execute(
        "SELECT count(*) FILTER (WHERE ts < ?), count(*) FILTER (WHERE ts >= ?) FROM compacting.main.sample_rows",
        [cold_before, cold_before],
    ).fetchone()
    return int(counts[0]), int(counts[1])


# A compaction sorts at most about this many samples at once (a series' are never split):
# one sort of every closed day held them all in memory (`oncall compact` of 60 M samples
# peaked at 3.3 GB).  Each part is in the layout's order, so the weeks of one part's series
# come before the next part's: a row group still holds one week, but for the few at a part's
# end, and reads of a few hours skip the others as before.
SAMPLES_PER_SORT = 2_000_000


def _series_parts(execute: Any, table: str, where: str, params: list[Any]) -> list[tuple[int, int]]:
    """(first, last) series id of each part of `table`'s samples (`where`) that a compaction
    sorts on its own, in series order."""
    counts = execute(
        f"SELECT series_id, count(*) FROM {table} WHERE {where} GROUP BY series_id ORDER BY series_id",
        params,
    ).fetchall()
    parts: list[tuple[int, int]] = []
    first, held = None, 0
    for series_id, count in counts:
        if first is None:
            first = series_id
        held += count
        if held >= SAMPLES_PER_SORT:
            parts.append((first, series_id))
            first, held = None, 0
    if first is not None:
        parts.append((first, counts[-1][0]))
    return parts


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact_in_place(store: Store, now: datetime) -> int:
    """Rewrite compacted, inside the open file and in one transaction, the samples of closed
    UTC days that arrived after the last compaction's end, with the rest of the weeks they
    fall in (readers on other threads go on reading; a kill leaves it undone).  Return how
    many samples that were not compacted now are.

    The file does not shrink (DuckDB reuses the blocks this frees for later writes);
    `compact` also rewrites the file, needs the store to itself, and compacts late samples
    of earlier weeks too."""
    cutoff = day_start(now)
    with store.transaction() as cur:
        after = cold_before(cur) or datetime(1970, 1, 1)
        cur.execute(
            f"SELECT min(epoch_us(ts)) // {WEEK_US}, count(*) FROM sample_rows WHERE ts >= ? AND ts < ?",
            [after, cutoff],
        )
        week, moved = cur.fetchone() or (None, 0)
        if week is None:
            return 0
        since = datetime(1970, 1, 1) + timedelta(microseconds=int(week) * WEEK_US)
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _compacting AS "
            "SELECT series_id, ts, value FROM samples WHERE ts >= ? AND ts < ?",
            [since, cutoff],
        )
        try:
            cur.execute("DELETE FROM sample_rows WHERE ts >= ? AND ts < ?", [since, cutoff])
            for first, last in _series_parts(cur.execute, "_compacting", "true", []):
                cur.execute(
                    f"INSERT INTO sample_rows (series_id, ts, value, ivalue) "
                    f"SELECT series_id, ts, {_ENCODED} FROM _compacting "
                    f"WHERE series_id BETWEEN ? AND ? ORDER BY {_COLD_ORDER}",
                    [first, last],
                )
            cur.execute(
                "INSERT INTO store_compactions SELECT ?, ?, count(*) FILTER (WHERE ts < ?), "
                "count(*) FILTER (WHERE ts >= ?), ? FROM sample_rows",
                [now, cutoff, cutoff, cutoff, store.path.stat().st_size],
            )
        finally:
            cur.execute("DROP TABLE IF EXISTS _compacting")
    return int(moved)


def compaction_due(store: Store, now: datetime, *, last: datetime | None) -> bool:
    """Whether the owning process should compact at `now`: a UTC day closed since the
    compaction it last ran or checked (`last`), and samples of it are not compacted yet."""
    if last is not None and day_start(last) >= day_start(now):
        return False
    return needs_compaction(store, now)
