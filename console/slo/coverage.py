"""How much of an SLO window the data covers: a 30d SLO over a week of data says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from console.slo.model import SLO
    from console.store import Store

# Data that starts this soon after the window's start covers the window (a scrape interval,
# a collector that started a little late).
TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class Coverage:
    """How much of an SLO window its data covers: from the first denominator sample in it."""

    data_since: datetime | None  # None: no sample in the window
    now: datetime
    window: timedelta

    @property
    def covered(self) -> timedelta:
        """How much of the window the data covers: all of it unless `partial`."""
        if self.data_since is None:
            return timedelta(0)
        return self.window if not self.partial else self.now - self.data_since

    @property
    def partial(self) -> bool:
        """Whether the data starts inside the window (more than `TOLERANCE` after its start): the
        SLI and budget are then over what there is, not over the whole window."""
        return self.data_since is None or self.data_since - (self.now - self.window) > TOLERANCE


def data_since_by_group(
    store: Store, slos: list[SLO], selection: Mapping[int, Sequence[tuple[str, str, int]]], now: datetime
) -> dict[tuple[int, str], datetime]:
    """Per (SLO, group): the first denominator sample inside the SLO window, or the window's
    start when the data reaches back further (one scan of the `ts` column for every SLO)."""
    dens = [
        (slo, grp, series_id)
        for slo, feed in selection.items()
        for grp, role, series_id in feed
        if role == "den"
    ]
    if not dens:
        return {}
    ids = sorted({series_id for _, _, series_id in dens})
    start = now - max(s.window for s in slos)
    # A series with a sample in the window's first hour has its first one there: that hour is
    # read first (DuckDB skips the other row groups), then for the others the next 1h, 2h, 4h …
    # of the window, so data that begins late in the window is found without reading it all.
    first: dict[int, datetime] = {}
    missing, lo, length = ids, start, TOLERANCE
    while missing and lo < now:
        hi = min(now, lo + length)
        first.update(_first_samples(store, missing, lo, hi))
        missing = [i for i in missing if i not in first]
        lo, length = hi, length * 2
    since: dict[tuple[int, str], datetime] = {}
    for slo, grp, series_id in dens:
        ts = first.get(series_id)
        if ts is None:
            continue
        ts = max(ts, now - slos[slo].window)  # before a shorter window: it covers all of it
        key = (slo, grp)
        since[key] = min(since.get(key, ts), ts)
    return since


def _first_samples(store: Store, ids: list[int], after: datetime, until: datetime) -> dict[int, datetime]:
    """Per series, its first sample with a value in (after, until]."""
    cur = store.cursor()
    try:
        rows = cur.execute(
            f"SELECT series_id, min(ts) FROM samples WHERE series_id IN ({', '.join(map(str, ids))}) "
            "AND ts > ? AND ts <= ? AND value IS NOT NULL AND NOT isnan(value) GROUP BY series_id",
            [after, until],
        ).fetchall()
    finally:
        cur.close()
    return {int(series_id): ts for series_id, ts in rows}
