"""Collecting a canary's values from the store: one series per version, errors said per metric."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from console.canary.collect import CanaryError, collect, resolve
from console.canary.judge import judge
from console.registry import RegistryError
from console.store import Store
from tests.canary_data import NOW, add_series, noisy, seed_registry, spec


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        yield opened


def _latency_spec(query: str = "latency_seconds", **overrides):
    return spec(metrics=[{"name": "latency", "query": query}], **overrides)


def test_each_version_gives_its_own_group_in_time_order(store):
    baseline, canary = noisy(0.1, seed=1), noisy(0.2, seed=2)
    add_series(store, "latency_seconds", {"version": "3"}, baseline)
    add_series(store, "latency_seconds", {"version": "4"}, canary)
    add_series(store, "latency_seconds", {"version": "2"}, noisy(9.0))  # neither group
    values, errors = collect(store, _latency_spec(), "3", "4", NOW)
    assert errors == {}
    got_baseline, got_canary = values["latency"]
    # [now - 1h, now] at 1m: 61 steps, each the sample stored at that minute
    np.testing.assert_array_equal(got_baseline, baseline[-61:])
    np.testing.assert_array_equal(got_canary, canary[-61:])


def test_interval_and_lookback_set_the_grid(store):
    add_series(store, "latency_seconds", {"version": "3"}, np.arange(120.0))
    add_series(store, "latency_seconds", {"version": "4"}, np.arange(120.0) + 1000)
    values, _ = collect(store, _latency_spec(interval="5m", lookback="30m"), "3", "4", NOW)
    np.testing.assert_array_equal(values["latency"][0], np.arange(89.0, 120.0, 5))


def test_several_series_in_a_group_is_that_metrics_error(store):
    for instance in ("a", "b", "c"):
        add_series(store, "latency_seconds", {"version": "4", "instance": instance}, noisy(0.2))
    add_series(store, "latency_seconds", {"version": "3", "instance": "a"}, noisy(0.1))
    add_series(store, "error_ratio", {"version": "3"}, noisy(0.01))
    add_series(store, "error_ratio", {"version": "4"}, noisy(0.01, seed=3))
    two = spec(
        metrics=[
            {"name": "latency", "query": "latency_seconds"},
            {"name": "errors", "query": "error_ratio"},
        ]
    )
    values, errors = collect(store, two, "3", "4", NOW)
    assert errors == {"latency": "gives 3 series for version=4: aggregate by (version)"}
    assert set(values) == {"errors"}  # the other metric is still collected
    aggregated, errors = collect(store, _latency_spec("sum by (version) (latency_seconds)"), "3", "4", NOW)
    assert errors == {} and len(aggregated["latency"][1]) == 61


def test_a_missing_group_and_a_missing_label_say_so(store):
    add_series(store, "latency_seconds", {"version": "3"}, noisy(0.1))
    _, errors = collect(store, _latency_spec(), "3", "4", NOW)
    assert errors == {"latency": "no series for version=4 over the last 1h (series found: version=3)"}
    _, errors = collect(store, _latency_spec("sum(latency_seconds)"), "3", "4", NOW)
    assert errors["latency"].startswith("its series carry no 'version' label")


def test_absent_steps_give_no_value_and_nan_stays_nan_for_the_judge(store):
    canary = noisy(0.2, n=31)
    canary[[3, 7]] = math.nan
    add_series(store, "latency_seconds", {"version": "3"}, noisy(0.1))
    # the canary's samples stop 30 minutes before now: the 5m lookback carries the last one
    # through 5 more steps, then its steps have no value
    add_series(store, "latency_seconds", {"version": "4"}, canary, end=NOW - timedelta(minutes=30))
    values, errors = collect(store, _latency_spec(), "3", "4", NOW)
    assert errors == {}
    got = values["latency"][1]
    assert len(got) == 31 + 5
    assert np.isnan(got[[3, 7]]).all() and np.isnan(got).sum() == 2
    analysis = judge(_latency_spec(), values, at=NOW, baseline_version="3", canary_version="4")
    assert (analysis.metrics[0].n_baseline, analysis.metrics[0].n_canary) == (61, 34)


def test_a_query_that_fails_at_evaluation_or_merges_series_is_an_error(store):
    for instance in ("a", "b"):
        add_series(store, "latency_seconds", {"version": "3", "instance": instance}, noisy(0.1))
    add_series(store, "latency_seconds", {"version": "4", "instance": "a"}, noisy(0.2))
    _, errors = collect(store, _latency_spec("latency_seconds + on(version) latency_seconds"), "3", "4", NOW)
    assert errors["latency"].startswith("query failed: found duplicate series for the match group")
    merged = 'label_replace(latency_seconds, "instance", "x", "instance", ".*")'
    _, errors = collect(store, _latency_spec(merged), "3", "4", NOW)
    assert errors == {
        "latency": "gives several series with the same labels for version=3: aggregate by (version)"
    }


def test_resolve_reads_aliases_through_the_registry_and_numbers_as_they_are(store):
    registry = seed_registry(store)
    assert resolve(registry, spec()) == ("3", "4")
    assert resolve(registry, spec(baseline="2", canary="canary")) == ("2", "4")
    with pytest.raises(RegistryError, match="canary 'challenger' is neither a version nor an alias"):
        resolve(registry, spec(canary="challenger"))
    registry.set_alias("fraud-detector", "canary", "3")
    with pytest.raises(CanaryError, match="are both v3 of fraud-detector: nothing to compare"):
        resolve(registry, spec())


SQL_LATENCY = """
    SELECT x.ts, json_extract_string(s.labels, '$.version') AS version, x.value
    FROM samples x JOIN series s ON s.id = x.series_id
    WHERE s.name = 'latency_seconds' AND x.ts > $start AND x.ts <= $end
"""


def test_a_sql_metric_gives_the_same_groups_as_its_promql_twin(store):
    baseline, canary = noisy(0.1, seed=1), noisy(0.2, seed=2)
    add_series(store, "latency_seconds", {"version": "3"}, baseline)
    add_series(store, "latency_seconds", {"version": "4"}, canary)
    both = spec(metrics=[{"name": "promql", "query": "latency_seconds"}, {"name": "sql", "sql": SQL_LATENCY}])
    values, errors = collect(store, both, "3", "4", NOW)
    assert errors == {}
    # the PromQL grid's first step is `now - lookback` itself; the sql window is (start, end]
    np.testing.assert_array_equal(values["sql"][0], values["promql"][0][1:])
    np.testing.assert_array_equal(values["sql"][1], canary[-60:])


def test_a_sql_metric_with_two_rows_in_one_interval_says_to_aggregate(store):
    add_series(store, "latency_seconds", {"version": "3"}, noisy(0.1))
    add_series(store, "latency_seconds", {"version": "4"}, noisy(0.2))
    coarse = spec(metrics=[{"name": "sql", "sql": SQL_LATENCY}], interval="5m")
    values, errors = collect(store, coarse, "3", "4", NOW)
    assert values == {}
    assert errors["sql"].startswith("sql gives several rows for version=")
    assert "aggregate with time_bucket" in errors["sql"]


def test_a_sql_metric_that_fails_is_one_line_and_runs_only_as_a_query(store):
    add_series(store, "latency_seconds", {"version": "3"}, noisy(0.1))
    broken = spec(metrics=[{"name": "sql", "sql": "SELECT nope FROM nowhere"}])
    _, errors = collect(store, broken, "3", "4", NOW)
    assert errors["sql"].startswith("sql failed: ") and "\n" not in errors["sql"]
    assert "ts, version, value" in errors["sql"]
    deleting = spec(metrics=[{"name": "sql", "sql": "DELETE FROM samples"}])
    _, errors = collect(store, deleting, "3", "4", NOW)
    assert errors["sql"].startswith("sql failed: ")
    assert store.query("SELECT count(*) FROM samples")[1] == [(120,)]  # nothing deleted


@pytest.mark.parametrize(
    "metric",
    [
        {"name": "both", "query": "latency_seconds", "sql": "SELECT 1"},
        {"name": "neither"},
        {"name": "two", "sql": "SELECT 1; DROP TABLE samples"},
    ],
    ids=["both", "neither", "two-statements"],
)
def test_a_metric_names_exactly_one_query(metric):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        spec(metrics=[metric])
