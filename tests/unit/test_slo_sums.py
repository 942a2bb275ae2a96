"""Window sums with whole days cached: always equal to computing from scratch."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.slo import SLO, slo_status
from console.slo_sums import clear_cache
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 13, 37)
SLOS = [SLO.model_validate({"name": "avail", "objective": 99.9, "window": "7d", "sli": {"ratio": {
    "bad": 'req_total{code="500"}', "total": "req_total", "by": ["pod"]}}})]


def put(store, labels, times, values):
    ingest_samples(store, pd.DataFrame({"name": "req_total", "labels": canonical_labels(labels),
                                        "ts": pd.to_datetime(times), "value": values}))


@pytest.fixture()
def store(tmp_path):
    clear_cache()
    with Store.open(tmp_path / "s.duckdb") as store:
        rng = np.random.default_rng(1)
        times = [NOW - timedelta(days=9) + timedelta(minutes=10 * i) for i in range(9 * 144)]
        for pod in ("a", "b"):
            for code in ("200", "500"):
                values = np.cumsum(rng.integers(0, 50 if code == "200" else 3, len(times))).astype(float)
                if pod == "b":
                    values[400:] -= values[399]          # a restart four days in
                put(store, {"pod": pod, "code": code}, times, values)
        yield store
    clear_cache()


def numbers(statuses):
    return [(s.group, s.period.total, s.period.errors,
             [(w.total, w.errors, w.status) for w in s.windows.values()]) for s in statuses]


def fresh(store, now):
    clear_cache()
    built = numbers(slo_status(store, SLOS, now))
    one_pass = numbers(slo_status(store, SLOS, now, cache=False))
    assert [g[:2] for g in built] == [g[:2] for g in one_pass]
    for mine, theirs in zip(built, one_pass):
        assert mine[1:3] == pytest.approx(theirs[1:3], rel=1e-12)
        for a, b in zip(mine[3], theirs[3]):
            assert a[0] == pytest.approx(b[0], rel=1e-12) and a[1:] == b[1:]
    clear_cache()
    return numbers(slo_status(store, SLOS, now))


def test_cached_days_give_the_same_numbers_as_from_scratch(store):
    for minutes in (0, 1, 61, 24 * 60 + 5):        # refreshes as the clock moves on
        now = NOW + timedelta(minutes=minutes)
        cached = numbers(slo_status(store, SLOS, now))
        assert cached == fresh(store, now)
        slo_status(store, SLOS, now)                 # leave the cache warm for the next one


def test_late_samples_in_a_cached_day_are_noticed(store):
    before = numbers(slo_status(store, SLOS, NOW))
    # A late sample four days back that dips: a reset Prometheus would count.
    put(store, {"pod": "a", "code": "500"}, [NOW - timedelta(days=4, minutes=3)], [0.0])
    after = numbers(slo_status(store, SLOS, NOW))
    assert after != before
    assert after == fresh(store, NOW)


def test_deleted_days_are_noticed(store):
    slo_status(store, SLOS, NOW)
    store.apply_retention(NOW, {"samples": 5})
    assert numbers(slo_status(store, SLOS, NOW)) == fresh(store, NOW)


def test_cached_status_agrees_with_the_backtest(store):
    from console.slo import backtest

    start = NOW - timedelta(hours=3)
    results = {tuple(r.group.items()): r for r in backtest(store, SLOS, start, NOW, timedelta(hours=1))}
    for k in range(4):
        for status in slo_status(store, SLOS, start + timedelta(hours=k)):
            result = results[tuple(status.group.items())]
            for window, value in status.windows.items():
                if value.error_ratio is None:        # no sample in a 5m window of 10m data
                    assert np.isnan(result.error_ratio[window][k])
                    assert result.STATUS[result.status[window][k]] == value.status
                else:
                    assert result.error_ratio[window][k] == pytest.approx(value.error_ratio, rel=1e-12)
