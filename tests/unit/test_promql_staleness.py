"""PromQL's time semantics on the store: stale markers (a NULL sample) end a series, window edges
are closed as in Prometheus 2.x (or left-open, as 3.x, when chosen), the lookback is 5 minutes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from console.config.promql import Windows
from console.rules.promql import Options, instant, parse
from console.store import Store, canonical_labels, ingest_samples

T0 = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)


def _store(tmp_path, values: list[float | None], name: str = "up") -> Store:
    store = Store.open(tmp_path / "s.duckdb")
    table = pa.table(
        {
            "name": [name] * len(values),
            "labels": [canonical_labels({"job": "api"})] * len(values),
            "ts": pa.array([T0 + k * M for k in range(len(values))], pa.timestamp("us")),
            "value": pa.array(values, pa.float64()),
        }
    )
    ingest_samples(store, table)
    return store


def _at(store: Store, expr: str, t: datetime, options: Options | None = None) -> list[float]:
    cur = store.cursor()
    try:
        return [s.value for s in instant(cur, parse(expr), t, options)[1]]
    finally:
        cur.close()


def test_a_stale_marker_ends_the_series_at_once(tmp_path):
    store = _store(tmp_path, [1.0, 1.0, 1.0, None])  # the target went away at T0+3m
    assert _at(store, "up", T0 + 2 * M + 30 * timedelta(seconds=1)) == [1.0]
    assert _at(store, "up", T0 + 3 * M) == []  # Prometheus: gone at the marker, not 5 minutes later
    assert _at(store, "up == 1", T0 + 4 * M) == []
    store.close()


def test_without_a_marker_the_last_sample_holds_for_the_lookback(tmp_path):
    store = _store(tmp_path, [1.0, 1.0, 1.0])
    assert _at(store, "up", T0 + 7 * M) == [1.0]  # exactly 5 minutes old: 2.x includes it
    assert _at(store, "up", T0 + 7 * M, Options(windows=Windows.LEFT_OPEN)) == []  # 3.x: left-open
    assert _at(store, "up", T0 + 7 * M + timedelta(seconds=1)) == []
    store.close()


def test_range_functions_skip_markers_and_a_marker_is_not_a_reset(tmp_path):
    store = _store(tmp_path, [10.0, 20.0, None, 30.0, 40.0], name="req_total")
    assert _at(store, "count_over_time(req_total[10m])", T0 + 4 * M) == [4.0]
    assert _at(store, "resets(req_total[10m])", T0 + 4 * M) == [0.0]
    assert _at(store, "increase(req_total[4m])", T0 + 4 * M) == [pytest.approx(30.0)]
    store.close()


def test_a_window_exactly_as_long_as_the_span_includes_its_first_sample_in_2x(tmp_path):
    store = _store(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert _at(store, "count_over_time(up[5m])", T0 + 5 * M) == [6.0]
    assert _at(store, "count_over_time(up[5m])", T0 + 5 * M, Options(windows=Windows.LEFT_OPEN)) == [5.0]
    store.close()
