"""The `:metrics` query: PromQL-spelled rule functions, read and evaluated as range series."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.rules.evaluation import evaluate as evaluate_rules
from console.rules.model import Rule, Threshold
from console.screens.metrics import ACCEPTED, Query, QueryError, evaluate, parse_query
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    counters = {
        ("a", "1"): [100, 160, 220, 40, 100],  # a reset between minutes 2 and 3
        ("b", "1"): [0, 120, 240, 360, 480],
    }
    rows = [
        ("req_total", canonical_labels({"service": s, "instance": i}), NOW - (4 - k) * M, float(x))
        for (s, i), values in counters.items()
        for k, x in enumerate(values)
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def test_reads_the_forms_rules_accept():
    assert parse_query("rate(http_requests_total[5m])") == Query("http_requests_total", "rate", 5 * M)
    assert parse_query('quantile_over_time(0.9, lat{job="api"}[10m]) [1h]') == Query(
        'lat{job="api"}', "quantile", 10 * M, 0.9, range=timedelta(hours=1)
    )
    q = parse_query("sum by (service, code) (increase(x[1h])) [6h]")
    assert (q.agg, q.by, q.fn, q.window, q.range) == (
        "sum",
        ("service", "code"),
        "increase",
        60 * M,
        6 * 60 * M,
    )
    assert parse_query("max(avg_over_time(x[5m]))").agg == "max"
    assert parse_query("avg(rate(x[5m])) by (code) [2h]") == Query(
        "x", "rate", 5 * M, agg="avg", by=("code",), range=2 * 60 * M
    )  # PromQL's by after the aggregation
    assert parse_query('x{code=~"5.."} [1h]') == Query('x{code=~"5.."}', range=60 * M)  # the old syntax


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("foo(", "unbalanced parentheses"),
        ("sum(rate(x[5m]))) by (code)", "unbalanced parentheses"),
        ("sum by (a-b) (rate(x[5m]))", "bad label name 'a-b'"),
        ("histogram_quantile(0.9, x[5m])", "'histogram_quantile' is not supported"),
        ("rate(x)", "rate needs a window"),
        ("rate(x[5q])", "bad window"),
        ("quantile_over_time(x[5m])", "needs a quantile"),
        ("sum(x)", "needs a function"),
        ("rate(x[5m]) [-1h]", "range"),
    ],
)
def test_a_bad_query_says_what_is_wrong_and_what_is_accepted(text, why):
    with pytest.raises(QueryError) as err:
        parse_query(text)
    message = str(err.value)
    assert why in message and message.endswith(ACCEPTED) and "\n" not in message


def test_rate_over_a_counter_with_a_reset_matches_the_rule_engine(store):
    series = evaluate(store, parse_query('rate(req_total{service="a"}[5m])'), NOW - 4 * M, NOW, points=4)
    assert [s.labels for s in series] == [{"instance": "1", "service": "a"}]
    points = dict(series[0].points)
    # at NOW: increases 60, 60, reset (40 counted whole), 60 over 240 s
    assert points[NOW] == pytest.approx(220 / 240)
    # one minute earlier the window holds 100, 160, 220, 40: 60 + 60 + 40 over 180 s
    assert points[NOW - M] == pytest.approx(160 / 180)
    for t, value in points.items():
        rule = Rule("r", Threshold('req_total{service="a"}', "rate", 5 * M, ">=", 0))
        (instance,) = evaluate_rules(store, [rule], t)[0].instances
        assert instance.value == pytest.approx(value), t


def test_an_aggregation_sums_the_per_series_values(store):
    (total,) = evaluate(store, parse_query("sum(rate(req_total[5m]))"), NOW - 2 * M, NOW, points=2)
    assert total.labels == {} and dict(total.points)[NOW] == pytest.approx(220 / 240 + 2.0)
    by = evaluate(store, parse_query("max by (service) (increase(req_total[5m]))"), NOW - M, NOW, points=1)
    assert [s.labels for s in by] == [{"service": "a"}, {"service": "b"}]
    assert dict(by[1].points)[NOW] == pytest.approx(600.0)
