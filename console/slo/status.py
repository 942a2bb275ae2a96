"""SLO status: SLIs over the store, error budgets, burn rates, which alert conditions hold.

Window rule: the increase of a counter over `w` at `t` is the sum of its per-sample
increases with timestamps in (t − w, t]; a sample's increase is its value minus the
previous sample's, or its whole value when it dropped (a reset), or 0 for the series'
first sample.  On samples aligned to the step this equals Prometheus 2.x `increase()`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.slo.conditions import AlertCondition, slo_alert_conditions, slo_windows
from console.slo.coverage import Coverage, data_since_by_group
from console.slo.model import SLO
from console.slo.sums import cache_key, single_pass_sums, window_sums
from console.store.selectors import matches, parse_selector

if TYPE_CHECKING:
    import duckdb

    from console.store import Store

# How far before a window's start a previous sample is looked for.
LOOKBACK = timedelta(hours=1)

# -- reading the store ------------------------------------------------------------------


def _good_based(slo: SLO) -> bool:
    """Whether the SLI's numerator counts good events (else bad ones)."""
    return slo.sli.latency is not None or (slo.sli.ratio is not None and slo.sli.ratio.good is not None)


def _series_filters(slo: SLO) -> list[tuple[str, Any, float | None]]:
    """(role, selector, required `le` bound or None) for the SLO's numerator and denominator."""
    if "filters" not in slo._memo:
        slo._memo["filters"] = _parse_series_filters(slo)
    return slo._memo["filters"]


def _parse_series_filters(slo: SLO) -> list[tuple[str, Any, float | None]]:
    if slo.sli.ratio is not None:
        ratio = slo.sli.ratio
        return [
            ("num", parse_selector(ratio.good or ratio.bad or ""), None),
            ("den", parse_selector(ratio.total), None),
        ]
    latency = slo.sli.latency
    assert latency is not None
    buckets = parse_selector(latency.buckets)
    return [("num", buckets, float(latency.threshold)), ("den", buckets, math.inf)]


def _le(labels: dict[str, str]) -> float | None:
    try:
        return float(labels.get("le", ""))
    except ValueError:
        return None


# Which series feed one SLO: (group, role, series_id) per series, numerator rows first.
Feed = tuple[tuple[str, str, int], ...]


def _selection_rows(
    cur: duckdb.DuckDBPyConnection, slos: list[SLO], memo_key: str | None = None
) -> dict[int, Feed]:
    """Which series feed which SLO's numerator and denominator: each SLO's rows, by its index.

    With `memo_key` (the store's identity) each SLO keeps its answer while the store's series
    stay the same (series are interned and never change; new ones get higher ids).  The rows
    are tuples, shared with the memo: a thousand SLOs over 25 shards are 87,500 rows, and a
    dict per row (copied for the memo and again per call) was most of the selection's time.
    """
    if memo_key is None:
        return _select(cur, list(enumerate(slos)))
    count, top = cur.execute("SELECT count(*), max(id) FROM series").fetchone() or (0, None)
    state = (memo_key, count, top)
    stale = [
        (index, slo) for index, slo in enumerate(slos) if slo._memo.get("selection", (None,))[0] != state
    ]
    if stale:
        fresh = _select(cur, stale)
        for index, slo in stale:
            slo._memo["selection"] = (state, fresh[index])
    return {index: slo._memo["selection"][1] for index, slo in enumerate(slos)}


def _select(cur: duckdb.DuckDBPyConnection, slos: list[tuple[int, SLO]]) -> dict[int, Feed]:
    filters = [(index, slo, _series_filters(slo)) for index, slo in slos]
    by_name = _series_by_name(cur, {sel.name for _, _, parts in filters for _, sel, _ in parts})
    # SLOs repeat selectors and group rules (a thousand SLOs over a few metrics): each distinct
    # selector is matched once and each series' group worked out once per group rule
    matched: dict[tuple[Any, float | None], list[tuple[int, dict[str, str]]]] = {}
    groups: dict[tuple[Any, int], str] = {}
    out: dict[int, Feed] = {}
    for index, slo, parts in filters:
        rule = _group_rule(slo)
        rows: list[tuple[str, str, int]] = []
        for role, selector, bound in parts:
            found = matched.get((selector, bound))
            if found is None:
                found = matched[(selector, bound)] = _matching(by_name, selector, bound)
            for series_id, labels in found:
                grp = groups.get((rule, series_id))
                if grp is None:
                    grp = groups[(rule, series_id)] = _group_of(slo, labels)
                rows.append((grp, role, series_id))
        out[index] = tuple(rows)
    return out


def _group_rule(slo: SLO) -> tuple[Any, ...]:
    """What `SLO.group_of` depends on: two SLOs with the same rule group a series alike."""
    spec = slo.sli.ratio or slo.sli.latency
    without = None if spec is None or spec.without is None else tuple(spec.without)
    return tuple(sorted(set(slo.by))), without, slo.sli.latency is not None


def _series_by_name(
    cur: duckdb.DuckDBPyConnection, names: set[str | None]
) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """The series of the given names (every series if a selector names none), by name."""
    if None in names:
        rows = cur.execute("SELECT id, name, labels FROM series").fetchall()
    else:
        rows = cur.execute(
            "SELECT id, name, labels FROM series WHERE list_contains(?, name)",
            [sorted(n for n in names if n is not None)],
        ).fetchall()
    by_name: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for series_id, name, labels in rows:
        by_name.setdefault(name, []).append((series_id, json.loads(labels)))
    return by_name


def _matching(
    by_name: dict[str, list[tuple[int, dict[str, str]]]], selector: Any, bound: float | None
) -> list[tuple[int, dict[str, str]]]:
    """The series the selector matches (with `bound`, only the bucket of that `le`)."""
    pool = (
        [(selector.name, item) for item in by_name.get(selector.name, [])]
        if selector.name is not None
        else [(name, item) for name, items in by_name.items() for item in items]
    )
    return [
        (series_id, labels)
        for name, (series_id, labels) in pool
        if matches(selector, name, labels) and (bound is None or _le(labels) == bound)
    ]


def _group_of(slo: SLO, labels: dict[str, str]) -> str:
    """The SLO group a series counts in: its `by` labels as canonical JSON."""
    return json.dumps(slo.group_of(labels), separators=(",", ":"), ensure_ascii=False)


def _increases_sql() -> str:
    """CTEs `sel` (slo, role, series_id, grp; four list parameters of equal length) and `inc`
    (series_id, t ms, inc) for samples with ts in (?, ?]."""
    return """
        WITH sel AS (
            SELECT unnest(?::BIGINT[]) AS slo, unnest(?::VARCHAR[]) AS role,
                   unnest(?::BIGINT[]) AS series_id, unnest(?::VARCHAR[]) AS grp
        ),
        ids AS (SELECT DISTINCT series_id FROM sel),
        raw AS (
            SELECT s.series_id, epoch_ms(s.ts) AS t, s.value
            FROM samples s SEMI JOIN ids ON s.series_id = ids.series_id
            WHERE s.ts > ? AND s.ts <= ? AND s.value IS NOT NULL AND NOT isnan(s.value)
        ),
        inc AS (
            SELECT series_id, t, CASE WHEN prev IS NULL THEN 0.0 WHEN value < prev THEN value
                                      ELSE value - prev END AS inc
            FROM (SELECT series_id, t, value,
                         lag(value) OVER (PARTITION BY series_id ORDER BY t) AS prev FROM raw)
        )
    """


def _group_labels(grp: str) -> dict[str, str]:
    import json

    return {k: v for k, v in json.loads(grp).items() if v != ""}


def _ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds() * 1000)


@dataclass
class WindowValue:
    """One window's numbers for one SLO group: events, error ratio, burn, or why there are none."""

    window: timedelta
    total: float
    errors: float
    error_ratio: float | None
    burn: float | None
    status: str  # ok, no data, no traffic, low traffic


def _window_value(slo: SLO, window: timedelta, num: float, den: float, samples: int) -> WindowValue:
    seconds = window.total_seconds()
    good_based = _good_based(slo)
    if samples == 0:
        return WindowValue(window, 0.0, 0.0, None, None, "no data")
    if den <= 0:
        return WindowValue(window, 0.0, 0.0, None, None, "no traffic")
    num_rate, den_rate = num / seconds, den / seconds
    ratio = 1 - num_rate / den_rate if good_based else num_rate / den_rate
    errors = den - num if good_based else num
    if slo.min_events is not None and den < slo.min_events:
        return WindowValue(window, den, errors, None, None, "low traffic")
    if not math.isfinite(ratio):
        return WindowValue(window, den, errors, None, None, "no data")
    return WindowValue(window, den, errors, ratio, ratio / slo.budget, "ok")


@dataclass
class SLOStatus:
    """An SLO group at `now`: SLI and budget over the SLO window, burns, alert conditions."""

    slo: SLO
    group: dict[str, str]
    now: datetime
    period: WindowValue
    windows: dict[timedelta, WindowValue]
    conditions: list[tuple[AlertCondition, bool]]
    coverage: Coverage | None = None  # None: not computed (alert evaluation needs none)

    @property
    def sli(self) -> float | None:
        ratio = self.period.error_ratio
        return None if ratio is None else 1 - ratio

    @property
    def budget_remaining(self) -> float | None:
        """1 − bad ÷ (total × budget) over the SLO window."""
        if self.period.status != "ok":
            return None
        return 1 - self.period.errors / (self.period.total * self.slo.budget)

    @property
    def time_to_exhaustion(self) -> timedelta | None:
        """At the current 1h burn, how long until the budget is spent (None: not burning)."""
        remaining = self.budget_remaining
        burn = self.windows[timedelta(hours=1)].burn
        if remaining is None:
            return None
        if remaining <= 0:
            return timedelta(0)
        if burn is None or burn <= 0:
            return None
        return timedelta(seconds=remaining * self.slo.window.total_seconds() / burn)

    @property
    def state(self) -> str:
        if self.period.status in ("no data", "no traffic"):
            return self.period.status
        remaining = self.budget_remaining
        for severity in ("page", "ticket"):
            if any(held for cond, held in self.conditions if cond.severity == severity):
                return severity
        if remaining is not None and remaining <= 0:
            return "exhausted"
        return "ok" if self.period.status == "ok" else self.period.status


def _conditions_held(slo: SLO, windows: dict[timedelta, WindowValue]) -> list[tuple[AlertCondition, bool]]:
    held = []
    for cond in slo_alert_conditions(slo):
        long_ratio = windows[cond.long_window].error_ratio
        short_ratio = windows[cond.short_window].error_ratio
        held.append(
            (
                cond,
                long_ratio is not None
                and short_ratio is not None
                and long_ratio > cond.threshold
                and short_ratio > cond.threshold,
            )
        )
    return held


def slo_status(
    store: Store,
    slos: list[SLO],
    now: datetime,
    *,
    with_period: bool = True,
    cache: bool = True,
    rollups: bool = True,
) -> list[SLOStatus]:
    """Every SLO group's status at `now`.

    Without `with_period` only the alert windows (up to 3d) are read: the SLO-window
    numbers (SLI, budget) are then left empty, which is all alert evaluation needs.
    Finished hours and days come from the store's rollups (written when the store is
    writable); with `cache` (for processes that ask again: the console, the alert engine)
    they are also kept in memory between calls.  Without `rollups` every sample is read
    once (the reference the rollups are tested against).
    """
    if not slos:
        return []
    periods = {s.window for s in slos} if with_period else set()
    spans = sorted({*(w for s in slos for w in slo_windows(s)), *periods})
    # Each series' increases per window (whole days cached), then added up per SLO group.
    selection, sums = _series_sums(store, slos, now, spans, cache=cache, rollups=rollups)
    since = data_since_by_group(store, slos, selection, now) if with_period else {}
    result = []
    for (slo_index, grp), roles in sorted(_group_sums(selection, sums, len(spans)).items()):
        if "den" in roles:
            status = _group_status(slos[slo_index], grp, roles, spans, now, with_period)
            if with_period:
                status.coverage = Coverage(since.get((slo_index, grp)), now, status.slo.window)
            result.append(status)
    present = {s.slo.name for s in result}
    result += [_no_data(slo, now, with_period) for slo in slos if slo.name not in present]
    order = {s.name: i for i, s in enumerate(slos)}
    result.sort(key=lambda s: (order[s.slo.name], sorted(s.group.items())))
    return result


def _series_sums(
    store: Store, slos: list[SLO], now: datetime, spans: list[timedelta], *, cache: bool, rollups: bool
) -> tuple[dict[int, Feed], dict[int, list[tuple[float, int]]]]:
    """Which series feed which SLO, and each series' (increase, samples) per span."""
    cur = store.cursor()
    try:
        selection = _selection_rows(cur, slos, cache_key(store) if cache else None)
        ids = list({series_id for feed in selection.values() for _, _, series_id in feed})
        if rollups:
            return selection, window_sums(store, ids, now, spans, LOOKBACK, memory=cache)
        return selection, single_pass_sums(cur, ids, now, spans, LOOKBACK)
    finally:
        cur.close()


def _group_sums(
    selection: dict[int, Feed], sums: dict[int, list[tuple[float, int]]], n_spans: int
) -> dict[tuple[int, str], dict[str, tuple]]:
    """Per (SLO, group), per role: increase and samples per span, interleaved.

    SLOs fed by the same series in the same groups (one SLI under several objectives, say)
    share one addition; each total adds its series in selection order, as always."""
    added: dict[Feed, dict[tuple[str, str], tuple]] = {}
    found: dict[tuple[int, str], dict[str, tuple]] = {}
    for slo_index, feed in selection.items():
        totals = added.get(feed)
        if totals is None:
            totals = added[feed] = _add_up(feed, sums, n_spans)
        for (grp, role), values in totals.items():
            found.setdefault((slo_index, grp), {})[role] = values
    return found


def _add_up(
    rows: Feed, sums: dict[int, list[tuple[float, int]]], n_spans: int
) -> dict[tuple[str, str], tuple]:
    """Per (group, role) of one SLO's series: increase and samples per span, interleaved."""
    totals: dict[tuple[str, str], list[float]] = {}
    for grp, role, series_id in rows:
        per_series = sums.get(series_id)
        if per_series is None:
            continue
        acc = totals.setdefault((grp, role), [0.0] * (2 * n_spans))
        for k, (increase, count) in enumerate(per_series):
            acc[2 * k] += increase
            acc[2 * k + 1] += count
    return {key: tuple(values) for key, values in totals.items()}


def _group_status(
    slo: SLO,
    grp: str,
    roles: dict[str, tuple],
    spans: list[timedelta],
    now: datetime,
    with_period: bool,
) -> SLOStatus:
    num, den = roles.get("num"), roles["den"]

    def value(window: timedelta) -> WindowValue:
        k = spans.index(window)
        return _window_value(
            slo,
            window,
            float((num[2 * k] if num else 0) or 0),
            float(den[2 * k] or 0),
            int(den[2 * k + 1] or 0),
        )

    windows = {w: value(w) for w in slo_windows(slo)}
    period = (
        value(slo.window) if with_period else WindowValue(slo.window, 0.0, 0.0, None, None, "not computed")
    )
    return SLOStatus(slo, _group_labels(grp), now, period, windows, _conditions_held(slo, windows))


def _no_data(slo: SLO, now: datetime, with_period: bool = True) -> SLOStatus:
    """An SLO none of whose series has samples in the windows."""
    empty = {w: WindowValue(w, 0.0, 0.0, None, None, "no data") for w in slo_windows(slo)}
    period = WindowValue(slo.window, 0.0, 0.0, None, None, "no data")
    coverage = Coverage(None, now, slo.window) if with_period else None
    return SLOStatus(slo, {}, now, period, empty, _conditions_held(slo, empty), coverage)


def evaluate_alert_conditions(
    store: Store, slos: list[SLO], now: datetime
) -> list[tuple[AlertCondition, dict[str, str], bool, float | None]]:
    """For the alert engine: (condition, labels incl. the group's, holds at now, long-window burn)."""
    out = []
    for status in slo_status(store, slos, now, with_period=False):
        for cond, held in status.conditions:
            out.append((cond, {**cond.labels, **status.group}, held, status.windows[cond.long_window].burn))
    return out


def ms_to_datetime(ms: int) -> datetime:
    """A backtest grid time (epoch ms) as a naive UTC datetime."""
    return datetime(1970, 1, 1) + timedelta(milliseconds=int(ms))
