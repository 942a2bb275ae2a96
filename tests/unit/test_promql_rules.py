"""Alerting rules written in PromQL: they load (or say where and what is wrong), and evaluate
on the store as Prometheus would answer them (the differential corpus is in
tests/integration/promql/)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.rules.evaluation import evaluate
from console.rules.loading import load_rule_file
from console.rules.promql import PromQL, PromQLError, looks_like_sql, parse
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
S = timedelta(seconds=1)

ISSUE_RULE = """\
groups:
  - name: models
    rules:
      - alert: ModelErrors
        expr: sum by (model) (rate(model_requests_total{code=~"5.."}[5m])) / sum by (model) (rate(model_requests_total[5m])) > 0.01
        for: 2m
        labels: {severity: page}
"""


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rows = []
    # 10 minutes of 15-second scrapes: model a fails 5 % of its requests, model b 0.5 %
    for k in range(41):
        ts = NOW - (40 - k) * 15 * S
        for model, bad in (("a", 0.05), ("b", 0.005)):
            total = 20.0 * 15 * k
            rows.append(
                (
                    "model_requests_total",
                    canonical_labels({"model": model, "code": "200"}),
                    ts,
                    total * (1 - bad),
                )
            )
            rows.append(
                ("model_requests_total", canonical_labels({"model": model, "code": "500"}), ts, total * bad)
            )
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def test_the_issue_rule_loads_as_promql_and_fires_for_the_failing_model(tmp_path, store):
    path = tmp_path / "rules.yaml"
    path.write_text(ISSUE_RULE)
    loaded = load_rule_file(path)
    assert loaded.problems == []
    (rule,) = loaded.rules
    assert isinstance(rule.expr, PromQL)
    (result,) = evaluate(store, [rule], NOW)
    assert result.error is None
    assert [(i.labels, round(i.value or 0, 9)) for i in result.instances] == [({"model": "a"}, 0.05)]


def test_alert_labels_drop_the_metric_name_which_templates_still_see(store):
    from console.alerts.lifecycle import step

    rule = load_rule_text('model_requests_total{code="500", model="a"} > 0')
    rule.annotations = {"metric": "{{ $labels.__name__ }}"}
    (result,) = evaluate(store, [rule], NOW)
    (alert,), _, _ = step(rule, result, [], NOW)
    assert alert.labels == {"alertname": "A", "code": "500", "model": "a"}
    assert alert.annotations == {"metric": "model_requests_total"}  # as Prometheus: $labels is the sample's


def load_rule_text(expr: str, tmp=None):
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    path = folder / "r.yaml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{expr}'\n")
    loaded = load_rule_file(path)
    assert loaded.problems == [], loaded.problems
    return loaded.rules[0]


@pytest.mark.parametrize(
    "expr, fragment",
    [
        ("holt_winters(x[5m], 0.5, 0.5)", "unknown function"),
        ("timestamp(x)", "timestamp() is not supported"),
        ("sum(rate(x[5m])", "parse error"),
        ("x[5m]", "range vector cannot be the result"),
        ("quantile_over_time(scalar(y), x[5m])", "number literal"),
    ],
)
def test_an_expression_we_cannot_compile_is_a_problem_at_its_line(tmp_path, expr, fragment):
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"groups:\n  - name: g\n    rules:\n      - alert: A\n        for: 1m\n        expr: '{expr}'\n"
    )
    loaded = load_rule_file(path)
    assert loaded.failed and loaded.rules == []
    (problem,) = loaded.problems
    assert problem.line == 6 and fragment in problem.message
    assert problem.key == "expr"


def test_unsupported_constructs_name_their_column():
    with pytest.raises(PromQLError) as caught:
        parse("sum(rate(x[5m])) + timestamp(y)")
    assert str(caught.value) == "function timestamp() is not supported at column 20"


@pytest.mark.parametrize(
    "text, sql",
    [
        ("SELECT 1 AS value", True),
        ("  with t AS (SELECT 1) SELECT * FROM t", True),
        ("-- the errors\nSELECT 1 AS value", True),
        ("SELECT service, value FROM {{ rate('x', '5m') }}", True),
        ("(SELECT 1 AS value)", True),
        ("(rate(x[5m]) > 1)", False),
        ("rate(x[5m]) > 0.1", False),
        ("selections_total > 0", False),
    ],
)
def test_sql_and_promql_are_told_apart(text, sql):
    assert looks_like_sql(text) is sql


def test_a_broken_rule_keeps_the_others_evaluating(store):
    good = load_rule_text("model_requests_total > 0")
    bad = load_rule_text("model_requests_total + on(model) model_requests_total")  # many-to-many
    results = evaluate(store, [bad, good], NOW)
    assert results[1].error is None and len(results[1].instances) == 4
    assert results[0].error == (
        'found duplicate series for the match group {model="a"} on the right hand-side of the operation; '
        "many-to-many matching not allowed: matching labels must be unique on one side"
    )
    assert results[0].instances == []


def test_a_scalar_result_is_one_alert_without_labels_as_in_prometheus(store):
    rule = load_rule_text("scalar(sum(model_requests_total)) > bool 0")
    (result,) = evaluate(store, [rule], NOW)
    assert result.error is None and [(i.labels, i.value) for i in result.instances] == [({}, 1.0)]


def test_a_string_result_is_refused_at_load(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '\"up\"'\n")
    (problem,) = load_rule_file(path).problems
    assert problem.line == 5 and "a string cannot be the result" in problem.message


def test_templates_query_the_store_and_see_the_expressions_labels(store):
    from console.alerts.state import AlertEngine

    rule = load_rule_text('sum by (model) (model_requests_total{model="a"}) > 0')
    rule.labels = {"severity": "page"}
    rule.annotations = {
        "total": '{{ query "sum(model_requests_total)" | first | value | humanize }}',
        "labels": "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
        "cluster": "{{ $externalLabels.cluster }}",
    }
    report = AlertEngine(store, [rule], external_labels={"cluster": "eu-1"}).run(NOW)
    (alert,) = [a for a in report.alerts if a.rule == rule.key]
    assert alert.annotations == {"total": "24k", "labels": "model=a;", "cluster": "eu-1"}


def test_a_series_born_between_cycles_is_seen_at_the_next(store):
    """The series a cycle matched are kept for the next cycle only while the store's series stay
    the same: a model that starts failing after the first cycle pages at the second."""
    rules = [
        load_rule_text('model_requests_total{code="500"} > 1000'),
        load_rule_text("model_requests_total > 1e9"),
    ]
    first = evaluate(store, rules, NOW)
    assert [i.labels for i in first[0].instances] == []
    ingest_samples(
        store,
        pd.DataFrame(
            [("model_requests_total", canonical_labels({"model": "c", "code": "500"}), NOW, 5000.0)],
            columns=["name", "labels", "ts", "value"],
        ),
    )
    second = evaluate(store, rules, NOW)
    assert [i.labels for i in second[0].instances] == [
        {"__name__": "model_requests_total", "code": "500", "model": "c"}
    ]
