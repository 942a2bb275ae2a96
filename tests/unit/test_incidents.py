"""Incident lifecycle: validated transitions, ordered timestamps, grouping, severity, MTTA/MTTR."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.incidents import lifecycle as incidents
from console.incidents.lifecycle import IncidentError
from console.store import Store

T0 = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def add_alert(store, fingerprint: str, name: str, labels: dict[str, str], fired_at=T0) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, state, "
            "active_since, fired_at) VALUES (?, 'rule', ?, ?, ?, ?, 'firing', ?, ?)",
            [
                fingerprint,
                f"g/{name}",
                name,
                json.dumps(labels),
                json.dumps({"summary": "p99 over 250ms"}),
                fired_at,
                fired_at,
            ],
        )


def test_lifecycle_refuses_skips_and_backwards_time(store) -> None:
    inc = incidents.declare(store, "checkout slow", now=T0, actor="alice", severity="SEV2")
    with pytest.raises(IncidentError, match="can move to acknowledged, not resolved"):
        incidents.resolve(store, inc.id, now=T0 + timedelta(minutes=1), actor="alice")
    inc = incidents.acknowledge(store, inc.id, now=T0 + timedelta(minutes=4), actor="bob")
    assert inc.commander == "bob"
    with pytest.raises(IncidentError, match="before its last milestone"):
        incidents.mitigate(store, inc.id, now=T0 + timedelta(minutes=2), actor="bob")
    incidents.mitigate(store, inc.id, now=T0 + timedelta(minutes=20), actor="bob")
    inc = incidents.resolve(store, inc.id, now=T0 + timedelta(minutes=50), actor="bob")
    incidents.close(store, inc.id, now=T0 + timedelta(hours=2), actor="bob")
    with pytest.raises(IncidentError, match="closed"):
        incidents.acknowledge(store, inc.id, now=T0 + timedelta(hours=3), actor="bob")
    assert inc.time_to_ack == timedelta(minutes=4) and inc.time_to_resolve == timedelta(minutes=50)
    texts = [e.text for e in incidents.timeline(store, inc.id)]
    assert texts[1:] == [
        "triggered → acknowledged",
        "acknowledged → mitigated",
        "mitigated → resolved",
        "resolved → closed",
    ]
    means = incidents.mean_times([inc, incidents.declare(store, "x", now=T0, actor="a")])
    assert means["mtta"] == timedelta(minutes=4)


def test_declare_from_alert_suggests_severity_and_groups_alerts(store) -> None:
    add_alert(store, "aaa111", "ModelLatencyHigh", {"severity": "page", "model": "fraud", "pod": "1"})
    add_alert(store, "bbb222", "ModelLatencyHigh", {"severity": "page", "model": "fraud", "pod": "2"})
    add_alert(store, "ccc333", "ModelErrorRateHigh", {"severity": "ticket", "model": "fraud"})
    first, created = incidents.declare_from_alert(store, "aaa", now=T0, actor="alice")
    assert created and first.severity == "SEV2" and first.alerts == ["aaa111"]
    same, created = incidents.declare_from_alert(store, "bbb222", now=T0, actor="alice")
    assert not created and same.id == first.id and same.alerts == ["aaa111", "bbb222"]
    other, created = incidents.declare_from_alert(store, "ccc333", now=T0, actor="alice")
    assert created and other.severity == "SEV3"
    split = incidents.split_alert(store, first.id, "bbb222", now=T0, actor="alice")
    assert split.id not in (first.id, other.id) and split.alerts == ["bbb222"]
    assert incidents.get_incident(store, first.id).alerts == ["aaa111"]
    edited = incidents.set_severity(store, first.id, "SEV1", now=T0, actor="alice")
    assert edited.severity == "SEV1"
    kinds = [e.kind for e in incidents.timeline(store, first.id)]
    assert kinds.count("alert") >= 2 and "edit" in kinds


def test_notes_are_appended_and_history_copied_once(store) -> None:
    add_alert(store, "aaa111", "ModelLatencyHigh", {"severity": "page"})
    inc, _ = incidents.declare_from_alert(store, "aaa111", now=T0, actor="alice")
    incidents.add_note(store, inc.id, "looking at the deploy", now=T0, actor="alice")
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alert_history (fingerprint, ts, from_state, to_state, value) VALUES ('aaa111', ?, 'firing', 'resolved', 0)",
            [T0 + timedelta(minutes=30)],
        )
    assert incidents.record_alert_events(store, inc.id) == 1
    assert incidents.record_alert_events(store, inc.id) == 0
    entries = incidents.timeline(store, inc.id)
    assert ("note", "alice", "looking at the deploy") in [(e.kind, e.actor, e.text) for e in entries]
    assert entries[-1].text == "alert resolved: ModelLatencyHigh"
    with pytest.raises(IncidentError, match="no incident 99"):
        incidents.add_note(store, 99, "x", now=T0, actor="a")


def test_incident_cli_lifecycle_and_export(oncall, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    (tmp_path / "oncall.yaml").write_text(f"store: {db}\n")
    env = {"ONCALL_NOW": "2026-11-20T12:00:00Z"}
    made = oncall(
        "incident", "declare", "--title", "scores slow", "--severity", "SEV2", cwd=tmp_path, env=env
    )
    assert made.returncode == 0, made.stderr
    bad = oncall("incident", "resolve", "1", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "not resolved" in bad.stderr and "Traceback" not in bad.stderr
    env["ONCALL_NOW"] = "2026-11-20T12:05:00Z"
    assert oncall("incident", "ack", "1", cwd=tmp_path, env=env).returncode == 0
    assert oncall("incident", "note", "1", "rolled back by hand", cwd=tmp_path, env=env).returncode == 0
    env["ONCALL_NOW"] = "2026-11-20T12:30:00Z"
    assert oncall("incident", "resolve", "1", cwd=tmp_path, env=env).returncode == 0
    shown = oncall("incident", "show", "1", cwd=tmp_path, env=env)
    assert "rolled back by hand" in shown.stdout and "TTA 5m 00s" in shown.stdout
    md = oncall("incident", "export", "1", "--format", "md", cwd=tmp_path, env=env)
    assert md.returncode == 0 and "# Incident 1: scores slow" in md.stdout
    assert "(MTTR): 30m 00s" in md.stdout
