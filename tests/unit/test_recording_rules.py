"""Recording rules: results written into the store as series, in group order, usable by alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.alerts.persistence import load_alerts, load_rule_states
from console.alerts.state import AlertEngine
from console.rules.loading import load_rule_file
from console.rules.model import Rule, Threshold
from console.rules.recording import evaluate_cycle, stages
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)

RATE = Threshold("req_total", "rate", 5 * M, ">=", 0, ["service"])
# the recorded series, read back: its last sample per service over the last minute
READ_RECORDED = "SELECT * FROM {{ last('job:req:rate5m', '1m', by=['service']) }} WHERE value > 1.5"


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    rows = []
    for service, per_minute in (("a", 60), ("b", 120)):
        for k in range(5):
            labels = canonical_labels({"service": service, "instance": "1"})
            rows.append(("req_total", labels, NOW - (4 - k) * M, float(k * per_minute)))
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    yield store
    store.close()


def recorded(store, name):
    """(labels, ts, value) of every stored sample of `name`."""
    _, rows = store.query(
        "SELECT s.labels, x.ts, x.value FROM samples x JOIN series s ON s.id = x.series_id "
        "WHERE s.name = ? ORDER BY s.labels, x.ts",
        [name],
    )
    return [(json.loads(labels), ts, value) for labels, ts, value in rows]


def test_recorded_series_have_the_result_labels_plus_the_rules(store):
    rule = Rule("job:req:rate5m", RATE, group="g", labels={"team": "ml", "drop": ""}, record="job:req:rate5m")
    sql = Rule(
        "job:const",
        "SELECT 'x' AS __name__, 'api' AS service, '' AS empty, 2.5 AS value",
        group="g",
        record="job:const",
    )
    cycle = evaluate_cycle(store, [rule, sql], NOW)
    assert cycle.recorded == {"g/job:req:rate5m": 2, "g/job:const": 1}
    assert recorded(store, "job:req:rate5m") == [
        ({"service": "a", "team": "ml"}, NOW, 1.0),
        ({"service": "b", "team": "ml"}, NOW, 2.0),
    ]
    # no __name__ label, no empty label
    assert recorded(store, "job:const") == [({"service": "api"}, NOW, 2.5)]


def test_a_later_rule_of_the_group_sees_this_cycles_recording(store):
    record = Rule("job:req:rate5m", RATE, group="g", record="job:req:rate5m")
    alert = Rule("Busy", READ_RECORDED, group="g")
    report = AlertEngine(store, [record, alert]).run(NOW)
    assert not report.broken
    assert [(t.labels, t.to_state) for t in report.transitions] == [
        ({"alertname": "Busy", "service": "b"}, "firing")
    ]
    assert report.recorded == {"g/job:req:rate5m": 2}
    assert [a.name for a in load_alerts(store)] == ["Busy"]  # the recording rule has no alert


def test_an_earlier_rule_of_the_group_sees_the_previous_cycle(store):
    alert = Rule("Busy", READ_RECORDED, group="g")
    record = Rule("job:req:rate5m", RATE, group="g", record="job:req:rate5m")
    engine = AlertEngine(store, [alert, record])
    assert engine.run(NOW).transitions == []  # nothing recorded before this cycle
    assert [t.to_state for t in engine.run(NOW + 30 * timedelta(seconds=1)).transitions] == ["firing"]


def test_only_dependencies_split_the_batch():
    def alert(name, group, expr="SELECT 1.0 AS value"):
        return Rule(name, expr, group=group)

    rules = [
        alert("A", "plain"),
        Rule("job:x", "SELECT 1.0 AS value", group="rec", record="job:x"),
        alert("UsesX", "rec", "SELECT * FROM {{ last('job:x', '1m') }}"),
        alert("Other", "rec"),  # reads nothing recorded: stays in the first batch
        Rule("job:y", Threshold("job:x", "last", M, ">", 0), group="rec", record="job:y"),
        alert("UsesY", "rec", "SELECT * FROM {{ last('job:y', '1m') }}"),
        alert("UsesXElsewhere", "plain", "SELECT * FROM {{ last('job:x', '1m') }}"),  # another group
        alert("Prefix", "rec", "SELECT * FROM {{ last('job:x_total', '1m') }}"),  # another metric
    ]
    assert stages(rules) == [[0, 1, 3, 6, 7], [2, 4], [5]]
    assert stages([alert("A", "g"), alert("B", "h")]) == [[0, 1]]


def test_a_failing_recording_rule_writes_nothing_and_keeps_its_samples(store):
    good = Rule("job:v", "SELECT 1.0 AS value", group="g", record="job:v")
    AlertEngine(store, [good]).run(NOW)
    broken = Rule("job:v", "SELECT 1.0 AS value FROM no_such_table", group="g", record="job:v")
    report = AlertEngine(store, [broken]).run(NOW + M)
    assert "no_such_table" in report.broken["g/job:v"] and report.recorded == {}
    assert recorded(store, "job:v") == [({}, NOW, 1.0)]
    assert load_rule_states(store)["g/job:v"]["health"] == "error"


def test_a_result_with_a_repeated_label_set_is_an_error(store):
    # the same label set once `__name__` is dropped, as Prometheus refuses it
    expr = "SELECT 'a' AS service, 'x' AS __name__, 1.0 AS value UNION ALL SELECT 'a', 'y', 2.0"
    rule = Rule("job:dup", expr, group="g", record="job:dup")
    (result,) = evaluate_cycle(store, [rule], NOW).results
    assert result.error is not None and "more than once" in result.error
    assert recorded(store, "job:dup") == []


def test_a_read_only_store_is_not_written_and_says_so(tmp_path, store):
    store.close()
    reader = Store.open_read(tmp_path / "s.duckdb")
    try:
        rule = Rule("job:req:rate5m", RATE, group="g", record="job:req:rate5m")
        cycle = evaluate_cycle(reader, [rule], NOW)
        (result,) = cycle.results
        assert result.error is not None and "read-only" in result.error
        assert cycle.recorded == {} and recorded(reader, "job:req:rate5m") == []
    finally:
        reader.close()


def test_record_rules_load_from_a_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: job:req:rate5m\n"
        "        expr: {series: req_total, fn: rate, over: 5m, by: [service], op: '>=', value: 0}\n"
        "        labels: {team: ml}\n"
        "      - alert: Busy\n        expr: SELECT 1.0 AS value\n"
    )
    loaded = load_rule_file(path)
    assert loaded.problems == []
    record, alert = loaded.rules
    assert (record.record, record.name, record.key, record.line, record.labels) == (
        "job:req:rate5m",
        "job:req:rate5m",
        "g/job:req:rate5m",
        4,
        {"team": "ml"},
    )
    assert alert.record is None


def test_rules_check_list_and_eval_show_recording_rules(tmp_path, oncall):
    (tmp_path / "rules").mkdir()
    path = tmp_path / "rules" / "r.yaml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: job:answer\n        expr: SELECT 'api' AS service, 42.0 AS value\n"
        "      - alert: Answered\n"
        "        expr: \"SELECT * FROM {{ last('job:answer', '1m', by=['service']) }} WHERE value > 0\"\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    env = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
    checked = oncall("rules", "check", str(path))
    assert f"SUCCESS: {path}: 2 rules found (1 recording)" in checked.stdout, checked.stdout
    evaluated = oncall("--workspace", str(tmp_path), "rules", "eval", env=env)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    assert "g/job:answer: recorded 1 series" in evaluated.stdout
    assert "g/Answered {service=api}: inactive -> firing" in evaluated.stdout
    listed = json.loads(oncall("--workspace", str(tmp_path), "rules", "--format", "json", env=env).stdout)
    kinds = {r["rule"]: (r["kind"], r["health"], r["instances"]) for r in listed}
    assert kinds["g/job:answer"] == ("record", "ok", 1) and kinds["g/Answered"][0] == "alert"


def test_the_engines_tick_records_and_says_what_alerts_did(tmp_path, store):
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    workspace = load_workspace(tmp_path / "oncall.yaml")
    rules = [
        Rule("job:req:rate5m", RATE, group="g", record="job:req:rate5m"),
        Rule("Busy", READ_RECORDED, group="g", for_=5 * M),
    ]
    engine = Engine(workspace, store, collectors=[], rules=rules)
    texts = [e.text for e in engine.tick(NOW).events if e.kind == "alert"]
    assert texts == ["Busy pending {service=b}"]
    assert [labels for labels, _, _ in recorded(store, "job:req:rate5m")] == [
        {"service": "a"},
        {"service": "b"},
    ]
    # six minutes on, no sample is in the window: nothing is recorded, the pending alert goes
    # inactive, and the event still names its labels
    texts = [e.text for e in engine.tick(NOW + 6 * M).events if e.kind == "alert"]
    assert texts == ["Busy inactive {service=b}"]


def test_several_rules_of_a_group_may_record_one_metric(tmp_path, store):
    """As in Prometheus (one rule per label set, say); each has its own name and health."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: job:v\n        expr: SELECT 1.0 AS value\n        labels: {part: one}\n"
        "      - record: job:v\n        expr: SELECT 2.0 AS value\n        labels: {part: two}\n"
        "        for: 0s\n        annotations: {}\n"  # zero and empty: Prometheus lets them pass
    )
    loaded = load_rule_file(path)
    assert loaded.problems == []
    assert [r.key for r in loaded.rules] == ["g/job:v", "g/job:v#2"]
    report = AlertEngine(store, loaded.rules).run(NOW)
    assert report.recorded == {"g/job:v": 1, "g/job:v#2": 1}
    assert recorded(store, "job:v") == [({"part": "one"}, NOW, 1.0), ({"part": "two"}, NOW, 2.0)]
