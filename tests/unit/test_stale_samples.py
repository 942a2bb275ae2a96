"""A sample whose value is NULL is a stale marker: the rule helpers do not count it, sum it
or take it for a counter reset, and a series whose newest sample is one has no `last`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.rules.evaluation import evaluate
from console.rules.model import Rule, Threshold
from console.screens.metrics import evaluate as metrics_evaluate
from console.screens.metrics import parse_query
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)
NAN = float("nan")


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    series = {
        # a counter that went stale for a minute and came back: 10 -> 12 -> (stale) -> 15
        "back": [(4, 10.0), (3, 12.0), (2, None), (1, 15.0)],
        # a gauge whose target went away a minute ago
        "gone": [(4, 7.0), (3, 8.0), (1, None)],
        # a gauge that is still there
        "here": [(4, 1.0), (3, 2.0), (1, 3.0)],
    }
    rows = [
        ("jobs", canonical_labels({"pod": pod}), NOW - minutes * M, value)
        for pod, samples in series.items()
        for minutes, value in samples
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def _by_pod(store, expr, batched):
    (result,) = evaluate(store, [Rule("R", expr)], NOW, batched=batched)
    assert result.error is None
    return {i.labels.get("pod", ""): round(i.value, 6) for i in result.instances}


def test_the_marker_is_stored_as_null(store):
    _, rows = store.query("SELECT count(*) FROM samples WHERE value IS NULL")
    assert rows == [(2,)]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one by one"])
@pytest.mark.parametrize(
    "fn,expected",
    [
        ("count", {"back": 3, "gone": 2, "here": 3}),
        ("sum", {"back": 37.0, "gone": 15.0, "here": 6.0}),
        ("avg", {"back": 37 / 3, "gone": 7.5, "here": 2.0}),
        ("min", {"back": 10.0, "gone": 7.0, "here": 1.0}),
        ("max", {"back": 15.0, "gone": 8.0, "here": 3.0}),
        # the newest sample of `gone` is a marker: the series is gone, no value
        ("last", {"back": 15.0, "here": 3.0}),
        # 10 -> 12 -> 15 over 3 minutes: 5, no reset at the marker (it is not a value)
        ("increase", {"back": 5 / 180 * 300, "gone": 1 / 60 * 300, "here": 2 / 180 * 300}),
        ("rate", {"back": 5 / 180, "gone": 1 / 60, "here": 2 / 180}),
    ],
)
def test_helpers_skip_stale_markers(store, fn, expected, batched):
    expected = {pod: round(value, 6) for pod, value in expected.items()}
    assert _by_pod(store, Threshold("jobs", fn, 5 * M, ">", -1), batched) == expected
    sql = f"SELECT * FROM {{{{ {fn}('jobs', '5m') }}}}"
    assert _by_pod(store, sql, batched) == expected


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one by one"])
def test_a_group_of_gone_series_has_no_row(store, batched):
    expr = Threshold('jobs{pod="gone"}', "last", 5 * M, ">", -1, [])
    assert _by_pod(store, expr, batched) == {}
    expr = Threshold('jobs{pod="gone"}', "quantile", 2 * M, ">", -1, [], q=0.5)
    assert _by_pod(store, expr, batched) == {}
    # `last` summed by a label: the gone series adds nothing to its group
    assert _by_pod(store, Threshold("jobs", "last", 5 * M, ">", -1, []), batched) == {"": 18.0}


def test_metrics_screen_shows_no_number_for_a_marker(store):
    query = parse_query('last_over_time(jobs{pod="gone"}[2m])')
    (series,) = metrics_evaluate(store, query, NOW - 3 * M, NOW, points=4)
    # from the marker (NOW - 1m) on, the series is gone: no point, never a NULL drawn as a number
    assert series.points and max(t for t, _ in series.points) < NOW - M
    assert {v for _, v in series.points} == {8.0}
    raw = metrics_evaluate(store, parse_query('jobs{pod="gone"}'), NOW - 5 * M, NOW)
    assert [v for s in raw for _, v in s.points if v is not None] == [7.0, 8.0]


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_oncall_query_prints_a_marker_as_no_value(tmp_path, oncall, fmt):
    with Store.open(tmp_path / "s.duckdb") as store:
        rows = [
            ("up", canonical_labels({"job": "api"}), NOW - M, 1.0),
            ("up", canonical_labels({"job": "api"}), NOW, None),
        ]
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    sql = "SELECT ts, value FROM samples ORDER BY ts"
    done = oncall("query", sql, "--store", str(tmp_path / "s.duckdb"), "--format", fmt)
    assert done.returncode == 0, done.stderr
    # the marker's row has an empty value: never a number, NaN or None
    last = done.stdout.strip().splitlines()[-1] if fmt != "json" else ""
    assert "nan" not in done.stdout.lower() and "none" not in done.stdout.lower()
    if fmt == "table":
        assert last.split() == ["2026-03-01", "12:00:00"]
    elif fmt == "csv":
        assert last == "2026-03-01T12:00:00Z,"
    else:
        assert [row["value"] for row in json.loads(done.stdout)] == [1.0, None]
