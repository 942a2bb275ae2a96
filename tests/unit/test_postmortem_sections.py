"""The postmortem a reader sends: alerts by name, what changed, decisions, readable actions, numbers."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.incidents import lifecycle as incidents
from console.incidents.followups import add_followup
from console.incidents.postmortem import _impact_line, export_markdown
from console.incidents.records import append_timeline
from console.store import Store
from console.store.audit import write_audit

T0 = datetime(2026, 11, 20, 12, 0, 0)
MODEL = "fraud-detector"


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def declared(store, labels: dict[str, str] | None = None) -> int:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, source, rule, name, labels, annotations, state, "
            "active_since, fired_at) VALUES ('abcdef0123456789', 'rule', 'g/ModelLatencyHigh', "
            "'ModelLatencyHigh', ?, '{}', 'firing', ?, ?)",
            [json.dumps(labels or {"model": MODEL, "severity": "page"}), T0, T0],
        )
    incident, _ = incidents.declare_from_alert(store, "abcdef0123456789", now=T0, actor="alice")
    return incident.id


def test_alerts_are_listed_by_name_and_labels_with_controls_escaped(store) -> None:
    incident = declared(store, {"model": MODEL, "pod": "a\x1b[31mred\nx"})
    text = export_markdown(store, incident, now=T0)
    assert 'ModelLatencyHigh{model="fraud-detector", pod="a\\x1b[31mred\\nx"}' in text
    assert "\x1b" not in text


def test_what_changed_lists_the_ranked_suspects(store) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO changes VALUES (?, 'alias_move', ?, '3', 'ci-deployer', ?, 'registry')",
            [T0 - timedelta(minutes=2), MODEL, json.dumps({"from_version": "2"})],
        )
        cur.execute(
            "INSERT INTO changes VALUES (?, 'config', 'other-model', NULL, 'bob', '{}', 'git')",
            [T0 - timedelta(hours=20)],
        )
    text = export_markdown(store, declared(store), now=T0 + timedelta(minutes=5))
    section = text.split("## What changed")[1].split("##")[0]
    first, second = [line for line in section.splitlines() if line[:2] in ("1.", "2.")]
    assert "alias_move fraud-detector v2 → v3 by ci-deployer" in first
    assert "config other-model by bob" in second


def test_decisions_show_the_question_and_the_answer(store) -> None:
    incident = declared(store)
    with store.transaction() as cur:
        append_timeline(
            cur,
            incident,
            T0 + timedelta(minutes=1),
            "step",
            "alice",
            "step started-with-deploy: answered",
            {
                "outcome": "answered",
                "question": "Did the latency rise start within minutes of the newest change?",
                "answer": "yes",
            },
        )
        append_timeline(
            cur,
            incident,
            T0 + timedelta(minutes=2),
            "step",
            "alice",
            "step older: answered",
            {"outcome": "answered"},
        )
    text = export_markdown(store, incident, now=T0 + timedelta(minutes=5))
    section = text.split("## Decisions")[1].split("##")[0]
    assert "Did the latency rise start within minutes of the newest change? — answer: yes (alice)" in section
    assert "step older: answered — answer: (not recorded)" in section


def test_a_planned_action_reads_as_text_lines_not_json(store) -> None:
    incident = declared(store)
    with store.transaction() as cur:
        write_audit(
            cur,
            ts=T0 + timedelta(minutes=1),
            actor="alice",
            action="rollback",
            phase="planned",
            target=f"local:{MODEL}",
            reason="latency after deploy",
            params={"from_version": "3", "to_version": "2"},
            result={"plan": "rollback fraud-detector: champion v3 → v2\n  from: v3\n  to: v2"},
        )
    text = export_markdown(store, incident, now=T0 + timedelta(minutes=5))
    section = text.split("## Actions")[1].split("##")[0]
    assert "\\u2192" not in section and "\\n" not in section
    assert "  - change: v3 → v2" in section
    assert "  - reason: latency after deploy" in section
    assert "  - plan: rollback fraud-detector: champion v3 → v2\n    from: v3\n    to: v2" in section


def test_the_burn_shown_is_the_difference_of_the_figures_shown() -> None:
    # 56.54% → 44.96% is 11.58% burned: shown as 56.5% → 45.0%, the burn must read 11.5%, not 11.6%
    row = {"slo": "s", "group": {}, "burned": 0.1158, "remaining_before": 0.5654, "remaining_after": 0.4496}
    line = _impact_line(row)
    assert "burned during the incident 11.5% (remaining 56.5% → 45.0%)" in line


def test_followups_are_listed_and_none_says_how_to_add_one(store, tmp_path: Path) -> None:
    incident = declared(store)
    empty = export_markdown(store, incident, now=T0)
    assert "(none recorded yet; add one with `oncall incident followup ID TEXT`" in empty
    add_followup(store, incident, "alert on p99 per version", now=T0, actor="alice", owner="bob")
    text = export_markdown(store, incident, now=T0)
    assert "- [ ] alert on p99 per version (owner: bob)" in text
    assert "follow-up: alert on p99 per version" in text  # the timeline entry
    audit = store.query("SELECT action, target FROM audit WHERE action = 'incident.followup'")[1]
    assert audit == [("incident.followup", f"incident:{incident}")]
    assert stat.S_IMODE(os.stat(tmp_path / "s.duckdb").st_mode) == 0o600
    with pytest.raises(incidents.IncidentError, match="needs text"):
        add_followup(store, incident, "  ", now=T0, actor="alice")


def test_followup_cli_adds_lists_and_exports(oncall, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    (tmp_path / "oncall.yaml").write_text(f"store: {db}\n")
    env = {"ONCALL_NOW": "2026-11-20T12:00:00Z"}
    assert oncall("incident", "declare", "--title", "slow", cwd=tmp_path, env=env).returncode == 0
    none = oncall("incident", "followups", "1", cwd=tmp_path, env=env)
    assert none.returncode == 0 and "oncall incident followup 1 TEXT" in none.stdout
    added = oncall("incident", "followup", "1", "pin numpy", "--owner", "bob", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    assert "follow-up added: pin numpy" in added.stdout
    listed = oncall("incident", "followups", "1", "--format", "json", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    [item] = json.loads(listed.stdout)
    assert item["text"] == "pin numpy" and item["owner"] == "bob"
    missing = oncall("incident", "followup", "9", "x", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no incident 9" in missing.stderr and "Traceback" not in missing.stderr
    shown = oncall("incident", "show", "1", "--format", "json", cwd=tmp_path, env=env)
    assert [f["text"] for f in json.loads(shown.stdout)["followups"]] == ["pin numpy"]
    md = oncall("incident", "export", "1", cwd=tmp_path, env=env)
    assert "- [ ] pin numpy (owner: bob)" in md.stdout
