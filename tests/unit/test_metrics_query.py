"""The `:metrics` query: PromQL over the view's range, as Prometheus's query_range answers it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.screens.metrics import ACCEPTED, QueryError, evaluate, parse_query
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


def test_reads_promql_and_the_views_range():
    q = parse_query("sum by (service, code) (increase(x[1h])) [6h]")
    assert (q.text, q.range, q.unit) == (
        "sum by (service, code) (increase(x[1h]))",
        6 * 60 * M,
        "increase per 1h",
    )
    assert parse_query("rate(http_requests_total[5m])").unit == "per second"
    assert parse_query("avg(rate(x[5m])) by (code) [2h]").range == 2 * 60 * M  # PromQL's by after
    assert parse_query("max_over_time(rate(x[1m])[10m:1m])").range is None  # a subquery, not a range
    assert parse_query("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))").expr is not None
    bare = parse_query('x{code=~"5.."} [1h]')
    assert (bare.expr, bare.range) == (None, 60 * M)  # drawn from its samples


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("foo(", "parse error"),
        ("sum(rate(x[5m]))) by (code)", "parse error"),
        ("holt_winters(x[5m], 0.5, 0.1)", "unknown function"),
        ("timestamp(x)", "timestamp() is not supported"),
        ("rate(x)", "parse error"),
        ("rate(x[5m]) [-1h]", "range"),
    ],
)
def test_a_bad_query_says_what_is_wrong_and_what_is_accepted(text, why):
    with pytest.raises(QueryError) as err:
        parse_query(text)
    message = str(err.value)
    assert why in message and message.endswith(ACCEPTED) and "\n" not in message


def test_rate_over_a_counter_with_a_reset_is_prometheus_rate(store):
    series = evaluate(store, parse_query('rate(req_total{service="a"}[5m])'), NOW - 4 * M, NOW, points=4)
    assert [s.labels for s in series] == [{"instance": "1", "service": "a"}]
    points = dict(series[0].points)
    # at NOW the closed 5m window holds all five samples 100, 160, 220, 40, 100: the reset adds
    # back 220; the first sample is one interval from the window's start, so it extrapolates by it
    assert points[NOW] == pytest.approx(220 / 240)
    # one minute earlier: 100, 160, 220, 40 (an increase of 160 over 180 s), the window starts two
    # intervals before the first sample: extrapolated by half an interval at each end
    assert points[NOW - M] == pytest.approx(160 * (180 + 30) / 180 / 300)


def test_an_aggregation_sums_the_per_series_values(store):
    (total,) = evaluate(store, parse_query("sum(rate(req_total[5m]))"), NOW - 2 * M, NOW, points=2)
    assert total.labels == {} and dict(total.points)[NOW] == pytest.approx(
        220 / 240 + 480 / 300
    )  # b starts at 0: no extrapolation before zero
    by = evaluate(store, parse_query("max by (service) (increase(req_total[5m]))"), NOW - M, NOW, points=1)
    assert [s.labels for s in by] == [{"service": "a"}, {"service": "b"}]
    assert dict(by[1].points)[NOW] == pytest.approx(480.0)


def test_a_query_prometheus_refuses_is_an_error_not_an_empty_chart(store):
    with pytest.raises(ValueError, match="many-to-many matching not allowed"):
        evaluate(store, parse_query("req_total + on(instance) req_total"), NOW - M, NOW, points=1)


@pytest.mark.parametrize(
    ("expr", "line"),
    [
        ("sum by (model) (rate(x[5m])) / sum by (model) (rate(y[5m])) > 0.01", (">", 0.01)),
        ("(up == 0)", ("==", 0.0)),
        ("rate(x[5m]) > bool 1", None),  # bool: 0 or 1, no line to draw
        ("1 < rate(x[5m])", None),
        ("rate(x[5m])", None),
    ],
)
def test_a_promql_rules_threshold_is_its_trailing_comparison(expr, line):
    from console.rules.promql import parse
    from console.screens.metrics import promql_threshold

    assert promql_threshold(parse(expr)) == line
