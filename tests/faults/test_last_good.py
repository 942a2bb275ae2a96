"""A broken rule or SLO file while alerts fire: the last good version stays in force, nothing
resolves, and every command says so (as a user runs them, whole processes)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1, 12, 0)
ENV = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}
LATER = {"ONCALL_NOW": "2026-03-01T12:05:00Z"}

RULES = """groups:
  - name: g
    rules:
      - alert: ErrorsHigh
        expr: SELECT '500' AS code, 'api' AS service, 2.0 AS value
        labels: {severity: ticket}
      - alert: Other
        expr: SELECT 'web' AS service, 1.0 AS value
"""

SLOS = """slos:
  - name: avail
    objective: 99.9
    sli:
      ratio:
        bad: 'req_total{code="500"}'
        total: req_total
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "app.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\n")
    return tmp_path


def _alerts(oncall, ws: Path, env=LATER) -> dict[str, list[dict]]:
    listed = oncall("--workspace", str(ws), "alerts", "--format", "json", env=env)
    by_name: dict[str, list[dict]] = {}
    for alert in json.loads(listed.stdout):
        by_name.setdefault(alert["name"], []).append(alert)
    return by_name


def test_a_rules_file_typo_keeps_its_alerts_firing_and_says_so_everywhere(ws, oncall):
    first = oncall("--workspace", str(ws), "rules", "eval", env=ENV)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "g/ErrorsHigh {code=500,service=api,severity=ticket}: inactive -> firing" in first.stdout
    with (ws / "rules" / "app.yaml").open("a") as handle:
        handle.write("   - alert: Bad\n  expr: [\n")  # one badly indented line
    again = oncall("--workspace", str(ws), "rules", "eval", env=LATER)
    assert again.returncode == 1
    assert "resolved" not in again.stdout
    (line,) = [x for x in again.stderr.splitlines() if "app.yaml" in x]
    assert f"{ws / 'rules' / 'app.yaml'}:" in line and "bad YAML" in line
    assert "last good version from 2026-03-01 12:00:00 UTC still in force" in line
    assert "Traceback" not in again.stderr
    alerts = _alerts(oncall, ws)
    assert [a["state"] for a in alerts["ErrorsHigh"]] == ["firing"]
    assert [a["state"] for a in alerts["Other"]] == ["firing"]
    # the meta-alert goes through the normal alert path (and so to Alertmanager)
    (meta,) = alerts["OncallConfigInvalid"]
    assert meta["state"] == "firing" and meta["labels"]["file"] == str(ws / "rules" / "app.yaml")
    for command in (("check",), ("alerts",), ("rules",), ("slo",)):
        shown = oncall("--workspace", str(ws), *command, env=LATER)
        assert shown.returncode == 1, (command, shown.stdout, shown.stderr)
        assert "still in force" in shown.stdout + shown.stderr, command
    # the file fixed: it loads again, nothing was lost, the meta-alert resolves
    (ws / "rules" / "app.yaml").write_text(RULES)
    fixed = oncall("--workspace", str(ws), "rules", "eval", env={"ONCALL_NOW": "2026-03-01T12:10:00Z"})
    assert fixed.returncode == 0, fixed.stderr
    assert "OncallConfigInvalid" in fixed.stdout and "firing -> resolved" in fixed.stdout
    assert "ErrorsHigh" not in fixed.stdout


def test_a_typo_with_no_last_good_version_keeps_the_stored_state_marked_stale(ws, oncall):
    oncall("--workspace", str(ws), "rules", "eval", env=ENV)
    with Store.open(ws / "oncall.duckdb") as store, store.transaction() as cur:
        cur.execute("DELETE FROM config_files")  # as a store from before this feature
    (ws / "rules" / "app.yaml").write_text(RULES.replace("expr: SELECT '500'", "exprr: SELECT '500'"))
    again = oncall("--workspace", str(ws), "rules", "eval", "--format", "json", env=LATER)
    assert again.returncode == 1
    report = json.loads(again.stdout)
    assert not [t for t in report["transitions"] if t["rule"].startswith("g/")]
    assert set(report["stale"]) == {"g/ErrorsHigh", "g/Other"}
    assert "no last good version" in again.stderr and "unknown key" in again.stderr
    (problem,) = report["config_problems"]
    assert problem["last_good_at"] is None and "app.yaml" in problem["file"]
    alerts = _alerts(oncall, ws)
    assert [a["state"] for a in alerts["ErrorsHigh"]] == ["firing"]


def test_removing_a_rule_on_purpose_resolves_it_with_the_reason(ws, oncall):
    oncall("--workspace", str(ws), "rules", "eval", env=ENV)
    (ws / "rules" / "app.yaml").write_text(RULES.split("      - alert: Other")[0])
    again = oncall("--workspace", str(ws), "rules", "eval", env=LATER)
    assert again.returncode == 0, again.stderr
    assert (
        f"g/Other {{service=web}}: firing -> resolved (rule removed from {ws / 'rules' / 'app.yaml'})"
    ) in again.stdout
    assert "ErrorsHigh" not in again.stdout
    with Store.open_read(ws / "oncall.duckdb") as store:
        reasons = store.query("SELECT to_state, reason FROM alert_history WHERE reason IS NOT NULL")[1]
    assert reasons == [("resolved", f"rule removed from {ws / 'rules' / 'app.yaml'}")]


def _burning_store(path: Path) -> None:
    """Three days of requests, from two hours before NOW on at 50% errors: the SLO pages."""
    step = timedelta(minutes=5)
    times = [NOW + timedelta(minutes=30) - step * (864 - 1 - i) for i in range(864)]
    good, bad, g, b = [], [], 0.0, 0.0
    for t in times:
        errors = 500.0 if t > NOW - timedelta(hours=2) else 0.0
        g, b = g + 1000 - errors, b + errors
        good.append(g)
        bad.append(b)
    with Store.open(path) as store:
        ingest_samples(
            store,
            pd.DataFrame(
                {
                    "name": "req_total",
                    "labels": [canonical_labels({"code": "200"})] * 864
                    + [canonical_labels({"code": "500"})] * 864,
                    "ts": times + times,
                    "value": good + bad,
                }
            ),
        )


def test_an_slo_typo_keeps_its_burn_alerts_firing(tmp_path, oncall):
    (tmp_path / "slos.yaml").write_text(SLOS)
    (tmp_path / "oncall.yaml").write_text("slos: [slos.yaml]\n")
    _burning_store(tmp_path / "oncall.duckdb")
    first = oncall("--workspace", str(tmp_path), "rules", "eval", env=ENV)
    assert first.returncode == 0, first.stderr
    fired = _alerts(oncall, tmp_path, ENV)["SLOErrorBudgetBurn"]
    assert len(fired) == 4 and {a["state"] for a in fired} <= {"firing", "suppressed"}
    (tmp_path / "slos.yaml").write_text(SLOS.replace("objective: 99.9", "objective: 99.5x"))
    again = oncall("--workspace", str(tmp_path), "rules", "eval", env=LATER)
    assert again.returncode == 1
    assert "resolved" not in again.stdout
    (line,) = [x for x in again.stderr.splitlines() if "slos.yaml" in x]
    assert f"{tmp_path / 'slos.yaml'}:3:" in line and "objective" in line
    assert "still in force" in line
    after = _alerts(oncall, tmp_path)["SLOErrorBudgetBurn"]
    assert sorted(a["fingerprint"] for a in after) == sorted(a["fingerprint"] for a in fired)
    assert {a["state"] for a in after} == {a["state"] for a in fired}
    status = oncall("--workspace", str(tmp_path), "slo", "--format", "json", env=LATER)
    assert status.returncode == 1 and "still in force" in status.stderr
    assert [s["slo"] for s in json.loads(status.stdout)] == ["avail"]  # the last good SLO


def test_a_rule_whose_evaluation_fails_keeps_its_alerts_and_raises_a_meta_alert(ws, oncall):
    oncall("--workspace", str(ws), "rules", "eval", env=ENV)
    # valid YAML and a valid rule, but its SQL now fails at evaluation time
    (ws / "rules" / "app.yaml").write_text(
        RULES.replace(
            "expr: SELECT '500' AS code, 'api' AS service, 2.0 AS value",
            "expr: SELECT '500' AS code, 'api' AS service, 2.0 AS value FROM no_such_table",
        )
    )
    again = oncall("--workspace", str(ws), "rules", "eval", env=LATER)
    assert again.returncode == 1
    assert "failing: g/ErrorsHigh: SQL error" in again.stdout and "resolved" not in again.stdout
    rules = oncall("--workspace", str(ws), "rules", "--format", "json", env=LATER)
    (row,) = [r for r in json.loads(rules.stdout) if r["rule"] == "g/ErrorsHigh"]
    assert row["health"] == "error" and "no_such_table" in row["error"]
    oncall("--workspace", str(ws), "rules", "eval", env={"ONCALL_NOW": "2026-03-01T12:06:00Z"})
    alerts = _alerts(oncall, ws, {"ONCALL_NOW": "2026-03-01T12:06:00Z"})
    assert [a["state"] for a in alerts["ErrorsHigh"]] == ["firing"]
    (meta,) = alerts["OncallRuleFailing"]
    assert meta["state"] == "firing" and meta["labels"]["rule"] == "g/ErrorsHigh"


def test_the_engine_reloads_a_changed_file_and_keeps_the_last_good_one(ws):
    """The console's engine: an edit is picked up at the next tick; a typo keeps what ran."""
    from console.config.workspace import load_workspace
    from console.runtime.engine import Engine

    workspace = load_workspace(ws / "oncall.yaml")
    with Store.open(workspace.store_path) as store:
        engine = Engine(workspace, store, collectors=[])
        engine.tick(NOW)
        keys = {r.key for r in engine.alerts.rules}
        assert {"g/ErrorsHigh", "g/Other"} <= keys
        (ws / "rules" / "app.yaml").write_text(
            RULES + "      - alert: Third\n        expr: SELECT 3.0 AS value\n"
        )
        events = [e.text for e in engine.tick(NOW + timedelta(minutes=1)).events]
        assert any("configuration reloaded" in e for e in events)
        assert "g/Third" in {r.key for r in engine.alerts.rules}
        (ws / "rules" / "app.yaml").write_text("groups: [\n")
        events = [e.text for e in engine.tick(NOW + timedelta(minutes=2)).events]
        assert any(e.startswith("does not load: ") and "still in force" in e for e in events)
        assert {"g/ErrorsHigh", "g/Other", "g/Third"} <= {r.key for r in engine.alerts.rules}
        states = dict(store.query("SELECT name, state FROM alerts")[1])
        assert states["ErrorsHigh"] == states["Third"] == "firing"


def test_a_broken_workspace_file_keeps_its_last_good_version(ws, oncall):
    first = oncall("--workspace", str(ws), "rules", "eval", env=ENV)
    assert first.returncode == 0, first.stderr
    assert (ws / ".oncall").stat().st_mode & 0o777 == 0o700
    (ws / "oncall.yaml").write_text("rules: [rules/*.yaml]\nallow_actions: true\nsources: {\n")
    again = oncall("--workspace", str(ws), "rules", "eval", env=LATER)
    assert again.returncode == 1
    assert "resolved" not in again.stdout
    (line,) = [x for x in again.stderr.splitlines() if "oncall.yaml" in x]
    assert f"{ws / 'oncall.yaml'}:" in line and "bad YAML" in line and "still in force" in line
    assert [a["state"] for a in _alerts(oncall, ws)["ErrorsHigh"]] == ["firing"]


def test_a_broken_playbook_keeps_its_last_good_version(tmp_path, oncall):
    (tmp_path / "playbooks").mkdir()
    book = tmp_path / "playbooks" / "mine.yaml"
    book.write_text(
        "id: mine\ntitle: Mine\napplies_to: {alerts: [ErrorsHigh]}\nsteps:\n"
        "  - id: look\n    kind: instruction\n    title: Look\n"
        "    text: look at the dashboard\n"
    )
    (tmp_path / "oncall.yaml").write_text("playbooks: [playbooks/]\n")
    assert oncall("--workspace", str(tmp_path), "check", env=ENV).returncode == 0
    assert oncall("--workspace", str(tmp_path), "rules", "eval", env=ENV).returncode == 0
    book.write_text(book.read_text().replace("kind: instruction", "kind: instructoin"))
    checked = oncall("--workspace", str(tmp_path), "check", env=LATER)
    assert checked.returncode == 1
    (line,) = [x for x in checked.stdout.splitlines() if "mine.yaml" in x]
    assert "last good version from 2026-03-01 12:00:00 UTC still in force" in line
    from console.config.workspace import load_workspace
    from console.runtime.lastgood import load_config

    workspace = load_workspace(tmp_path / "oncall.yaml")
    with Store.open_read(workspace.store_path) as store:
        config = load_config(workspace, store, NOW)
    assert "mine" in config.playbooks and config.status[str(book)] == "last-good"


def test_removing_a_paging_rule_on_purpose_says_so_in_the_incident_timeline(ws):
    from console.config.workspace import load_workspace
    from console.incidents import lifecycle as incidents
    from console.runtime.engine import Engine

    (ws / "rules" / "app.yaml").write_text(RULES.replace("severity: ticket", "severity: page"))
    workspace = load_workspace(ws / "oncall.yaml")
    with Store.open(workspace.store_path) as store:
        engine = Engine(workspace, store, collectors=[])
        engine.tick(NOW)
        (incident,) = incidents.list_incidents(store)
        (ws / "rules" / "app.yaml").write_text(
            RULES.split("      - alert: ErrorsHigh")[0] + RULES.split("labels: {severity: ticket}\n")[1]
        )
        engine.tick(NOW + timedelta(minutes=1))
        texts = [e.text for e in incidents.timeline(store, incident.id)]
    assert f"alert resolved: ErrorsHigh (rule removed from {ws / 'rules' / 'app.yaml'})" in texts
