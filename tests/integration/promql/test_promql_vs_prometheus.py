"""PromQL compiled to SQL against a real Prometheus 2.x on the same samples: every answer of
`query_range` equal — label sets, presence at each step, values within 1e-9 relative."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from console.rules.promql import parse, query_range
from tests.servers import prometheus_query_range as prometheus_range

from .conftest import HOURS, START

pytestmark = pytest.mark.integration

FROM = START + timedelta(minutes=7, seconds=30)
TO = START + timedelta(hours=HOURS) + timedelta(minutes=10)  # past the last sample: staleness at the end
STEPS = (timedelta(seconds=60), timedelta(seconds=47))

CORPUS = [
    # selectors: every matcher kind, offset, @
    "http_requests_total",
    'http_requests_total{code="500"}',
    'http_requests_total{code!="500", instance=~"a|c"}',
    'http_requests_total{instance!~"a.*"}',
    '{__name__=~"temperature_.*"}',
    'temperature_celsius{room=""}',
    "temperature_celsius offset 10m",
    "temperature_celsius @ 1772441400",
    "temperature_celsius @ start()",
    'temperature_celsius{room="attic"}',  # a gap longer than the lookback
    # counters: resets inside windows, series born and ending inside the window
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1h])",
    "increase(http_requests_total[10m])",
    "increase(http_requests_total[1m])",
    "irate(http_requests_total[5m])",
    "resets(http_requests_total[30m])",
    "rate(http_requests_total[5m] offset 5m)",
    "rate(http_requests_total[5m] @ 1772443800)",
    "delta(temperature_celsius[15m])",
    "idelta(temperature_celsius[5m])",
    "changes(queue_depth[10m])",
    "deriv(disk_free_bytes[30m])",
    "predict_linear(disk_free_bytes[1h], 3600)",
    "predict_linear(temperature_celsius[10m], 600) > 20",
    # *_over_time
    "avg_over_time(temperature_celsius[10m])",
    "min_over_time(temperature_celsius[10m])",
    "max_over_time(temperature_celsius[10m])",
    "sum_over_time(queue_depth[5m])",
    "count_over_time(temperature_celsius[7m])",
    "last_over_time(temperature_celsius[20m])",
    "quantile_over_time(0.9, temperature_celsius[30m])",
    "stddev_over_time(temperature_celsius[30m])",
    "stdvar_over_time(queue_depth[30m])",
    "present_over_time(temperature_celsius[3m])",
    'absent_over_time(temperature_celsius{room="attic"}[3m])',
    'absent(http_requests_total{instance="c", job="api"})',
    'absent(nonexistent{job="x"})',
    # histograms: unsorted le text, +Inf only
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(request_duration_seconds_bucket[10m]))",
    "histogram_quantile(0.99, sum by (instance, le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(1.5, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(0.5, only_inf_bucket)",
    # math and clamps
    "abs(delta(temperature_celsius[5m]))",
    "round(temperature_celsius)",
    "round(temperature_celsius, 0.5)",
    "clamp(temperature_celsius, 19, 21)",
    "clamp_min(queue_depth, 2)",
    "clamp_max(queue_depth, 2)",
    "ceil(temperature_celsius) - floor(temperature_celsius)",
    "sqrt(queue_depth) + ln(queue_depth + 1)",
    "time() - 1772440000",
    "vector(1)",
    "scalar(sum(queue_depth))",
    "queue_depth * scalar(count(queue_depth))",
    'label_replace(queue_depth, "host", "h-$1", "instance", "(.*)")',
    'label_replace(queue_depth, "queue", "", "instance", "a")',
    'label_join(build_info, "id", "/", "instance", "version")',
    # aggregations
    "sum(rate(http_requests_total[5m]))",
    "sum by (code) (rate(http_requests_total[5m]))",
    "sum without (instance) (rate(http_requests_total[5m]))",
    "avg by (queue) (queue_depth)",
    "min by (queue) (queue_depth)",
    "max(queue_depth)",
    "count by (queue) (queue_depth)",
    'count_values("depth", queue_depth)',
    "topk(1, queue_depth)",
    "topk(2, temperature_celsius)",
    "topk(2, queue_depth)",
    "bottomk(3, queue_depth)",
    "topk by (queue) (2, queue_depth)",
    "bottomk(1, queue_depth)",
    "topk(1, sum by (instance) (rate(http_requests_total[5m])))",
    "quantile(0.5, queue_depth)",
    "quantile by (queue) (0.25, queue_depth)",
    "stddev(temperature_celsius)",
    "stdvar by (queue) (queue_depth)",
    "group by (job) (http_requests_total)",
    "sum by (nonexistent) (queue_depth)",
    # binary operators: scalars, bool, matching
    "queue_depth > 2",
    "queue_depth > bool 2",
    "2 < queue_depth",
    "queue_depth == 3",
    "queue_depth != bool 3",
    "queue_depth / 0",
    "-queue_depth % 4",
    "2 ^ queue_depth",
    "1 + 2 * 3",
    "queue_depth > 10 or vector(0)",
    'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))',
    'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > 0.03',
    "rate(http_requests_total[5m]) / ignoring(code) group_left sum without (code) (rate(http_requests_total[5m]))",
    "rate(http_requests_total[5m]) * on(instance) group_left(version) build_info",
    "build_info * on(instance) group_right(version) rate(http_requests_total[5m])",
    "queue_depth and on(instance) build_info",
    "queue_depth unless on(instance) build_info",
    "queue_depth or temperature_celsius",
    "queue_depth > 3 or queue_depth < 1",
    "rate(http_requests_total[5m]) > on(instance, code) group_left rate(http_requests_total[5m] offset 10m)",
    "temperature_celsius > bool on(room) avg_over_time(temperature_celsius[30m])",
    # subqueries
    "max_over_time(rate(http_requests_total[1m])[10m:1m])",
    "avg_over_time(sum(queue_depth)[15m:30s])",
    "min_over_time(temperature_celsius[20m:])",
    "rate(sum(http_requests_total)[10m:2m])",
]


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60
    assert len(set(CORPUS)) == len(CORPUS)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"step{int(s.total_seconds())}s")
@pytest.mark.parametrize("expr", CORPUS)
def test_same_answer_as_prometheus(peer, expr: str, step: timedelta) -> None:
    theirs = {
        tuple(sorted(r["metric"].items())): [(float(t), float(v)) for t, v in r["values"]]
        for r in prometheus_range(peer.prometheus, expr, FROM, TO, step)
    }
    cur = peer.store.cursor()
    try:
        ours = query_range(cur, parse(expr), FROM, TO, step)
    finally:
        cur.close()
    assert theirs, f"Prometheus gives nothing for {expr}: the case tests nothing"
    assert sorted(ours) == sorted(theirs), "label sets differ"
    for labels, points in theirs.items():
        mine = ours[labels]
        assert [t for t, _ in mine] == [t for t, _ in points], f"presence differs for {dict(labels)}"
        bad = [(t, a, b) for (t, a), (_, b) in zip(mine, points) if not _close(a, b)]
        assert not bad, f"{dict(labels)}: first differences (t, ours, Prometheus) {bad[:3]}"


REFUSED = [
    "http_requests_total + on(instance) http_requests_total",  # many-to-many
    "queue_depth * on(queue) group_left build_info",  # the "one" side is not unique
    "rate(http_requests_total[5m]) + ignoring(code) rate(http_requests_total[5m])",  # one-to-one, two matches
]


@pytest.mark.parametrize("expr", REFUSED)
def test_refused_as_prometheus_refuses(peer, expr: str) -> None:
    import httpx

    from console.rules.promql import PromQLEvalError

    from .conftest import epoch

    body = httpx.get(
        peer.prometheus.url + "/api/v1/query_range",
        params={"query": expr, "start": epoch(FROM), "end": epoch(TO), "step": 60},
        timeout=120,
    ).json()
    assert body["status"] == "error", body
    cur = peer.store.cursor()
    try:
        with pytest.raises(PromQLEvalError) as caught:
            query_range(cur, parse(expr), FROM, TO, timedelta(seconds=60))
    finally:
        cur.close()
    import re

    def shape(text: str) -> str:  # which match group is reported first is not part of the contract
        return re.sub(r"\{[^{}]*\}", "{…}", text.split(";")[0].split(": [")[0])

    assert shape(str(caught.value)) == shape(body["error"].split("): ", 1)[-1])


@pytest.mark.parametrize("minutes", [30, 95, 183])
def test_one_batch_of_the_corpus_answers_like_instant_queries(peer, minutes: int) -> None:
    """Rules are evaluated together in one query (shared selectors read once): each answer is
    still Prometheus's answer to that expression alone."""
    import httpx

    from console.rules.promql import instant_many

    from .conftest import epoch

    at = START + timedelta(minutes=minutes)
    cur = peer.store.cursor()
    try:
        answers = instant_many(cur, [parse(e) for e in CORPUS], at)
    finally:
        cur.close()
    for expr, answer in zip(CORPUS, answers, strict=True):
        body = httpx.get(
            peer.prometheus.url + "/api/v1/query", params={"query": expr, "time": epoch(at)}, timeout=60
        ).json()
        assert body["status"] == "success" and not isinstance(answer, Exception), (expr, answer)
        kind, samples = answer
        data = body["data"]
        if data["resultType"] == "scalar":
            assert kind == "scalar" and _close(samples[0].value, float(data["result"][1])), expr
            continue
        theirs = {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in data["result"]}
        ours = {tuple(sorted(s.labels.items())): s.value for s in samples}
        assert sorted(ours) == sorted(theirs), expr
        assert all(_close(ours[k], v) for k, v in theirs.items()), expr


# Rules of one shape, as a team writes them per service or threshold: each group shares one
# compiled query with its matchers, windows and thresholds as data (console/rules/promql/shapes.py).
SHAPED = [
    'rate(http_requests_total{code="500"}[5m]) > 0.1',
    'rate(http_requests_total{code="200"}[10m]) > 15',
    'rate(http_requests_total{instance=~"a|b"}[1h]) > 0',
    "rate(http_requests_total[2m]) > 100",
    'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m])) > 0.01',
    'sum by (instance) (rate(http_requests_total{code="200"}[15m])) / sum by (instance) (rate(http_requests_total[15m])) > 0.5',
    'sum by (instance) (rate(http_requests_total{code="500"}[1h])) / sum by (instance) (rate(http_requests_total[30m])) > 0.02',
    'increase(http_requests_total{instance="a"}[10m]) >= 5',
    'increase(http_requests_total{instance="b"}[1m]) >= 1',
    'irate(http_requests_total{code="500"}[5m]) > 0',
    'irate(http_requests_total{code="200"}[2m]) > 19',
    'resets(http_requests_total{instance="b"}[30m]) > 0',
    'resets(http_requests_total{instance!="b"}[1h]) > 0',
    'changes(queue_depth{queue="q1"}[10m]) > 2',
    "changes(queue_depth[20m]) > 5",
    'delta(temperature_celsius{room="kitchen"}[15m]) < 0',
    "delta(temperature_celsius[5m]) < 1",
    'idelta(temperature_celsius{room=~"k.*|h.*"}[5m]) > -1',
    "idelta(temperature_celsius[3m]) > 0",
    'max by (room) (avg_over_time(temperature_celsius{room=~"k.*"}[10m])) > 20',
    "max by (room) (avg_over_time(temperature_celsius[30m])) > 21",
    'max by (room) (min_over_time(temperature_celsius{room="hall"}[20m])) > 19',  # the aggregate is data too
    "max by (room) (stddev_over_time(temperature_celsius[15m])) > 0.1",
    "max by (room) (stdvar_over_time(temperature_celsius[15m])) > 0.01",
    "max by (room) (count_over_time(temperature_celsius[5m])) > 5",
    "max by (room) (present_over_time(temperature_celsius[2m])) > 0",
    "max by (room) (sum_over_time(temperature_celsius[4m])) > 100",
    'max by (room) (max_over_time(temperature_celsius{room="attic"}[9m])) > 0',
    "quantile_over_time(0.9, temperature_celsius[30m]) > 20",
    'quantile_over_time(0.9, temperature_celsius{room="attic"}[5m]) > 19',
    'sum without (instance) (count_over_time(queue_depth{queue="q1"}[7m])) > 3',
    "sum without (instance) (count_over_time(queue_depth[13m])) > 20",
    'queue_depth{queue="q1"} > 2',
    'queue_depth{queue="q2"} > 4',
    "queue_depth > 10",
    'temperature_celsius{room="attic"} > 0',  # a gap longer than the lookback
    'queue_depth{queue="q1"} > 2 and queue_depth{queue="q1"} < 5',
    'queue_depth{queue="q2"} > 1 and queue_depth{queue="q2"} < 4',
    'queue_depth{queue="q1"} > 2 and queue_depth{queue="q2"} < 5',  # not the same shape as the two above
    'queue_depth{instance="a"} > bool 2',
    'queue_depth{instance="d"} > bool 4',
    'sum by (job) (rate(http_requests_total[5m])) * on(job) group_left build_info{instance="a"} > 0',
    "sum by (job) (rate(http_requests_total[10m])) * on(job) group_left build_info > 0",  # refused
    'topk(2, rate(http_requests_total{code="200"}[5m])) > 1',
    'topk(2, rate(http_requests_total{code="500"}[10m])) > 0.5',
]


@pytest.mark.parametrize("minutes", [30, 95, 183])
def test_rules_of_one_shape_answer_as_prometheus(peer, minutes: int) -> None:
    """A batch where most rules share a shape with others is compiled per shape, and each rule
    still gets Prometheus's answer to it alone — a refused matching in one part refuses that
    rule only."""
    import httpx

    from console.rules.promql import instant_many, shapes

    from .conftest import epoch

    exprs = [parse(e) for e in SHAPED]
    grouped, _ = shapes.groups(exprs)
    assert len(grouped) >= 15 and sum(len(g) for g in grouped) >= 40  # the batch is really shaped
    at = START + timedelta(minutes=minutes)
    cur = peer.store.cursor()
    try:
        answers = instant_many(cur, exprs, at)
    finally:
        cur.close()
    assert sum(1 for a in answers if not isinstance(a, Exception) and a[1]) >= 12  # most rules answer
    for expr, answer in zip(SHAPED, answers, strict=True):
        body = httpx.get(
            peer.prometheus.url + "/api/v1/query", params={"query": expr, "time": epoch(at)}, timeout=60
        ).json()
        if body["status"] != "success":
            assert isinstance(answer, Exception) and "many-to-many" in str(answer), (expr, answer)
            assert "many-to-many" in body["error"], body
            continue
        assert not isinstance(answer, Exception), (expr, answer)
        theirs = {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}
        ours = {tuple(sorted(s.labels.items())): s.value for s in answer[1]}
        assert sorted(ours) == sorted(theirs), expr
        assert all(_close(ours[k], v) for k, v in theirs.items()), expr
