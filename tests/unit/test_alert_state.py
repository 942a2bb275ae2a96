"""The alert state machine, table-driven, through the store: for, flapping, keep_firing_for,
restarts while pending and firing, outages longer than the tolerance, duplicate label sets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.alerts.persistence import load_alerts
from console.alerts.state import AlertEngine
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples

T0 = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)
RESTART = "restart"

# (name, for, keep_firing_for, steps) where a step is (minute, condition, expected state)
# or RESTART; condition 1 = true, 0 = false, None = no data at all.
SCENARIOS = [
    (
        "for: pending until it has held 3m, then firing",
        3,
        0,
        [(0, 1, "pending"), (1, 1, "pending"), (2, 1, "pending"), (3, 1, "firing"), (4, 1, "firing")],
    ),
    ("for 0: fires at once", 0, 0, [(0, 1, "firing"), (1, 0, "resolved")]),
    (
        "flapping shorter than for never fires",
        2,
        0,
        [
            (0, 1, "pending"),
            (1, 0, None),
            (2, 1, "pending"),
            (3, 0, None),
            (4, 1, "pending"),
            (5, None, None),
            (6, 1, "pending"),
        ],
    ),
    (
        "flapping with for 0 fires and resolves each time",
        0,
        0,
        [(0, 1, "firing"), (1, 0, "resolved"), (2, 1, "firing"), (3, 0, "resolved")],
    ),
    (
        "keep_firing_for holds a firing alert after the condition clears",
        0,
        2,
        [(0, 1, "firing"), (1, 0, "firing"), (2, 0, "firing"), (3, 0, "resolved")],
    ),
    (
        "keep_firing_for restarts when the condition comes back",
        0,
        2,
        [
            (0, 1, "firing"),
            (1, 0, "firing"),
            (2, 1, "firing"),
            (3, 0, "firing"),
            (4, 0, "firing"),
            (5, 0, "resolved"),
        ],
    ),
    (
        "resolved alerts are kept 15 minutes",
        0,
        0,
        [(0, 1, "firing"), (1, 0, "resolved"), (15, 0, "resolved"), (16, 0, None)],
    ),
    (
        "restart while pending keeps active-since",
        3,
        0,
        [(0, 1, "pending"), (1, 1, "pending"), RESTART, (2, 1, "pending"), (3, 1, "firing")],
    ),
    (
        "restart while firing keeps it firing",
        1,
        0,
        [(0, 1, "pending"), (1, 1, "firing"), RESTART, (2, 1, "firing"), (3, 0, "resolved")],
    ),
    (
        "outage shorter than the tolerance: the pending timer carries on",
        3,
        0,
        [(0, 1, "pending"), RESTART, (30, 1, "firing")],
    ),
    (
        "outage longer than the tolerance: the pending timer restarts",
        3,
        0,
        [
            (0, 1, "pending"),
            (1, 1, "pending"),
            RESTART,
            (70, 1, "pending"),
            (72, 1, "pending"),
            (73, 1, "firing"),
        ],
    ),
    (
        "outage longer than the tolerance while firing: still firing",
        1,
        0,
        [(0, 1, "pending"), (1, 1, "firing"), RESTART, (90, 1, "firing")],
    ),
]


def _rule(for_minutes: int, keep_minutes: int) -> Rule:
    return Rule(
        "CondTrue",
        # a window shorter than the step: each step sees only its own sample, whether the
        # workspace's windows are closed (a sample exactly a window old is in) or left-open
        Threshold("cond", "last", M / 2, ">", 0.5, by=["svc"]),
        group="g",
        for_=for_minutes * M,
        keep_firing_for=keep_minutes * M,
        labels={"severity": "page"},
        annotations={"summary": "{{ $labels.svc }} is at {{ $value }}"},
    )


def _put(store: Store, minute: int, value: float) -> None:
    ingest_samples(
        store,
        pd.DataFrame(
            {
                "name": ["cond"],
                "labels": [canonical_labels({"svc": "api"})],
                "ts": [T0 + minute * M],
                "value": [value],
            }
        ),
    )


@pytest.mark.parametrize("name,for_minutes,keep_minutes,steps", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_state_machine(tmp_path, name, for_minutes, keep_minutes, steps):
    path = tmp_path / "oncall.duckdb"
    store = Store.open(path)
    engine = AlertEngine(store, [_rule(for_minutes, keep_minutes)])
    seen = []
    try:
        for item in steps:
            if item == RESTART:
                store.close()
                store = Store.open(path)
                engine = AlertEngine(store, [_rule(for_minutes, keep_minutes)])
                continue
            minute, condition, _expected = item
            if condition is not None:
                _put(store, minute, float(condition))
            engine.run(T0 + minute * M)
            alerts = load_alerts(store)
            assert len(alerts) <= 1
            seen.append((minute, alerts[0].state if alerts else None))
        assert seen == [(i[0], i[2]) for i in steps if i != RESTART]
    finally:
        store.close()


def test_firing_alert_carries_labels_annotations_and_history(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    engine = AlertEngine(store, [_rule(1, 0)])
    for minute in range(3):
        _put(store, minute, 1.0)
        engine.run(T0 + minute * M)
    (alert,) = load_alerts(store)
    assert alert.labels == {"alertname": "CondTrue", "severity": "page", "svc": "api"}
    assert alert.annotations == {"summary": "api is at 1"}  # $value as Prometheus prints it
    assert alert.active_since == T0 and alert.fired_at == T0 + M
    history = store.query("SELECT from_state, to_state, ts FROM alert_history ORDER BY ts")[1]
    assert history == [("inactive", "pending", T0), ("pending", "firing", T0 + M)]
    store.close()


def test_restart_while_firing_does_not_fire_again(tmp_path):
    path = tmp_path / "s.duckdb"
    store = Store.open(path)
    for minute in range(2):
        _put(store, minute, 1.0)
        AlertEngine(store, [_rule(0, 0)]).run(T0 + minute * M)
    store.close()
    store = Store.open(path)
    _put(store, 2, 1.0)
    AlertEngine(store, [_rule(0, 0)]).run(T0 + 2 * M)
    (alert,) = load_alerts(store)
    assert alert.fired_at == T0
    fired = store.query("SELECT count(*) FROM alert_history WHERE to_state = 'firing'")[1][0][0]
    assert fired == 1
    store.close()


DUPLICATES = [
    (
        "two rows with the same labels make one alert",
        "SELECT 'api' AS svc, 1.0 AS value UNION ALL SELECT 'api', 2.0",
        {},
        1,
    ),
    (
        "a label template that erases the difference makes one alert",
        "SELECT 'api' AS svc, 1.0 AS value UNION ALL SELECT 'web', 2.0",
        {"svc": "all"},
        1,
    ),
    (
        "distinct label sets make one alert each",
        "SELECT 'api' AS svc, 1.0 AS value UNION ALL SELECT 'web', 2.0",
        {},
        2,
    ),
]


@pytest.mark.parametrize("name,sql,labels,count", DUPLICATES, ids=[d[0] for d in DUPLICATES])
def test_duplicate_label_sets(tmp_path, name, sql, labels, count):
    store = Store.open(tmp_path / "s.duckdb")
    rule = Rule("Dup", sql, labels=labels)
    report = AlertEngine(store, [rule]).run(T0)
    alerts = load_alerts(store)
    assert len(alerts) == count
    assert all(a.state == "firing" for a in alerts)
    assert bool(report.warnings) == (count == 1)
    store.close()


def test_broken_rule_shows_its_error_while_others_evaluate(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    _put(store, 0, 1.0)
    rules = [
        Rule("Broken", "SELECT value FROM no_such_table"),
        _rule(0, 0),
        Rule("NoValue", "SELECT 'x' AS svc"),
    ]
    report = AlertEngine(store, rules).run(T0)
    assert set(report.broken) == {"default/Broken", "default/NoValue"}
    assert "no_such_table" in report.broken["default/Broken"]
    assert "value" in report.broken["default/NoValue"]
    assert [a.name for a in load_alerts(store)] == ["CondTrue"]
    health = dict(store.query("SELECT rule, health FROM rule_state")[1])
    assert health == {"default/Broken": "error", "g/CondTrue": "ok", "default/NoValue": "error"}
    store.close()


def test_removed_rule_resolves_its_alerts(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    _put(store, 0, 1.0)
    AlertEngine(store, [_rule(0, 0)]).run(T0)
    AlertEngine(store, []).run(T0 + M)
    (alert,) = load_alerts(store)
    assert alert.state == "resolved" and alert.resolved_at == T0 + M
    store.close()


def test_alertmanager_rows_are_left_alone(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, name, labels, state) "
            "VALUES ('am1', 'alertmanager', 'Upstream', '{}', 'firing')"
        )
    _put(store, 0, 1.0)
    AlertEngine(store, [_rule(0, 0)]).run(T0)
    rows = store.query("SELECT fingerprint, state FROM alerts WHERE source = 'alertmanager'")[1]
    assert rows == [("am1", "firing")]
    store.close()


def test_groups_evaluate_on_their_interval(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    fast = Rule("Fast", "SELECT 1.0 AS value", group="fast", interval=timedelta(seconds=30))
    slow = Rule("Slow", "SELECT 1.0 AS value", group="slow", interval=5 * M)
    engine = AlertEngine(store, [fast, slow])
    evaluated = []
    for seconds in (0, 20, 30, 60, 290, 300):
        report = engine.run(T0 + timedelta(seconds=seconds), only_due=True)
        evaluated.append(sorted(a.rule for a in report.alerts if a.last_eval == report.now))
    assert evaluated == [
        ["fast/Fast", "slow/Slow"],
        [],
        ["fast/Fast"],
        ["fast/Fast"],
        ["fast/Fast"],
        ["slow/Slow"],
    ]
    store.close()
