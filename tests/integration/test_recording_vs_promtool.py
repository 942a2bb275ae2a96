"""Recording rules feeding an alert, and the backtest's firing intervals, against `promtool test
rules` on the same samples: what our engine (and backtest) say fires at each minute is written as
promtool's expectations, and promtool must agree."""

from __future__ import annotations

import subprocess
import textwrap
from datetime import datetime, timedelta

import pandas as pd
import pytest
import yaml

from console.alerts.backtest import backtest
from console.alerts.state import AlertEngine
from console.rules.model import Rule
from console.store import Store, canonical_labels, ingest_samples
from tests.servers import require_binary

T0 = datetime(1970, 1, 1)  # promtool's series start at time 0
M = timedelta(minutes=1)
MINUTES = 14
# per minute; "a" rises and falls, "b" blips for one minute, "c" flaps
LEVELS = {
    "a": [0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 9, 9, 9, 9],
    "b": [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    "c": [0, 9, 9, 9, 0, 9, 9, 9, 9, 0, 0, 9, 0, 0, 0],
}
RECORD = "job:level:max"

PROMQL_RULES = {
    "record_first": [
        {"record": RECORD, "expr": "max by (svc) (level)", "labels": {"team": "ml"}},
        {"alert": "High", "expr": f"{RECORD} > 5", "for": "2m", "keep_firing_for": "2m"},
    ],
    "alert_first": [
        {"alert": "High", "expr": f"{RECORD} > 5", "for": "2m", "keep_firing_for": "2m"},
        {"record": RECORD, "expr": "max by (svc) (level)", "labels": {"team": "ml"}},
    ],
}


def our_rules(order: str) -> list[Rule]:
    """The same rules in our SQL form (the instant `level` is its last sample in 5m)."""
    record = Rule(
        RECORD,
        "SELECT * FROM {{ last('level', '5m', by=['svc']) }}",
        group="g",
        labels={"team": "ml"},
        record=RECORD,
    )
    alert = Rule(
        "High",
        f"SELECT * FROM {{{{ last('{RECORD}', '5m') }}}} WHERE value > 5",
        group="g",
        for_=2 * M,
        keep_firing_for=2 * M,
    )
    return [record, alert] if order == "record_first" else [alert, record]


def _store(directory) -> Store:
    directory.mkdir(exist_ok=True)
    store = Store.open(directory / "s.duckdb")
    rows = [
        ("level", canonical_labels({"svc": svc}), T0 + k * M, float(v))
        for svc, values in LEVELS.items()
        for k, v in enumerate(values)
    ]
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    return store


def _promtool_test(
    tmp_path, order: str, firing: dict[int, list[dict[str, str]]]
) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "interval": "1m", "rules": PROMQL_RULES[order]}]})
    )
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'level{{svc="{svc}"}}', "values": " ".join(str(v) for v in values)}
                    for svc, values in LEVELS.items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": "High",
                        "exp_alerts": [{"exp_labels": labels} for labels in firing[minute]],
                    }
                    for minute in range(MINUTES + 1)
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    return subprocess.run(
        [require_binary("promtool"), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _labels(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(labels.items()) if k != "alertname"}


@pytest.mark.parametrize("order", ["record_first", "alert_first"])
def test_engine_and_backtest_fire_when_promtool_says(tmp_path, order, request):
    store = _store(tmp_path)
    request.addfinalizer(store.close)
    rules = our_rules(order)
    engine = AlertEngine(store, rules)
    live: dict[int, list[dict[str, str]]] = {}
    for minute in range(MINUTES + 1):
        report = engine.run(T0 + minute * M)
        assert not report.broken, report.broken
        firing = [_labels(a.labels) for a in report.alerts if a.state == "firing"]
        live[minute] = sorted(firing, key=lambda labels: labels["svc"])
    assert any(live.values()), "the scenario must fire"
    result = _promtool_test(tmp_path, order, live)
    assert result.returncode == 0, result.stdout + result.stderr

    # the backtest replays the recording rules too, in group order: over the store the
    # engine recorded into (its recordings hidden in the range) and over one without them
    fresh = _store(tmp_path / "fresh")
    request.addfinalizer(fresh.close)
    for history_store in (store, fresh):
        assert _backtest_firing(history_store, rules) == live


def _backtest_firing(store: Store, rules: list[Rule]) -> dict[int, list[dict[str, str]]]:
    """Per minute, the label sets the backtest has firing."""
    result = backtest(store, rules, T0, T0 + MINUTES * M)
    assert all(h.errors == 0 for h in result.rules + result.recording)
    (history,) = result.rules
    replayed: dict[int, list[dict[str, str]]] = {m: [] for m in range(MINUTES + 1)}
    for label_set in history.label_sets.values():
        for interval in label_set.intervals:
            if interval.state != "firing":
                continue
            end = interval.end or T0 + (MINUTES + 1) * M
            for minute in range(MINUTES + 1):
                if interval.start <= T0 + minute * M < end:
                    replayed[minute].append(label_set.labels)
    return {m: sorted(v, key=lambda labels: labels["svc"]) for m, v in replayed.items()}


def test_a_wrong_expectation_fails_under_promtool(tmp_path):
    """The check above can fail: one firing alert left out is caught by promtool."""
    firing = {m: [] for m in range(MINUTES + 1)}
    result = _promtool_test(tmp_path, "record_first", firing)
    assert result.returncode == 1, textwrap.shorten(result.stdout, 300)
