"""Headless end to end: alert → incident → latency playbook → rollback → wait_for → export."""

from __future__ import annotations

import json
import os
import pwd
from datetime import datetime, timedelta
from pathlib import Path

from console.incidents import lifecycle as incidents
from console.incidents.postmortem import export_markdown
from console.playbooks.context import RunContext
from console.playbooks.loading import SHIPPED_DIR, load_library
from console.playbooks.matching import match_playbooks
from console.playbooks.runs import start_run
from console.registry.local import seed_demo_registry
from console.store import Store

T0 = datetime(2026, 11, 20, 12, 0, 0)
MODEL = "fraud-detector"


def add_latency(store, ts: datetime, value: float) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO series VALUES (1, 'request_latency_p99_seconds', ?, 'k') ON CONFLICT DO NOTHING",
            [json.dumps({"model": MODEL})],
        )
        cur.execute("INSERT INTO sample_rows (series_id, ts, value) VALUES (1, ?, ?)", [ts, value])


def test_alert_to_rollback_to_export(tmp_path: Path) -> None:
    clock_now = [T0]
    clock = lambda: clock_now[0]  # noqa: E731
    with Store.open(tmp_path / "s.duckdb") as store:
        registry = seed_demo_registry(store, now=T0 - timedelta(hours=1))
        with store.transaction() as cur:
            cur.execute(
                "INSERT INTO changes VALUES (?, 'alias_move', ?, '3', 'ci', '{}', 'mlflow')",
                [T0 - timedelta(minutes=20), MODEL],
            )
            cur.execute(
                "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, "
                "state, active_since, fired_at) VALUES ('fp1', 'rule', 'ml/ModelLatencyHigh', "
                "'ModelLatencyHigh', ?, ?, 'firing', ?, ?)",
                [
                    json.dumps({"severity": "page", "model": MODEL, "slo": "fraud-latency"}),
                    json.dumps({"summary": "p99 over 250ms"}),
                    T0 - timedelta(minutes=3),
                    T0 - timedelta(minutes=1),
                ],
            )
        for minute in range(10):
            add_latency(store, T0 - timedelta(minutes=10 - minute), 0.9)

        incident, created = incidents.declare_from_alert(store, "fp1", now=T0, actor="alice")
        assert created and incident.severity == "SEV2"
        library, problems = load_library([SHIPPED_DIR])
        assert not problems
        alert = incidents.alert_row(store, "fp1")
        matched = match_playbooks(library, alert["name"], alert["labels"])
        assert matched[0].id == "latency-regression-after-deploy"
        clock_now[0] = T0 + timedelta(minutes=2)
        incidents.acknowledge(store, incident.id, now=clock(), actor="alice")

        def sleep(seconds: float) -> None:  # the service recovers after the rollback
            clock_now[0] += timedelta(seconds=seconds)
            add_latency(store, clock_now[0], 0.12)

        ctx = RunContext(
            store=store, actor="alice", clock=clock, sleep=sleep, registry=registry, allow_actions=True
        )
        runner = start_run(ctx, matched[0], incident=incidents.get_incident(store, incident.id))
        assert runner.context["vars"]["model"] == MODEL
        assert runner.advance().outcome == "passed"  # recent changes found
        assert runner.advance().outcome == "passed"  # latency is over the threshold
        assert runner.advance(answer="yes").next_step == "rollback"
        preview = runner.preview()
        assert "champion v3 → v2" in preview.plan.text  # the plan is shown before it runs
        rolled = runner.advance(confirm=True)
        assert rolled.outcome == "passed", rolled.error
        assert registry.resolve_alias(MODEL, "champion").version == "2"
        waited = runner.advance()
        assert waited.outcome == "passed" and waited.output["polls"] == 2
        assert runner.advance().outcome == "done" and runner.status == "done"  # incident: mitigate
        assert incidents.get_incident(store, incident.id).status == "mitigated"
        clock_now[0] += timedelta(minutes=10)
        incidents.resolve(store, incident.id, now=clock(), actor="alice")

        text = export_markdown(store, incident.id, now=clock())
    assert "# Incident 1: ModelLatencyHigh: p99 over 250ms" in text
    me = pwd.getpwuid(os.getuid()).pw_name  # the OS account, "alice" only claimed
    assert f"rollback (after) on local:{MODEL}\n  - change: v3 → v2" in text
    assert f"  - actor: {me} (on behalf of alice)" in text
    assert "latency regression after deploy (ModelLatencyHigh on fraud-detector)" in text
    for line in (
        "alert fired: ModelLatencyHigh",
        "step rollback",
        "step watch-latency",
        "acknowledged → mitigated",
        "mitigated → resolved",
    ):
        assert line in text, line
    assert "Time to acknowledge (MTTA): 2m 00s" in text
