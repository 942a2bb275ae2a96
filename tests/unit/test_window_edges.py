"""`promql: {windows: …}`: a sample exactly a window old is in it (closed, Prometheus 2.x,
the default) or out of it (left-open, Prometheus 3.x), for every rule helper."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from console.alerts.persistence import load_alerts
from console.alerts.state import AlertEngine
from console.config.promql import DEFAULT_WINDOWS, Windows
from console.config.workspace import WorkspaceError, load_workspace
from console.rules.evaluation import evaluate
from console.rules.model import Rule, Threshold
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
M = timedelta(minutes=1)
EDGE = NOW - 5 * M  # exactly one 5m window old


def _fill(store: Store) -> None:
    rows = [
        ("load", canonical_labels({"pod": "p"}), EDGE, 100.0),  # on the window's edge
        ("load", canonical_labels({"pod": "p"}), NOW - M, 2.0),
        ("load", canonical_labels({"pod": "p"}), NOW, 3.0),
        ("edge_only", canonical_labels({"pod": "p"}), EDGE, 7.0),
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "s.duckdb")
    _fill(store)
    yield store
    store.close()


# (helper, series, {windows: value at NOW, None when there is no row})
CASES = [
    ("count", "load", {Windows.CLOSED: 3.0, Windows.LEFT_OPEN: 2.0}),
    ("max", "load", {Windows.CLOSED: 100.0, Windows.LEFT_OPEN: 3.0}),
    ("sum", "load", {Windows.CLOSED: 105.0, Windows.LEFT_OPEN: 5.0}),
    ("quantile", "load", {Windows.CLOSED: 3.0, Windows.LEFT_OPEN: 2.5}),
    ("last", "edge_only", {Windows.CLOSED: 7.0, Windows.LEFT_OPEN: None}),
    # 100 -> 2 is a reset: 2 + 1 over 300s (closed) or 1 over 60s (left-open), to 5m
    ("increase", "load", {Windows.CLOSED: 3.0, Windows.LEFT_OPEN: 5.0}),
]


def test_closed_windows_are_the_default():
    assert DEFAULT_WINDOWS is Windows.CLOSED


@pytest.mark.parametrize("windows", list(Windows), ids=[w.value for w in Windows])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one by one"])
@pytest.mark.parametrize("fn,series,expected", CASES, ids=[c[0] for c in CASES])
def test_a_sample_exactly_a_window_old(store, fn, series, expected, windows, batched):
    q = {"q": 0.5} if fn == "quantile" else {}
    rules = [
        Rule("T", Threshold(series, fn, 5 * M, ">", -1, [], **q)),
        Rule("S", f"SELECT * FROM {{{{ {fn}('{series}', '5m'{', 0.5' if q else ''}) }}}}"),
    ]
    for result in evaluate(store, rules, NOW, batched=batched, windows=windows):
        assert result.error is None
        values = [round(i.value, 9) for i in result.instances]
        assert values == ([] if expected[windows] is None else [expected[windows]]), result.rule.name


@pytest.mark.parametrize("windows,state", [(Windows.CLOSED, "firing"), (Windows.LEFT_OPEN, None)])
def test_the_alert_engine_reads_windows_as_told(store, windows, state):
    rule = Rule("Hot", Threshold("load", "max", 5 * M, ">", 50), group="g")
    AlertEngine(store, [rule], windows=windows).run(NOW)
    assert [a.state for a in load_alerts(store)] == ([state] if state else [])


def test_the_workspace_setting(tmp_path: Path):
    (tmp_path / "oncall.yaml").write_text("promql: {windows: left-open}\n")
    assert load_workspace(tmp_path / "oncall.yaml").config.promql.windows is Windows.LEFT_OPEN
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    assert load_workspace(tmp_path / "oncall.yaml").config.promql.windows is Windows.CLOSED
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\npromql:\n  windows: open\n")
    with pytest.raises(WorkspaceError) as info:
        load_workspace(tmp_path / "oncall.yaml")
    (problem,) = [str(p) for p in info.value.problems]
    assert "oncall.yaml:3" in problem and "closed" in problem and "left-open" in problem


@pytest.mark.parametrize("setting,fired", [("", True), ("promql: {windows: left-open}\n", False)])
def test_rules_eval_uses_the_workspace_setting(tmp_path, oncall, setting, fired):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Hot\n"
        "        expr: {series: load, fn: max, over: 5m, op: '>', value: 50}\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n" + setting)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        _fill(store)
    env = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
    result = oncall("--workspace", str(tmp_path), "rules", "eval", "--format", "json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    moves = [(t["rule"], t["to"]) for t in json.loads(result.stdout)["transitions"]]
    assert moves == ([("g/Hot", "firing")] if fired else [])
