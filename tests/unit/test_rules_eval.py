"""Rule expressions over the store: helper semantics, batched = independent, generated rules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest

from console.alerts.backtest import backtest
from console.alerts.persistence import load_alerts
from console.alerts.state import AlertEngine
from console.rules.evaluation import evaluate
from console.rules.families import collector_health_rules
from console.rules.model import Computed, Rule, Threshold
from console.slo.model import load_slos
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rows = []
    counters = {
        ("a", "1"): [100, 160, 220, 40, 100],  # a reset between minutes 2 and 3
        ("a", "2"): [0, 60, 120, 180, 240],
        ("b", "1"): [0, 120, 240, 360, 480],
    }
    for (service, instance), values in counters.items():
        for k, value in enumerate(values):
            rows.append(
                (
                    "req_total",
                    canonical_labels({"service": service, "instance": instance}),
                    NOW - (4 - k) * M,
                    float(value),
                )
            )
    for k, value in enumerate([1, 2, 3, 4, 5]):
        rows.append(("latency", canonical_labels({"service": "a"}), NOW - (4 - k) * M, float(value)))
    rows.append(("latency", canonical_labels({"service": "a"}), NOW - 30 * M, 100.0))  # outside 5m
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def _values(result):
    return sorted((tuple(sorted(i.labels.items())), round(i.value, 4)) for i in result.instances)


CASES = [
    (
        "rate per service, reset-aware",
        Threshold("req_total", "rate", 5 * M, ">", 0, ["service"]),
        [((("service", "a"),), round((220 / 240) + 1.0, 4)), ((("service", "b"),), 2.0)],
    ),
    (
        "increase extrapolated to the window",
        Threshold('req_total{service="b"}', "increase", 5 * M, ">", 0, []),
        [((), 600.0)],
    ),
    (
        "per series when by is omitted",
        Threshold('req_total{service="a"}', "rate", 5 * M, ">", 0.95),
        [((("instance", "2"), ("service", "a")), 1.0)],
    ),
    (
        "avg over the window only",
        Threshold("latency", "avg", 5 * M, ">=", 0, ["service"]),
        [((("service", "a"),), 3.0)],
    ),
    ("max", Threshold("latency", "max", 5 * M, ">", 0, []), [((), 5.0)]),
    ("quantile", Threshold("latency", "quantile", 5 * M, ">", 0, [], q=0.5), [((), 3.0)]),
    ("threshold filters", Threshold("latency", "max", 5 * M, ">", 5, []), []),
    (
        "regex matcher",
        Threshold('req_total{service=~"b|c"}', "last", 5 * M, "==", 480, ["service"]),
        [((("service", "b"),), 480.0)],
    ),
    (
        "SQL with a helper and a filter",
        "SELECT * FROM {{ rate('req_total', '5m', by=['service']) }} WHERE value > 1.95",
        [((("service", "b"),), 2.0)],
    ),
    (
        "SQL with now and ago",
        "SELECT 'x' AS k, count(*)::DOUBLE AS value FROM samples WHERE ts > {{ ago('2m') }} "
        "AND ts <= {{ now }}",
        [((("k", "x"),), 8.0)],
    ),
]


@pytest.mark.parametrize("name,expr,expected", CASES, ids=[c[0] for c in CASES])
def test_expressions(store, name, expr, expected):
    rule = Rule("R", expr)
    (batched,) = evaluate(store, [rule], NOW)
    (single,) = evaluate(store, [rule], NOW, batched=False)
    assert batched.error is None and single.error is None
    assert _values(batched) == expected
    assert _values(single) == expected


def test_one_broken_rule_among_many(store):
    rules = [
        Rule("Ok1", Threshold("latency", "max", 5 * M, ">", 0, [])),
        Rule("Broken", "SELECT value FROM nope"),
        Rule("BadHelper", "SELECT * FROM {{ rate('req_total', 'soon') }}"),
        Rule("Ok2", "SELECT 1.0 AS value"),
    ]
    results = {r.rule.name: r for r in evaluate(store, rules, NOW)}
    assert results["Ok1"].error is None and len(results["Ok1"].instances) == 1
    assert results["Ok2"].error is None and len(results["Ok2"].instances) == 1
    assert "nope" in results["Broken"].error
    assert "not a duration" in results["BadHelper"].error


def test_collector_health_rule(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    workspace = SimpleNamespace(
        path=tmp_path / "oncall.yaml",
        config=SimpleNamespace(
            sources=[
                SimpleNamespace(name="prom", interval=timedelta(seconds=30), enabled=True),
                SimpleNamespace(name="logs", interval=timedelta(seconds=60), enabled=True),
                SimpleNamespace(name="off", interval=timedelta(seconds=10), enabled=False),
            ]
        ),
    )
    with store.transaction() as cur:
        Store.set_cursor(cur, "prom", {}, 0, NOW - 100 * timedelta(seconds=1))  # > 3 × 30 s
        Store.set_cursor(cur, "logs", {}, 0, NOW - 100 * timedelta(seconds=1))  # < 3 × 60 s
        Store.set_cursor(cur, "off", {}, 0, NOW - timedelta(hours=1))  # disabled
    store.record_failure("logs", "connection refused", NOW - 10 * timedelta(seconds=1))
    (rule,) = collector_health_rules(workspace)
    AlertEngine(store, [rule]).run(NOW)
    (alert,) = load_alerts(store)
    assert alert.labels == {
        "alertname": "CollectorUnhealthy",
        "collector": "prom",
        "reason": "stale",
        "severity": "ticket",
    }
    assert alert.source == "health" and alert.state == "firing"
    assert alert.annotations["summary"] == "collector prom is stale: no successful run for 100s"
    AlertEngine(store, [rule]).run(NOW + 90 * timedelta(seconds=1))  # logs now 190 s: down
    states = {a.labels["collector"]: (a.labels["reason"], a.state) for a in load_alerts(store)}
    assert states == {"prom": ("stale", "firing"), "logs": ("down", "firing")}
    store.close()


def test_computed_family_plugs_in_as_rules(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    calls = []

    def burn(store_, now):
        calls.append(now)
        return {"slo:api:page/Burn": [({"service": "api"}, 14.5)]}

    family = Computed("burn", burn)
    page = Rule("Burn", family, group="slo:api:page", labels={"severity": "page", "slo": "api"}, source="slo")
    ticket = Rule(
        "Burn", family, group="slo:api:ticket", labels={"severity": "ticket", "slo": "api"}, source="slo"
    )
    AlertEngine(store, [page, ticket]).run(NOW)
    assert len(calls) == 1  # the family is computed once per cycle
    (alert,) = load_alerts(store)
    assert alert.labels == {"alertname": "Burn", "service": "api", "severity": "page", "slo": "api"}
    assert alert.value == 14.5 and alert.source == "slo"
    store.close()


def test_backtest_counts_firings(store):
    rule = Rule("Fast", Threshold('req_total{service="b"}', "rate", 2 * M, ">", 1, []))
    (history,) = backtest(store, [rule], NOW - 6 * M, NOW, M).rules
    # rate needs two samples in the window: from NOW-3m on it is 2/s; it fires once
    (label_set,) = history.label_sets.values()
    assert [(i.state, i.start, i.end) for i in label_set.intervals] == [("firing", NOW - 3 * M, None)]


def test_rules_eval_and_alerts_cli(tmp_path, oncall):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Always\n        expr: SELECT 'api' AS service, 3.0 AS value\n"
        "        labels: {severity: page}\n"
        "      - alert: Broken\n        expr: SELECT 1.0 AS value FROM samples WHERE nope_col > 0\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\n")
    env = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
    checked = oncall("rules", "check", str(tmp_path / "rules" / "r.yaml"))
    assert checked.returncode == 1 and "nope_col" in checked.stdout
    result = oncall("--workspace", str(tmp_path), "rules", "eval", env=env)
    assert result.returncode == 1  # a broken rule is reported ...
    assert "g/Always {service=api,severity=page}: inactive -> firing" in result.stdout
    assert "failing: g/Broken" in result.stdout
    listed = oncall("--workspace", str(tmp_path), "alerts", "--format", "json", env=env)
    (alert,) = json.loads(listed.stdout)  # ... while the other one fired
    assert alert["state"] == "firing" and alert["labels"] == {"service": "api", "severity": "page"}
    assert alert["since"] == "2026-03-01T12:00:00Z" and alert["silenced"] == []
    silenced = oncall(
        "--workspace",
        str(tmp_path),
        "alerts",
        "silence",
        'service=~"ap.*"',
        "--for",
        "1h",
        "--comment",
        "deploy",
        "--author",
        "me",
        env=env,
    )
    assert silenced.returncode == 0, silenced.stderr
    silence_id = silenced.stdout.split()[1]
    listed = json.loads(oncall("--workspace", str(tmp_path), "alerts", "--format", "json", env=env).stdout)
    assert listed[0]["silenced"] == [silence_id]
    expired = oncall("--workspace", str(tmp_path), "alerts", "expire", silence_id[:6], env=env)
    assert expired.returncode == 0, expired.stderr
    listed = json.loads(oncall("--workspace", str(tmp_path), "alerts", "--format", "json", env=env).stdout)
    assert listed[0]["silenced"] == []
    rules = oncall("--workspace", str(tmp_path), "rules", "--format", "json", env=env)
    health = {r["rule"]: (r["health"], r["error"]) for r in json.loads(rules.stdout)}
    assert health["g/Always"] == ("ok", None)
    assert health["g/Broken"][0] == "error" and "nope_col" in health["g/Broken"][1]


def test_silence_needs_allow_actions(tmp_path, oncall):
    (tmp_path / "oncall.yaml").write_text("allow_actions: false\n")
    result = oncall("--workspace", str(tmp_path), "alerts", "silence", "a=b", "--comment", "x")
    assert result.returncode == 2
    assert "allow_actions" in result.stderr and "Traceback" not in result.stderr


def test_slo_burn_rules_fire_and_page_inhibits_ticket(tmp_path):
    from console.rules.families import slo_burn_rules

    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(
        "slos:\n  - name: avail\n    objective: 99.9\n    sli:\n      ratio:\n"
        "        bad: 'req_total{code=\"500\"}'\n        total: req_total\n"
    )
    store = Store.open(tmp_path / "s.duckdb")
    step = timedelta(minutes=5)
    times = [NOW - step * (864 - 1 - i) for i in range(864)]  # 3 days
    bad = [500.0 if t > NOW - timedelta(hours=2) else 0.0 for t in times]
    good, bad_total = [], []
    g = b = 0.0
    for errors in bad:
        g, b = g + 1000 - errors, b + errors
        good.append(g)
        bad_total.append(b)
    ingest_samples(
        store,
        pd.DataFrame(
            {
                "name": "req_total",
                "labels": [canonical_labels({"code": "200"})] * 864
                + [canonical_labels({"code": "500"})] * 864,
                "ts": times + times,
                "value": good + bad_total,
            }
        ),
    )
    rules = slo_burn_rules(load_slos([slo_file]))
    assert {r.labels["severity"] for r in rules} == {"page", "ticket"} and len(rules) == 4
    AlertEngine(store, rules).run(NOW)
    alerts = load_alerts(store)
    pages = [a for a in alerts if a.labels["severity"] == "page"]
    tickets = [a for a in alerts if a.labels["severity"] == "ticket"]
    assert len(pages) == 2 and len(tickets) == 2
    assert all(a.state == "firing" and a.source == "slo" and a.labels["slo"] == "avail" for a in alerts)
    assert all(not a.inhibited_by for a in pages)
    assert all(set(a.inhibited_by) <= {p.fingerprint for p in pages} and a.inhibited_by for a in tickets)
    store.close()


def test_alerts_lists_every_source_once(tmp_path, oncall):
    (tmp_path / "oncall.yaml").write_text("allow_actions: false\n")
    store = Store.open(tmp_path / "oncall.duckdb")
    AlertEngine(store, [Rule("Mine", "SELECT 'api' AS service, 1.0 AS value")]).run(NOW)
    with store.transaction() as cur:  # as the Alertmanager collector writes them
        for fp, labels in (
            ("am-echo", {"alertname": "Mine", "service": "api"}),
            ("am-own", {"alertname": "Upstream", "team": "data"}),
        ):
            cur.execute(
                "INSERT INTO alerts (fingerprint, source, name, labels, state, active_since)"
                " VALUES (?, 'alertmanager', ?, ?, 'firing', ?)",
                [fp, labels["alertname"], canonical_labels(labels), NOW],
            )
    store.close()
    result = oncall(
        "--workspace", str(tmp_path), "alerts", "--format", "json", env={"ONCALL_NOW": "2026-03-01T12:01:00Z"}
    )
    assert result.returncode == 0, result.stderr
    shown = sorted((a["name"], a["source"]) for a in json.loads(result.stdout))
    assert shown == [("Mine", "rule"), ("Upstream", "alertmanager")]
