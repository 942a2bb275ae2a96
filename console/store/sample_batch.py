"""Samples already grouped by series, appended to `sample_rows` in one transaction.

The caller gives each distinct series once (name and canonical labels) and, per sample, the
index of its series, its time (µs since the epoch) and its value, as NumPy arrays: nothing is
joined or hashed per sample on strings.  A sample already stored (the same series and time,
or an earlier one of the same batch) is not added again.  Samples of closed UTC days go in as
compaction writes them (sorted by week, series and time; an integral value in `ivalue`), so an
imported history is dense from the start; the others go in as they come.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.core.arrays import from_numpy
from console.store.compact import WEEK_US
from console.store.db import Store
from console.store.journal import note_commit

if TYPE_CHECKING:
    import numpy as np

Cursor = tuple[str, dict[str, Any]]
_EPOCH = datetime(1970, 1, 1)


class SeriesIds:
    """The ids of series this process has seen stored, by key (name + canonical labels)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._pending: dict[str, int] = {}

    def resolve(self, cur: Any, series: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Each series' id (made when the store has none yet), and whether it was made now.

        Call inside the transaction that writes the samples; `commit` after it commits."""
        import numpy as np
        import pyarrow as pa

        keys = [name + labels for name, labels in series]
        unknown = [i for i, key in enumerate(keys) if key not in self.ids]
        found: dict[str, int] = {}
        made: set[str] = set()
        if unknown:
            cur.register(
                "_series_in",
                pa.table(
                    {
                        "key": [keys[i] for i in unknown],
                        "name": [series[i][0] for i in unknown],
                        "labels": [series[i][1] for i in unknown],
                    }
                ),
            )
            try:
                found = dict(
                    cur.execute(
                        "SELECT s.key, s.id FROM series s SEMI JOIN _series_in i ON i.key = s.key"
                    ).fetchall()
                )
                first: dict[str, int] = {}  # each key once (label blocks in other orders are one series)
                for i in unknown:
                    if keys[i] not in found:
                        first.setdefault(keys[i], i)
                new = list(first.values())  # in order of first use
                fresh: dict[str, int] = {}
                if new:
                    # ids in the order the batch first names the series, so a file written series
                    # by series arrives sorted by id and time (no sort needed to find repeats)
                    numbers = sorted(
                        row[0]
                        for row in cur.execute(
                            "SELECT nextval('series_id_seq') FROM range(?)", [len(new)]
                        ).fetchall()
                    )
                    fresh = {keys[i]: number for i, number in zip(new, numbers)}
                    cur.register(
                        "_series_new",
                        pa.table(
                            {
                                "id": list(fresh.values()),
                                "name": [series[i][0] for i in new],
                                "labels": [series[i][1] for i in new],
                                "key": list(fresh),
                            }
                        ),
                    )
                    try:
                        cur.execute("INSERT INTO series (id, name, labels, key) SELECT * FROM _series_new")
                    finally:
                        cur.unregister("_series_new")
            finally:
                cur.unregister("_series_in")
            made = set(fresh)
            found.update(fresh)
        self._pending = found
        ids = np.fromiter(
            (found[key] if key in found else self.ids[key] for key in keys), np.int64, len(keys)
        )
        return ids, np.fromiter((key in made for key in keys), bool, len(keys))

    def commit(self) -> None:
        """The ids resolved in the transaction that just committed are known from now on."""
        self.ids.update(self._pending)
        self._pending = {}


def append_samples(
    store: Store,
    series: Sequence[tuple[str, str]],
    index: np.ndarray,
    ts_us: np.ndarray,
    values: np.ndarray,
    *,
    ids: SeriesIds,
    cursor: Cursor | None = None,
    now: datetime,
) -> int:
    """Append samples (`index` into `series`, time in µs, value); return how many were new.

    With `cursor`, the collector's cursor is stored in the same transaction."""
    added = 0
    with store.transaction() as cur:
        if len(index):
            series_ids, made = ids.resolve(cur, series)
            sid = series_ids[index]
            sid, ts_us, values = _distinct(sid, ts_us, values)
            keep = _not_stored(cur, sid, ts_us, series_ids[~made])
            if keep is not None:
                sid, ts_us, values = sid[keep], ts_us[keep], values[keep]
            added = len(sid)
            if added:
                _insert(cur, sid, ts_us, values, now)
                writes = store.sample_writes
                if writes is not None:
                    writes.note(int(ts_us.min()) // 1000)
        note_commit(cur, table="samples", rows=added, now=now)
        if cursor is not None:
            store.set_cursor(cur, cursor[0], cursor[1], added, now)
    ids.commit()
    return added


def _distinct(sid: np.ndarray, ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """The samples sorted by series then time, each (series, time) once (its first in the batch)."""
    import numpy as np

    step_sid, step_ts = np.diff(sid), np.diff(ts)
    if bool(np.all((step_sid > 0) | ((step_sid == 0) & (step_ts > 0)))):
        return sid, ts, values  # already in order, no repeats: the usual case for exposition text
    order = np.lexsort((ts, sid))  # stable: of repeats, the first in the batch comes first
    sid, ts, values = sid[order], ts[order], values[order]
    first = np.ones(len(sid), bool)
    first[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
    return sid[first], ts[first], values[first]


def _not_stored(cur: Any, sid: np.ndarray, ts: np.ndarray, old_ids: np.ndarray) -> np.ndarray | None:
    """Which samples the store does not hold yet (None: all of them).  Only series that
    existed before this batch can have stored samples; the scan is bounded by their ids'
    and the batch's times so DuckDB skips the row groups of other series and times."""
    import numpy as np
    import pyarrow as pa

    if not len(old_ids):
        return None
    maybe = np.flatnonzero(np.isin(sid, old_ids))
    if not len(maybe):
        return None
    cur.register(
        "_maybe",
        pa.table({"pos": maybe, "series_id": sid[maybe], "ts": pa.array(ts[maybe], pa.timestamp("us"))}),
    )
    try:
        stored = cur.execute(
            """
            SELECT m.pos FROM _maybe m
            JOIN (SELECT series_id, ts FROM sample_rows
                  WHERE series_id BETWEEN ? AND ? AND ts BETWEEN make_timestamp(?) AND make_timestamp(?)) x
              ON x.series_id = m.series_id AND x.ts = m.ts
            """,
            [int(sid[maybe].min()), int(sid[maybe].max()), int(ts[maybe].min()), int(ts[maybe].max())],
        ).fetchnumpy()["pos"]
    finally:
        cur.unregister("_maybe")
    if not len(stored):
        return None
    keep = np.ones(len(sid), bool)
    keep[stored] = False
    return keep


def _insert(cur: Any, sid: np.ndarray, ts: np.ndarray, values: np.ndarray, now: datetime) -> None:
    """Samples (sorted by series and time) into `sample_rows`: those before `now`'s UTC day
    in compaction's layout (console/store/compact.py), the rest after them as they are."""
    import numpy as np
    import pyarrow as pa

    today = int((now.replace(hour=0, minute=0, second=0, microsecond=0) - _EPOCH).total_seconds()) * 1_000_000
    cold = ts < today
    n_cold = int(np.count_nonzero(cold))
    if n_cold:
        if n_cold == len(ts):
            order = _cold_order(sid, ts)
        else:
            order = np.concatenate(
                [np.flatnonzero(cold)[_cold_order(sid[cold], ts[cold])], np.flatnonzero(~cold)]
            )
        sid, ts, values = sid[order], ts[order], values[order]
    integral = np.zeros(len(ts), bool)
    integral[:n_cold] = _integral(values[:n_cold])
    values = np.ascontiguousarray(values)
    table = pa.table(
        {
            "series_id": sid,
            "ts": pa.array(ts, pa.timestamp("us")),
            "value": from_numpy(values, pa.float64(), ~integral),
            "ivalue": from_numpy(np.where(integral, values, 0).astype(np.int64), pa.int64(), integral),
        }
    )
    cur.register("_rows_in", table)
    try:
        cur.execute("INSERT INTO sample_rows (series_id, ts, value, ivalue) SELECT * FROM _rows_in")
    finally:
        cur.unregister("_rows_in")


def _cold_order(sid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The order of compaction's layout (compact._COLD_ORDER: week, series, time with odd
    series backwards) for samples sorted by series and time, in linear time: a stable radix
    sort by week keeps each series' run, then the runs of odd series are turned around."""
    import numpy as np

    week = ts // WEEK_US
    first, span = int(week.min()), int(week.max() - week.min())
    if span >= 2**15:  # weeks too far apart for a 16-bit radix sort
        return np.lexsort((np.where(sid % 2 == 0, ts, -ts), sid, week))
    order = np.argsort((week - first).astype(np.int16), kind="stable") if span else np.arange(len(ts))
    week, sid = week[order], sid[order]
    starts = np.flatnonzero(np.concatenate([[True], (week[1:] != week[:-1]) | (sid[1:] != sid[:-1])]))
    ends = np.append(starts[1:], len(sid))
    run = np.repeat(np.arange(len(starts)), ends - starts)
    at = np.arange(len(sid))
    backwards = starts[run] + ends[run] - 1 - at
    return order[np.where(sid % 2 == 1, backwards, at)]


def _integral(values: np.ndarray) -> np.ndarray:
    """As compact._INTEGRAL: finite, integral, within a double's integers, not -0.0."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(values)
            & (values == np.trunc(values))
            & (np.abs(values) <= 9007199254740992)
            & ~((values == 0) & np.signbit(values))
        )
