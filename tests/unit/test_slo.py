"""SLO computation over the store: budgets, burns, time to exhaustion, edge cases."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.slo.backtest import backtest
from console.slo.conditions import burn_factor, slo_alert_conditions
from console.slo.model import SLO
from console.slo.status import slo_status
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1)
STEP = timedelta(minutes=5)


def counter(increments, start_value=0.0):
    return start_value + np.cumsum(increments)


def put(store, name, labels, times, values):
    ingest_samples(
        store,
        pd.DataFrame(
            {
                "name": name,
                "labels": canonical_labels(labels),
                "ts": pd.to_datetime(list(times)),
                "value": np.asarray(values, dtype=float),
            }
        ),
    )


def grid(days, end=NOW, step=STEP):
    n = int(timedelta(days=days) / step)
    return [end - step * (n - 1 - i) for i in range(n)]


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def ratio_slo(objective=99.9, **extra):
    return SLO.model_validate(
        {
            "name": "avail",
            "objective": objective,
            "sli": {"ratio": {"bad": 'req_total{code="500"}', "total": "req_total"}},
            **extra,
        }
    )


def feed(store, days, total_per_step, bad_per_step):
    times = grid(days)
    total = np.full(len(times), float(total_per_step))
    bad = np.asarray(bad_per_step(times), dtype=float)
    put(store, "req_total", {"code": "200"}, times, counter(total - bad))
    put(store, "req_total", {"code": "500"}, times, counter(bad))


def test_budget_remaining_and_time_to_exhaustion_by_hand(store):
    # 1000 requests per 5 minutes for 31 days; 10 errors per 5 minutes in the last hour.
    feed(store, 31, 1000, lambda ts: [10 if t > NOW - timedelta(hours=1) else 0 for t in ts])
    (status,) = slo_status(store, [ratio_slo()], NOW)
    # 30d: 8640 steps x 1000 = 8.64M requests, 120 errors; budget 0.1% = 8640 errors.
    assert status.period.total == 8_640_000 and status.period.errors == 120
    assert status.budget_remaining == pytest.approx(1 - 120 / 8640, rel=1e-12)
    one_hour = status.windows[timedelta(hours=1)]
    assert one_hour.error_ratio == pytest.approx(0.01) and one_hour.burn == pytest.approx(10)
    # Remaining share of the budget, spent 10x faster than the 30d window allows.
    assert status.time_to_exhaustion.total_seconds() == pytest.approx(
        (1 - 120 / 8640) * 30 * 86400 / 10, rel=1e-9
    )
    assert status.state == "ok"


def test_fast_burn_pages_and_budget_goes_negative(store):
    feed(store, 31, 1000, lambda ts: [500 if t > NOW - timedelta(days=2) else 0 for t in ts])
    (status,) = slo_status(store, [ratio_slo()], NOW)
    assert status.budget_remaining < 0
    assert status.time_to_exhaustion == timedelta(0)
    assert status.state == "page"
    held = {c.name: h for c, h in status.conditions}
    assert held == {
        "avail:page:1h": True,
        "avail:page:6h": True,
        "avail:ticket:1d": True,
        "avail:ticket:3d": True,
    }


@pytest.mark.parametrize(
    "objective, bad, remaining",
    [
        (99.999, lambda ts: [1 if t == NOW else 0 for t in ts], 1 - 1 / 86.4),
        (90, lambda ts: [50] * len(ts), 0.5),
    ],
)
def test_objectives_at_both_ends(store, objective, bad, remaining):
    # 8.64M requests over 30 days; the budget is 86.4 errors at 99.999 and 864k at 90.
    feed(store, 31, 1000, bad)
    (status,) = slo_status(store, [ratio_slo(objective)], NOW)
    assert status.budget_remaining == pytest.approx(remaining, rel=1e-6)
    if objective == 90:
        # 14.4x a 10% budget is above 100% errors: a 90% SLO can never page.
        assert [c.threshold > 1 for c in slo_alert_conditions(ratio_slo(90))][:1] == [True]
        assert status.state != "page"


def test_min_events_reports_not_enough_traffic(store):
    feed(store, 31, 10, lambda ts: [10 if t > NOW - timedelta(hours=1) else 0 for t in ts])
    (status,) = slo_status(store, [ratio_slo(min_events=500)], NOW)
    five = status.windows[timedelta(minutes=5)]
    assert five.status == "low traffic" and five.burn is None
    assert status.windows[timedelta(days=1)].status == "ok"
    assert not any(held for c, held in status.conditions if c.short_window == timedelta(minutes=5))
    (plain,) = slo_status(store, [ratio_slo()], NOW)
    assert plain.windows[timedelta(minutes=5)].burn == pytest.approx(1000)


def test_series_that_starts_mid_window_counts_from_its_first_sample(store):
    times = grid(1)  # only one day of data in a 30-day window
    put(store, "req_total", {"code": "200"}, times, counter(np.full(len(times), 99.0), 5000))
    put(store, "req_total", {"code": "500"}, times, counter(np.full(len(times), 1.0), 70))
    (status,) = slo_status(store, [ratio_slo()], NOW)
    # The first sample only sets the base: 287 steps of increase, not the 5070 already counted.
    assert status.period.total == 287 * 100 and status.period.errors == 287
    assert status.sli == pytest.approx(0.99)


def test_counter_reset_counts_the_post_reset_value(store):
    times = grid(1)
    total = counter(np.full(len(times), 100.0))
    total[200:] -= total[199]  # restart: drops to 100, 200, ...
    put(store, "req_total", {"code": "200"}, times, total)
    put(store, "req_total", {"code": "500"}, times, np.zeros(len(times)))
    (status,) = slo_status(store, [ratio_slo()], NOW)
    assert status.windows[timedelta(days=1)].total == 287 * 100


def test_no_traffic_and_no_data_never_give_nan(store):
    times = grid(31)
    put(store, "req_total", {"code": "200"}, times, np.full(len(times), 42.0))
    put(store, "req_total", {"code": "500"}, times, np.zeros(len(times)))
    other = SLO.model_validate(
        {
            "name": "ghost",
            "objective": 99,
            "sli": {"ratio": {"good": "nothing_total", "total": "nothing_total"}},
        }
    )
    idle, ghost = slo_status(store, [ratio_slo(), other], NOW)
    assert idle.state == "no traffic" and idle.budget_remaining is None and idle.sli is None
    assert ghost.state == "no data" and ghost.time_to_exhaustion is None
    (bt_idle, bt_ghost) = backtest(store, [ratio_slo(), other], NOW - timedelta(hours=1), NOW, STEP)
    assert set(np.unique(bt_idle.status[timedelta(hours=1)])) == {2}
    assert set(np.unique(bt_ghost.status[timedelta(hours=1)])) == {1}
    assert bt_idle.severity_runs("page") == []


def test_backtest_agrees_with_status_at_each_grid_point(store):
    feed(
        store,
        5,
        1000,
        lambda ts: [300 if NOW - timedelta(hours=5) < t <= NOW - timedelta(hours=3) else 1 for t in ts],
    )
    slo = ratio_slo()
    (bt,) = backtest(store, [slo], NOW - timedelta(hours=8), NOW, STEP)
    for k in (0, 30, 60, 96):
        at = NOW - timedelta(hours=8) + STEP * k
        (status,) = slo_status(store, [slo], at)
        for window, value in status.windows.items():
            assert bt.error_ratio[window][k] == pytest.approx(value.error_ratio, rel=1e-12)
    # One incident of 2 hours: paged once, the page condition starting after it began.
    runs = bt.severity_runs("page")
    assert len(runs) == 1
    assert runs[0][0] == int((NOW - timedelta(hours=5) + STEP - datetime(1970, 1, 1)).total_seconds() * 1000)


def test_sloth_factors_scale_with_the_period():
    assert [
        burn_factor(timedelta(days=30), lw, s)
        for lw, s in (
            (timedelta(hours=1), 0.02),
            (timedelta(hours=6), 0.05),
            (timedelta(days=1), 0.1),
            (timedelta(days=3), 0.1),
        )
    ] == [14.4, 6, 3, 1]
    slo = ratio_slo(window="28d")
    assert [c.factor for c in slo_alert_conditions(slo)] == pytest.approx([13.44, 5.6, 2.8, 0.933333333])
    off = ratio_slo(alerting={"ticket": False, "labels": {"team": "ml"}})
    conditions = slo_alert_conditions(off)
    assert [c.severity for c in conditions] == ["page", "page"]
    assert conditions[0].labels["team"] == "ml" and conditions[0].labels["severity"] == "page"


def test_alert_engine_interface_evaluates_conditions_at_now(store):
    from console.slo.status import evaluate_alert_conditions

    feed(store, 31, 1000, lambda ts: [500 if t > NOW - timedelta(hours=2) else 0 for t in ts])
    slo = ratio_slo(labels={"team": "ml"}, alerting={"ticket": False})
    results = evaluate_alert_conditions(store, [slo], NOW)
    assert [(c.name, held) for c, _, held, _ in results] == [("avail:page:1h", True), ("avail:page:6h", True)]
    condition, labels, _, burn = results[0]
    assert labels["slo"] == "avail" and labels["severity"] == "page" and labels["team"] == "ml"
    assert burn == pytest.approx(500) and condition.threshold == pytest.approx(0.0144)
    # An hour earlier nothing burned yet.
    assert not any(
        held for _, _, held, _ in evaluate_alert_conditions(store, [slo], NOW - timedelta(hours=2))
    )


def test_a_copied_slo_works_out_its_own_conditions() -> None:
    """Conditions are kept per SLO between refreshes; a changed copy does not reuse them."""
    slo = SLO.model_validate(
        {"name": "x", "objective": 99.9, "sli": {"ratio": {"bad": "errors_total", "total": "requests_total"}}}
    )
    before = [c.threshold for c in slo_alert_conditions(slo)]
    looser = slo.model_copy(update={"objective": 99.0})
    assert [c.threshold for c in slo_alert_conditions(looser)] == pytest.approx([t * 10 for t in before])
    assert [c.threshold for c in slo_alert_conditions(slo)] == before
