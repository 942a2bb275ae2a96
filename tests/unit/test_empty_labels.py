"""An empty label value is no label, as in Prometheus: in rule results, in an alert's
rendered labels and fingerprint, and in the store's series."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pandas as pd
import pytest

from collectors.scrape import ScrapeCollector, ScrapeOptions
from console.alerts.lifecycle import fingerprint, step
from console.rules.evaluation import Instance, RuleResult, evaluate
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rows = [
        ("errors", canonical_labels({"svc": "api", "pod": "p1"}), NOW - M, 3.0),
        ("errors", canonical_labels({"pod": "p2"}), NOW - M, 4.0),  # no svc label at all
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def _labelsets(result: RuleResult) -> list[dict[str, str]]:
    assert result.error is None
    return sorted((i.labels for i in result.instances), key=lambda labels: sorted(labels.items()))


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one by one"])
@pytest.mark.parametrize(
    "expr",
    [
        Threshold("errors", "sum", 5 * M, ">", 0, ["svc"]),
        "SELECT * FROM {{ sum('errors', '5m', by=['svc']) }}",
    ],
    ids=["threshold", "sql helper"],
)
def test_sum_by_a_label_some_series_lack_gives_the_empty_label_set(store, expr, batched):
    (result,) = evaluate(store, [Rule("R", expr)], NOW, batched=batched)
    assert _labelsets(result) == [{}, {"svc": "api"}]
    assert sorted(i.value for i in result.instances) == [3.0, 4.0]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one by one"])
def test_sql_rows_with_empty_or_null_label_columns_have_no_such_label(store, batched):
    sql = (
        "SELECT 'a' AS team, '' AS owner, NULL AS region, "
        """'{"zone":"","rack":"r1"}' AS _labels, 1.0 AS value"""
    )
    (result,) = evaluate(store, [Rule("R", sql)], NOW, batched=batched)
    assert _labelsets(result) == [{"team": "a", "rack": "r1"}]


def test_a_rule_label_that_renders_empty_is_removed_and_the_fingerprint_ignores_it():
    rule = Rule(
        "Down",
        "SELECT 1.0 AS value",
        group="g",
        labels={"owner": "{{ $labels.owner }}", "pod": "{{ $labels.missing }}", "severity": "page"},
    )
    # the instance has an empty `zone` and a `pod` the rule's label renders empty over
    result = RuleResult(rule, [Instance({"svc": "api", "zone": "", "pod": "p1"}, 1.0)])
    (alert,), _, _ = step(rule, result, [], NOW)
    assert alert.labels == {"svc": "api", "severity": "page", "alertname": "Down"}
    assert alert.fingerprint == fingerprint("g/Down", {"svc": "api", "severity": "page", "alertname": "Down"})
    assert fingerprint("g/Down", {"a": "1", "b": ""}) == fingerprint("g/Down", {"a": "1"})


def test_a_series_with_an_empty_label_is_the_series_without_it(store):
    assert canonical_labels({"a": "1", "b": "", "c": None}) == '{"a":"1"}'
    # a writer that hands the store JSON with an empty value lands in the same series
    rows = [
        ("up", '{"job":"api","zone":""}', NOW - 2 * M, 1.0),
        ("up", '{"job":"api"}', NOW - M, 0.0),
        ("up", '{"job":"api","zone":null}', NOW, 1.0),
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    series = store.query(
        "SELECT labels, (SELECT count(*) FROM samples x WHERE x.series_id = s.id) "
        "FROM series s WHERE name = 'up'"
    )[1]
    assert series == [('{"job":"api"}', 3)]


def test_a_scraped_empty_label_is_dropped(tmp_path):
    page = 'queue_depth{queue="",shard="1"} 4\nqueue_depth{shard="1"} 5\n'
    collector = ScrapeCollector("node", ScrapeOptions(url="http://10.0.0.5:9100/metrics"))
    collector.transport = httpx.MockTransport(
        lambda request: httpx.Response(200, text=page, headers={"content-type": "text/plain; version=0.0.4"})
    )
    with Store.open(tmp_path / "s.duckdb") as store:
        collector.collect(store, NOW)
        labels = store.query("SELECT labels FROM series WHERE name = 'queue_depth'")[1]
    assert [json.loads(text) for (text,) in labels] == [
        {"instance": "10.0.0.5:9100", "job": "node", "shard": "1"}
    ]
