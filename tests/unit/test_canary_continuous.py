"""The console judges each canary every `interval` (issue #20, item 4): a judgement that raises
stops neither the tick nor the other canaries and is said; `CanaryFailed` fires through the
normal alert path for a fail (page or ticket by `on_fail`), never for a pass or no data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collectors.demo import deploy_demo_version
from console.config.workspace import load_workspace
from console.registry.local import seed_demo_registry
from console.runtime.engine import Engine
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 11, 20, 12, 0)
MODEL = "fraud-detector"

CANARIES = """canaries:
  - name: fraud-v4
    model: fraud-detector
    baseline: champion
    canary: canary
    interval: 1m
    lookback: 30m
    on_fail: {on_fail}
    metrics:
      - name: latency_p99
        query: latency_seconds
        critical: true
  - name: other
    model: fraud-detector
    baseline: "2"
    canary: canary
    interval: 1m
    metrics:
      - name: latency_p99
        query: latency_seconds
"""


def workspace(root: Path, on_fail: str = "rollback", allow_actions: bool = True) -> Path:
    (root / "canaries").mkdir(parents=True, exist_ok=True)
    (root / "canaries" / "fraud.yaml").write_text(CANARIES.format(on_fail=on_fail))
    (root / "oncall.yaml").write_text(
        "store: oncall.duckdb\nregistries:\n  - name: local\n    kind: local\n"
        f"canaries: [canaries/*.yaml]\nallow_actions: {'true' if allow_actions else 'false'}\n"
    )
    return root / "oncall.yaml"


def record(store: Store, canary_level: float | None, *, points: int = 30) -> None:
    """`latency_seconds` of v3 (about 0.1 s) and v4 (about `canary_level`) each minute up to NOW."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(points):
        t = NOW - timedelta(minutes=points - 1 - i)
        rows.append(("latency_seconds", canonical_labels({"version": "3"}), t, 0.1 + rng.normal(0, 0.005)))
        if canary_level is not None:
            level = canary_level + rng.normal(0, 0.005)
            rows.append(("latency_seconds", canonical_labels({"version": "4"}), t, level))
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        seed_demo_registry(opened, now=NOW - timedelta(days=1))
        deploy_demo_version(opened, "local", MODEL, at=NOW - timedelta(hours=1), alias="canary")
        yield opened


def canary_alerts(store: Store) -> list[tuple[str, dict, dict]]:
    rows = store.query("SELECT state, labels, annotations FROM alerts WHERE name = 'CanaryFailed'")[1]
    return [(state, json.loads(labels), json.loads(annotations)) for state, labels, annotations in rows]


def test_a_failing_canary_rolls_back_and_its_alert_says_why_as_a_ticket(tmp_path: Path, store: Store) -> None:
    record(store, 0.3)
    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[])
    events = [e.text for e in engine.tick(NOW).events]
    assert any(
        t.startswith("canary fraud-v4: fail 0.00 (latency_p99 +") and t.endswith("v4 vs v3") for t in events
    )
    assert (
        "canary fraud-v4: rollback applied: rolled back: rollback fraud-detector: canary v4 → v3; v4 is marked bad"
        in events
    )
    assert any(t.startswith("CanaryFailed firing {canary=fraud-v4,canary_version=4,") for t in events), events
    [(state, labels, annotations)] = canary_alerts(store)
    assert state == "firing"
    assert labels == {
        "alertname": "CanaryFailed",
        "canary": "fraud-v4",
        "model": MODEL,
        "canary_version": "4",
        "severity": "ticket",  # the rollback was applied: the bad version serves no one, nobody is woken
    }
    assert annotations["summary"].startswith("fail: critical metric latency_p99 is High (score 0")
    assert "latency_p99 +" in annotations["description"]
    # the canary alias is back on v3: the next judgement has nothing to compare, and says so once
    later = [e.text for e in engine.tick(NOW + timedelta(minutes=1)).events]
    assert "canary fraud-v4: canary and champion both name v3 of fraud-detector: nothing to judge" in later
    assert not [t for t in engine.tick(NOW + timedelta(minutes=2)).events if "fraud-v4" in t.text]


def test_on_fail_none_is_a_ticket_and_changes_nothing(tmp_path: Path, store: Store) -> None:
    record(store, 0.3)
    engine = Engine(load_workspace(workspace(tmp_path, on_fail="none")), store, collectors=[])
    engine.tick(NOW)
    [(state, labels, _)] = canary_alerts(store)
    assert (state, labels["severity"]) == ("firing", "ticket")
    assert store.query("SELECT version FROM registry_aliases WHERE alias = 'canary'")[1] == [("4",)]


@pytest.mark.parametrize("canary_level", [0.1, None], ids=["pass", "nodata"])
def test_no_canary_failed_for_a_pass_or_no_data(tmp_path: Path, store: Store, canary_level) -> None:
    record(store, canary_level)
    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[])
    events = [e.text for e in engine.tick(NOW).events]
    verdict = "pass" if canary_level else "nodata"
    assert any(t.startswith(f"canary fraud-v4: {verdict} ") for t in events), events
    assert canary_alerts(store) == []
    assert store.query("SELECT version FROM registry_aliases WHERE alias = 'canary'")[1] == [("4",)]


def test_each_canary_is_judged_once_an_interval(tmp_path: Path, store: Store) -> None:
    calls: list[tuple[str, datetime]] = []

    def judge(spec, now, dry_run):
        calls.append((spec.name, now))
        raise RuntimeError("judge down")

    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[], canary_judge=judge)
    engine.tick(NOW)
    engine.tick(NOW + timedelta(seconds=30))  # within the 1m interval: not again
    engine.tick(NOW + timedelta(minutes=1))
    assert calls == [(n, t) for t in (NOW, NOW + timedelta(minutes=1)) for n in ("fraud-v4", "other")]


def test_a_raising_judgement_is_said_and_stops_neither_the_tick_nor_the_others(
    tmp_path: Path, store: Store
) -> None:
    record(store, 0.3)
    from console.runtime.canaries import judge_in_console

    ws = load_workspace(workspace(tmp_path, on_fail="none"))

    def judge(spec, now, dry_run):
        if spec.name == "other":
            raise ConnectionError("registry unreachable\nsecond line")
        return judge_in_console(ws, store, spec, now, dry_run=dry_run)

    engine = Engine(ws, store, collectors=[], canary_judge=judge)
    events = [e.text for e in engine.tick(NOW).events]
    assert "canary other: judgement failed: ConnectionError: registry unreachable" in events
    assert any(t.startswith("canary fraud-v4: fail") for t in events)
    assert any(t.startswith("CanaryFailed firing {canary=fraud-v4,") for t in events)  # rules ran on
    assert engine.canaries.failures["other"].message == "ConnectionError: registry unreachable"
    later = [e.text for e in engine.tick(NOW + timedelta(minutes=1)).events]
    assert not [t for t in later if "judgement failed" in t]  # the same failure is said once


def test_an_analysis_with_a_metric_that_fails_to_collect_says_which(tmp_path: Path, store: Store) -> None:
    record(store, 0.3)
    rng = np.random.default_rng(1)
    twice = [  # a second v4 series: the query gives two series for version=4
        (
            "latency_seconds",
            canonical_labels({"version": "4", "pod": "b"}),
            NOW - timedelta(minutes=i),
            0.3 + rng.normal(0, 0.01),
        )
        for i in range(30)
    ]
    ingest_samples(store, pd.DataFrame(twice, columns=["name", "labels", "ts", "value"]))
    engine = Engine(load_workspace(workspace(tmp_path, on_fail="none")), store, collectors=[])
    events = [e.text for e in engine.tick(NOW).events]
    [line] = [t for t in events if t.startswith("canary fraud-v4: nodata")]
    assert (
        "1 metric failed to collect: latency_p99: gives 2 series for version=4: aggregate by (version)"
        in line
    )


def test_dry_run_only_plans_the_rollback(tmp_path: Path, store: Store) -> None:
    record(store, 0.3)
    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[], canaries="dry-run")
    events = [e.text for e in engine.tick(NOW).events]
    assert any(t.startswith("canary fraud-v4: rollback dry-run: dry run: would roll back") for t in events)
    assert store.query("SELECT version FROM registry_aliases WHERE alias = 'canary'")[1] == [("4",)]
    assert canary_alerts(store)[0][1]["severity"] == "page"


def test_canaries_off_judges_nothing(tmp_path: Path, store: Store) -> None:
    record(store, 0.3)
    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[], canaries="off")
    assert not [e for e in engine.tick(NOW).events if e.kind == "canary"]
    assert store.query("SELECT count(*) FROM canary_analyses")[1] == [(0,)]


def test_canary_failed_resolves_once_the_latest_verdict_passes(tmp_path: Path, store: Store) -> None:
    """The alert reads the stored analyses, whoever made them (here `oncall canary run`'s way)."""
    from dataclasses import replace

    from console.canary.stored import store_analysis
    from console.runtime.canaries import judge_in_console

    record(store, 0.3)
    ws = load_workspace(workspace(tmp_path, on_fail="none"))
    engine = Engine(ws, store, collectors=[], canaries="off")  # no judging in the engine
    engine.tick(NOW - timedelta(minutes=1))
    assert canary_alerts(store) == []
    spec = engine.config.canaries[0]
    failed = judge_in_console(ws, store, spec, NOW, dry_run=False).analysis
    assert failed.verdict == "fail"
    events = [e.text for e in engine.tick(NOW).events]
    assert any(t.startswith("CanaryFailed firing {canary=fraud-v4,") for t in events), events
    later = NOW + timedelta(seconds=30)
    store_analysis(store, replace(failed, at=later, verdict="pass", score=100.0, reason="pass: score 100"))
    events = [e.text for e in engine.tick(NOW + timedelta(minutes=1)).events]
    assert any(t.startswith("CanaryFailed resolved {canary=fraud-v4,") for t in events), events


def test_before_the_canary_alias_exists_nothing_is_judged_and_that_is_said_once(
    tmp_path: Path, store: Store
) -> None:
    with store.transaction() as cur:
        cur.execute("DELETE FROM registry_aliases WHERE alias = 'canary'")
    engine = Engine(load_workspace(workspace(tmp_path)), store, collectors=[])
    said = "canary fraud-v4: fraud-detector has no alias 'canary' (yet): no canary to judge"
    assert said in [e.text for e in engine.tick(NOW).events]
    assert engine.canaries.failures == {}
    assert engine.canaries.skipped["fraud-v4"] == said.split(": ", 1)[1]
    assert said not in [e.text for e in engine.tick(NOW + timedelta(minutes=1)).events]
    assert store.query("SELECT count(*) FROM canary_analyses")[1] == [(0,)]
