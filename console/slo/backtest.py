"""SLO backtests: every window's error ratio and every alert condition over a time grid.

Kept apart from `console.slo.status` so that the console's first frame does not import
numpy.  Nothing here goes through pyarrow: its first array imports pandas (0.15 s), which
a backtest has no use for; DuckDB takes the selection as list parameters and hands back
numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from console.slo.conditions import AlertCondition, slo_alert_conditions, slo_windows
from console.slo.model import SLO
from console.slo.status import (
    LOOKBACK,
    _good_based,
    _group_labels,
    _increases_sql,
    _ms,
    _selection_rows,
)

if TYPE_CHECKING:
    import duckdb

    from console.store import Store


def _selection(cur: duckdb.DuckDBPyConnection, slos: list[SLO]) -> list[list[Any]]:
    """Which series feed which SLO's numerator and denominator, as four columns: slo, role,
    series_id, grp."""
    rows = [
        (index, role, series_id, grp)
        for index, feed in _selection_rows(cur, slos).items()
        for grp, role, series_id in feed
    ]
    return [[row[k] for row in rows] for k in range(4)]


@dataclass
class Backtest:
    """One SLO group over a grid: per-window error ratios, and when each condition held."""

    slo: SLO
    group: dict[str, str]
    times: np.ndarray  # grid, epoch ms
    error_ratio: dict[timedelta, np.ndarray]  # NaN where no value
    status: dict[timedelta, np.ndarray]  # 0 ok, 1 no data, 2 no traffic, 3 low traffic
    held: dict[str, np.ndarray]  # condition name -> bool per grid point
    conditions: list[AlertCondition]

    STATUS = ("ok", "no data", "no traffic", "low traffic")

    def intervals(self, name: str) -> list[tuple[int, int]]:
        """Runs of grid points where the condition held: (first ms, last ms)."""
        return _runs(self.times, self.held[name])

    def severity_held(self, severity: str) -> np.ndarray:
        """Per grid point, whether any condition of this severity held."""
        names = [c.name for c in self.conditions if c.severity == severity]
        if not names:
            return np.zeros(len(self.times), dtype=bool)
        return np.logical_or.reduce([self.held[n] for n in names])

    def severity_runs(self, severity: str) -> list[tuple[int, int]]:
        """Runs where any condition of this severity held (the union of their intervals): how
        many times it would have fired."""
        return _runs(self.times, self.severity_held(severity))


def _runs(times: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(times[s]), int(times[e])) for s, e in zip(starts, ends)]


def backtest(
    store: Store, slos: list[SLO], start: datetime, end: datetime, step: timedelta
) -> list[Backtest]:
    """Every SLO group over the grid start, start+step, …, end (inclusive)."""
    if not slos:
        return []
    if step.total_seconds() <= 0:
        raise ValueError("step must be positive")
    table = _increases(store, slos, start, end)
    step_ms = int(step.total_seconds() * 1000)
    times = np.arange(_ms(start), _ms(end) + 1, step_ms, dtype=np.int64)
    results = [
        _backtest_group(slos[slo_index], _group_labels(grp), times, roles)
        for (slo_index, grp), roles in _cumulative_parts(table).items()
        if "den" in roles
    ]
    present = {r.slo.name for r in results}
    results += [_backtest_group(slo, {}, times, {}) for slo in slos if slo.name not in present]
    order = {s.name: i for i, s in enumerate(slos)}
    results.sort(key=lambda r: (order[r.slo.name], sorted(r.group.items())))
    return results


def _increases(store: Store, slos: list[SLO], start: datetime, end: datetime) -> dict[str, np.ndarray]:
    """Per SLO, role, group and sample time: the increase and sample count, in that order."""
    sql = (
        _increases_sql()
        + """
        SELECT sel.slo, sel.role, sel.grp, i.t, sum(i.inc) AS inc, count(*) AS n
        FROM inc i JOIN sel ON sel.series_id = i.series_id
        GROUP BY ALL ORDER BY sel.slo, sel.grp, sel.role, i.t
    """
    )
    cur = store.cursor()
    try:
        longest = max(w for s in slos for w in slo_windows(s))
        params = [*_selection(cur, slos), start - longest - LOOKBACK, end]
        return cur.execute(sql, params).fetchnumpy()
    finally:
        cur.close()


def _cumulative_parts(
    cols: dict[str, np.ndarray],
) -> dict[tuple[int, str], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Per (SLO, group), per role: sample times, cumulative increase, cumulative samples."""
    parts: dict[tuple[int, str], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    size = len(cols["t"])
    if not size:
        return parts
    slo_col, role_col, grp_col = cols["slo"], cols["role"], cols["grp"]
    boundaries = (
        np.flatnonzero(
            (slo_col[1:] != slo_col[:-1]) | (role_col[1:] != role_col[:-1]) | (grp_col[1:] != grp_col[:-1])
        )
        + 1
    )
    starts = np.concatenate(([0], boundaries))
    stops = np.concatenate((boundaries, [size]))
    for a, b in zip(starts, stops):
        t = cols["t"][a:b].astype(np.int64)
        parts.setdefault((int(slo_col[a]), str(grp_col[a])), {})[str(role_col[a])] = (
            t,
            np.cumsum(cols["inc"][a:b].astype(np.float64)),
            np.cumsum(cols["n"][a:b].astype(np.int64)),
        )
    return parts


def _at(
    series: tuple[np.ndarray, np.ndarray, np.ndarray] | None, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative increase and sample count at each query time (last sample at or before it)."""
    if series is None:
        return np.zeros(len(query)), np.zeros(len(query), dtype=np.int64)
    t, cum, count = series
    idx = np.searchsorted(t, query, side="right") - 1
    safe = np.maximum(idx, 0)
    return (np.where(idx >= 0, cum[safe], 0.0), np.where(idx >= 0, count[safe], 0))


def _backtest_group(
    slo: SLO,
    group: dict[str, str],
    times: np.ndarray,
    roles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> Backtest:
    good_based = _good_based(slo)
    num_now, _ = _at(roles.get("num"), times)
    den_now, n_now = _at(roles.get("den"), times)
    ratios: dict[timedelta, np.ndarray] = {}
    statuses: dict[timedelta, np.ndarray] = {}
    for window in slo_windows(slo):
        w_ms = int(window.total_seconds() * 1000)
        num_then, _ = _at(roles.get("num"), times - w_ms)
        den_then, n_then = _at(roles.get("den"), times - w_ms)
        seconds = window.total_seconds()
        num, den, count = num_now - num_then, den_now - den_then, n_now - n_then
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_ratio = (num / seconds) / (den / seconds)
            ratio = 1 - rate_ratio if good_based else rate_ratio
        status = np.zeros(len(times), dtype=np.int8)
        status[den <= 0] = 2
        status[count == 0] = 1
        if slo.min_events is not None:
            status[(status == 0) & (den < slo.min_events)] = 3
        ratio = np.where((status == 0) & np.isfinite(ratio), ratio, np.nan)
        ratios[window], statuses[window] = ratio, status
    conditions = slo_alert_conditions(slo)
    held = {}
    for cond in conditions:
        with np.errstate(invalid="ignore"):
            held[cond.name] = (ratios[cond.long_window] > cond.threshold) & (
                ratios[cond.short_window] > cond.threshold
            )
    return Backtest(slo, group, times, ratios, statuses, held, conditions)


FIVE_MINUTES = timedelta(minutes=5)


@dataclass
class TimeSlices:
    """Sloth's time-slice budget of an SLO group: the mean of the 5m error ratio over the
    slices of the SLO window, over the slices that have one (Sloth's `slo:sli_error:ratio_rate30d`
    is `sum_over_time(ratio_5m[30d]) / count_over_time(ratio_5m[30d])` of the recorded 5m ratio)."""

    slo: SLO
    group: dict[str, str]
    step: timedelta
    slices: int  # grid points in the window
    with_value: int  # of which the 5m error ratio has a value (traffic, not under min_events)
    error_ratio: float | None

    @property
    def sli(self) -> float | None:
        return None if self.error_ratio is None else 1 - self.error_ratio

    @property
    def budget_remaining(self) -> float | None:
        """Sloth's `slo:period_error_budget_remaining:ratio`: 1 − mean error ratio ÷ budget."""
        return None if self.error_ratio is None else 1 - self.error_ratio / self.slo.budget


def timeslices(store: Store, slos: list[SLO], now: datetime, step: timedelta) -> list[TimeSlices]:
    """Every SLO group's time-slice budget at `now`: slices every `step` on the epoch-aligned
    grid, both ends of the window included — Prometheus 2.x's
    `avg_over_time((ratio_5m)[window:step])` evaluated at `now`."""
    step_ms = int(step.total_seconds() * 1000)
    if step_ms <= 0:
        raise ValueError("step must be positive")
    out: list[TimeSlices] = []
    for window in sorted({slo.window for slo in slos}):
        chosen = [slo for slo in slos if slo.window == window]
        first = -(-_ms(now - window) // step_ms) * step_ms  # the first slice at or after the start
        last = _ms(now) // step_ms * step_ms
        start = datetime(1970, 1, 1) + timedelta(milliseconds=first)
        end = datetime(1970, 1, 1) + timedelta(milliseconds=last)
        for bt in backtest(store, chosen, start, end, step):
            ratio = bt.error_ratio[FIVE_MINUTES]
            valid = np.isfinite(ratio)
            mean = float(ratio[valid].mean()) if valid.any() else None
            out.append(TimeSlices(bt.slo, bt.group, step, len(ratio), int(valid.sum()), mean))
    order = {s.name: i for i, s in enumerate(slos)}
    out.sort(key=lambda t: (order[t.slo.name], sorted(t.group.items())))
    return out
