"""`oncall rules backtest`: pending, firing and resolved intervals per rule and label set, from
the engine's state machine; and `rules eval` naming the labels of every transition."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.alerts.backtest import as_json, backtest, table_rows
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples

T0 = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)
# per minute from T0: "a" is high from minute 2 to 5, "b" only at minute 3
LEVELS = {"a": [0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0], "b": [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]}
RULE_FILE = """\
groups:
  - name: g
    rules:
      - alert: High
        expr: {series: level, fn: last, over: 1m, by: [svc], op: '>', value: 5}
        for: 2m
        keep_firing_for: 2m
        labels: {severity: page}
      - record: job:level:last
        expr: SELECT 1.0 AS value
"""


def _fill(store: Store) -> None:
    rows = [
        ("level", canonical_labels({"svc": svc}), T0 + k * M, float(v))
        for svc, values in LEVELS.items()
        for k, v in enumerate(values)
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    _fill(store)
    yield store
    store.close()


HIGH = Rule(
    "High",
    Threshold("level", "last", M, ">", 5, ["svc"]),
    group="g",
    for_=2 * M,
    keep_firing_for=2 * M,
    labels={"severity": "page"},
)


def test_intervals_follow_for_and_keep_firing_for(store):
    result = backtest(store, [HIGH], T0, T0 + 10 * M)
    (history,) = result.rules
    by_svc = {s.labels["svc"]: s for s in history.label_sets.values()}
    # a: pending 2m (for), firing from minute 4 while true and 2m more (keep_firing_for), then resolved
    assert [(i.state, i.start, i.end) for i in by_svc["a"].intervals] == [
        ("pending", T0 + 2 * M, T0 + 4 * M),
        ("firing", T0 + 4 * M, T0 + 8 * M),
        ("resolved", T0 + 8 * M, None),
    ]
    # b: true for one evaluation only, shorter than `for`: pending, then inactive, never fired
    assert [(i.state, i.start, i.end) for i in by_svc["b"].intervals] == [("pending", T0 + 3 * M, T0 + 4 * M)]
    assert (by_svc["a"].fired, by_svc["b"].fired) == (1, 0)
    assert by_svc["b"].labels == {"svc": "b", "severity": "page"}  # labels even once it went inactive


def test_each_rule_runs_on_its_group_interval_unless_a_step_is_given(store):
    slow = Rule("High", HIGH.expr, group="g", for_=2 * M, interval=2 * M)
    (history,) = backtest(store, [slow], T0, T0 + 10 * M).rules
    assert history.evaluations == 6  # minutes 0, 2, 4, 6, 8, 10
    # evaluated every 2 minutes, "b" (high at minute 3 only) is never seen
    assert {s.labels["svc"] for s in history.label_sets.values()} == {"a"}
    (stepped,) = backtest(store, [slow], T0, T0 + 10 * M, M).rules
    assert stepped.evaluations == 11


def test_json_shape(store):
    failing = Rule("Broken", "SELECT 1.0 AS value FROM no_such_table", group="g")
    recording = Rule("job:x", "SELECT 1.0 AS value", group="g", record="job:x")
    data = json.loads(
        json.dumps(as_json(backtest(store, [HIGH, failing, recording], T0, T0 + 5 * M, M)), default=str)
    )
    high, broken = data["rules"]
    assert data["recording_rules"] == [
        {"rule": "g/job:x", "evaluations": 6, "failed_evaluations": 0, "first_error": None, "samples": 6}
    ]
    assert data["step_seconds"] == 60.0
    assert {k: v for k, v in high.items() if k != "label_sets"} == {
        "rule": "g/High",
        "for_seconds": 120.0,
        "keep_firing_for_seconds": 120.0,
        "evaluations": 6,
        "failed_evaluations": 0,
        "first_error": None,
        "fired": 1,
    }
    assert high["label_sets"][0]["labels"] == {"severity": "page", "svc": "a"}
    assert high["label_sets"][0]["intervals"] == [
        {"state": "pending", "from": "2026-03-01 12:02:00", "to": "2026-03-01 12:04:00"},
        {"state": "firing", "from": "2026-03-01 12:04:00", "to": None},
    ]
    assert set(high["label_sets"][0]) == {"labels", "fingerprint", "fired", "intervals"}
    assert broken["failed_evaluations"] == 6 and "no_such_table" in broken["first_error"]["error"]
    assert broken["label_sets"] == []
    assert ["g/Broken", "", "every evaluation failed", "", "", ""] in table_rows(
        backtest(store, [failing], T0, T0 + 5 * M)
    )


def test_table_has_a_row_per_interval(store):
    rows = table_rows(backtest(store, [HIGH], T0, T0 + 10 * M))
    assert rows[0] == [
        "g/High",
        "{severity=page,svc=a}",
        "pending",
        "2026-03-01 12:02:00",
        "2026-03-01 12:04:00",
        "2m",
    ]
    assert rows[2][2:] == ["resolved", "2026-03-01 12:08:00", "(still at the end)", "2m+"]
    assert len(rows) == 4


def _workspace(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULE_FILE)
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    with Store.open(tmp_path / "oncall.duckdb") as store:
        _fill(store)


def test_backtest_cli_table_and_json(tmp_path, oncall):
    _workspace(tmp_path)
    args = (
        "--workspace",
        str(tmp_path),
        "rules",
        "backtest",
        "--from",
        "2026-03-01T12:00",
        "--to",
        "2026-03-01T12:10",
    )
    table = oncall(*args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.split()[:3] == ["g/High", "{severity=page,svc=a}", "firing"] for line in lines), lines
    assert any(line.split()[:3] == ["g/High", "{severity=page,svc=b}", "pending"] for line in lines), lines
    assert "replayed: g/job:level:last: recorded 11 sample(s)" in table.stdout  # one a minute
    assert lines[1].split() == ["RULE", "LABELS", "STATE", "FROM", "TO", "LASTED"]
    as_json_output = oncall(*args, "--json")
    assert as_json_output.returncode == 0, as_json_output.stderr
    data = json.loads(as_json_output.stdout)
    (high,) = data["rules"]
    assert data["from"] == "2026-03-01T12:00:00Z" and high["rule"] == "g/High"
    states = {tuple(s["labels"].items()): [i["state"] for i in s["intervals"]] for s in high["label_sets"]}
    assert states == {
        (("severity", "page"), ("svc", "a")): ["pending", "firing", "resolved"],
        (("severity", "page"), ("svc", "b")): ["pending"],
    }


def test_eval_names_the_labels_of_a_pending_alert_gone_inactive(tmp_path, oncall):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Blip\n"
        "        expr: SELECT 'api' AS service, 1.0 AS value WHERE {{ now }} < TIMESTAMP '2026-03-01 12:01:00'\n"
        "        for: 5m\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    first = oncall("--workspace", str(tmp_path), "rules", "eval", env={"ONCALL_NOW": "2026-03-01T12:00:00Z"})
    assert "g/Blip {service=api}: inactive -> pending" in first.stdout, first.stdout + first.stderr
    env = {"ONCALL_NOW": "2026-03-01T12:02:00Z"}
    second = oncall("--workspace", str(tmp_path), "rules", "eval", env=env)
    assert "g/Blip {service=api}: pending -> inactive" in second.stdout, second.stdout + second.stderr


def test_backtest_cli_exits_1_when_a_rule_fails(tmp_path, oncall):
    _workspace(tmp_path)
    with (tmp_path / "rules" / "r.yaml").open("a") as rules:
        rules.write("      - alert: Broken\n        expr: SELECT 1.0 AS value FROM nope\n")
    args = (
        "--workspace",
        str(tmp_path),
        "rules",
        "backtest",
        "--from",
        "2026-03-01T12:00",
        "--to",
        "2026-03-01T12:05",
    )
    result = oncall(*args)
    assert result.returncode == 1
    assert "failing: g/Broken: 6 of 6 evaluation(s), first at 2026-03-01 12:00:00" in result.stdout


RECORDED = Rule(
    "job:level:last",
    "SELECT * FROM {{ last('level', '5m', by=['svc']) }}",
    group="r",
    record="job:level:last",
)
FROM_RECORDED = Rule(
    "HighRecorded",
    "SELECT * FROM {{ last('job:level:last', '5m', by=['svc']) }} WHERE value > 5",
    group="r",
    for_=2 * M,
    keep_firing_for=2 * M,
)


def test_recording_rules_are_replayed_in_order_and_nothing_is_written(store):
    result = backtest(store, [RECORDED, FROM_RECORDED], T0, T0 + 10 * M)
    (history,) = result.rules
    by_svc = {
        s.labels["svc"]: [(i.state, i.start, i.end) for i in s.intervals] for s in history.label_sets.values()
    }
    assert by_svc["a"] == [
        ("pending", T0 + 2 * M, T0 + 4 * M),
        ("firing", T0 + 4 * M, T0 + 8 * M),
        ("resolved", T0 + 8 * M, None),
    ]
    assert result.recording[0].samples == 2 * 11
    assert store.query("SELECT count(*) FROM series WHERE name = 'job:level:last'")[1] == [(0,)]


def test_a_chosen_alert_brings_the_recordings_it_reads():
    from console.alerts.backtest import with_recordings

    other = Rule("job:other", "SELECT 1.0 AS value", group="r", record="job:other")
    everything = [other, RECORDED, HIGH, FROM_RECORDED]
    assert with_recordings([FROM_RECORDED], everything) == [RECORDED, FROM_RECORDED]
    assert with_recordings([HIGH], everything) == [HIGH]


def test_a_step_longer_than_the_outage_tolerance_still_fires(tmp_path):
    """The engine restarts a pending timer after an outage of over 1h; a replay has none."""
    with Store.open(tmp_path / "s.duckdb") as store:
        rows = [("up", canonical_labels({}), T0 + k * timedelta(hours=2), 1.0) for k in range(4)]
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
        rule = Rule("Up", Threshold("up", "last", M, ">", 0), group="g", for_=5 * M)
        (history,) = backtest(store, [rule], T0, T0 + 6 * timedelta(hours=1), timedelta(hours=2)).rules
        (label_set,) = history.label_sets.values()
        assert [(i.state, i.start) for i in label_set.intervals] == [
            ("pending", T0),
            ("firing", T0 + timedelta(hours=2)),
        ]
