"""Stale markers, as Prometheus writes them: a sample whose value is NULL says "this series ended".

A scrape writes one, at the scrape's time, for each series its target gave in the previous
successful scrape and does not give now: every series but the scrape's own `up` and
duration when the scrape fails, every series, `up` too, when the target is gone from the
configuration.  A series whose page gave its own timestamps gets none (Prometheus does not
apply staleness to them).  The previous successful scrape is the scrape's cursor (its time
and target), so markers are written once, also across restarts: a series that already has
a sample after that scrape is not marked again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from collectors.validate import seconds, timestamps

if TYPE_CHECKING:
    from console.store import Store

TARGET_KEY = "target"  # the cursor key holding a scrape's job and instance
_SLACK = timedelta(milliseconds=1)  # a stored scrape time is its float seconds, rounded to the µs


def previous_scrape(cursor: Any) -> tuple[datetime, dict[str, str]] | None:
    """The time and target labels of the scrape a cursor records, if it records one."""
    if not isinstance(cursor, dict) or not isinstance(cursor.get(TARGET_KEY), dict) or "last" not in cursor:
        return None
    try:
        return datetime.fromisoformat(cursor["last"]), cursor[TARGET_KEY]
    except (TypeError, ValueError):
        return None


def ended_series(
    store: Store, previous: tuple[datetime, dict[str, str]] | None, now: datetime
) -> list[tuple[str, str]]:
    """(name, labels) of the series the previous scrape gave (a value at its time, with its
    target's job and instance) that have no sample since, up to `now`."""
    if previous is None:
        return []
    last, target = previous
    _, rows = store.query(
        """
        SELECT DISTINCT s.name, s.labels FROM samples x JOIN series s ON s.id = x.series_id
        WHERE x.ts BETWEEN ? AND ? AND x.value IS NOT NULL
          AND json_extract_string(s.labels, '$.job') = ?
          AND json_extract_string(s.labels, '$.instance') = ?
          AND NOT EXISTS (
              SELECT 1 FROM samples y WHERE y.series_id = s.id AND y.ts > ? AND y.ts <= ?)
        ORDER BY s.name, s.labels
        """,
        [last - _SLACK, last + _SLACK, target.get("job"), target.get("instance"), last + _SLACK, now],
    )
    return [(name, labels) for name, labels in rows]


def marker_table(series: Iterable[tuple[str, str]], now: datetime) -> pa.Table:
    """Stale markers (a NULL value) at `now` for these (name, labels), as the store's rows."""
    rows = list(series)
    return pa.table(
        {
            "name": pa.array([name for name, _ in rows], pa.string()),
            "labels": pa.array([labels for _, labels in rows], pa.string()),
            "ts": timestamps(pa.array([seconds(now)] * len(rows), pa.float64())),
            "value": pa.nulls(len(rows), pa.float64()),
        }
    )


def markers_for(store: Store, cursor: dict[str, Any] | None, fresh: pa.Table, now: datetime) -> pa.Table:
    """The stale markers a scrape at `now` writes next to its rows `fresh`: the series of the
    previous successful scrape (`cursor`) that `fresh` does not have."""
    have = set(zip(fresh.column("name").to_pylist(), fresh.column("labels").to_pylist()))
    ended = ended_series(store, previous_scrape(cursor), now)
    return marker_table([key for key in ended if key not in have], now)


def mark_removed_targets(store: Store, configured: Iterable[str], now: datetime) -> int:
    """Stale markers for every series of each scrape source that is no longer configured
    (or is disabled); how many were written.  Writing them once: a later call finds none."""
    from console.store import ingest_samples

    names = set(configured)
    _, rows = store.query("SELECT name, cursor FROM collector_state WHERE cursor IS NOT NULL ORDER BY name")
    tables = []
    for name, text in rows:
        if name in names:
            continue
        try:
            cursor = json.loads(text)
        except ValueError:
            continue
        tables.append(marker_table(ended_series(store, previous_scrape(cursor), now), now))
    table = pa.concat_tables(tables) if tables else marker_table([], now)
    return ingest_samples(store, table, now=now) if table.num_rows else 0
