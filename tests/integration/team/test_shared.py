"""Two consoles' stores on one team database: the shared tables are one record for both."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from console.alerts.lifecycle import Alert, Transition
from console.alerts.persistence import load_alerts, save
from console.alerts.silences import create_silence, load_silences
from console.incidents.lifecycle import acknowledge, add_note, declare, resolve
from console.incidents.records import get_incident, list_incidents, timeline
from console.rules.matchers import parse_matcher
from console.store import Store
from console.store.audit import list_audit, write_audit
from console.team.shared import CHANNEL, postgres_sql
from tests.integration.team.conftest import PASSWORD, team_workspace
from tests.postgres import Postgres

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 30, 0, 250000)


def test_an_incident_declared_in_one_console_is_acked_in_the_other(consoles: tuple[Store, Store]) -> None:
    a, b = consoles
    incident = declare(a, "fraud p99 latency over SLO", now=T0, actor="alice", severity="SEV2")
    assert [i.id for i in list_incidents(b)] == [incident.id]

    acked = acknowledge(b, incident.id, now=T0 + timedelta(minutes=2), actor="bob")
    add_note(b, incident.id, "rolling back to v3", now=T0 + timedelta(minutes=3), actor="bob")
    seen = get_incident(a, incident.id)
    assert (seen.status, seen.commander, seen.acked_at) == ("acknowledged", "bob", acked.acked_at)
    assert [(e.kind, e.actor, e.text) for e in timeline(a, incident.id)][-2:] == [
        ("status", "bob", "triggered → acknowledged"),
        ("note", "bob", "rolling back to v3"),
    ]
    assert timeline(a, incident.id) == timeline(b, incident.id)

    resolve(a, incident.id, now=T0 + timedelta(minutes=9), actor="alice")
    assert get_incident(b, incident.id).status == "resolved"
    # Nothing of it is in either console's own file.
    for store in (a, b):
        assert store.query("SELECT count(*) FROM incidents")[1] == [(0,)]
        assert store.query("SELECT count(*) FROM timeline")[1] == [(0,)]


def test_alert_state_silences_and_audit_are_shared(consoles: tuple[Store, Store]) -> None:
    a, b = consoles
    alert = Alert(
        fingerprint="fp1",
        source="rule",
        rule="latency.yaml:FraudLatency",
        name="FraudLatency",
        labels={"service": "fraud", "note": "50% over; it's 'quoted' ?"},
        annotations={"summary": "p99 100% over"},
        state="firing",
        active_since=T0,
        fired_at=T0 + timedelta(minutes=5),
        value=0.731,
    )
    transition = Transition(
        "fp1", T0 + timedelta(minutes=5), "pending", "firing", 0.731, reason="for: 5m elapsed"
    )
    save(a, [alert], [transition], [])
    (theirs,) = load_alerts(b)
    assert (theirs.fingerprint, theirs.labels, theirs.state, theirs.fired_at, theirs.value) == (
        "fp1",
        alert.labels,
        "firing",
        alert.fired_at,
        0.731,
    )
    history = b.shared.query("SELECT from_state, to_state, reason FROM alert_history")[1]
    assert history == [("pending", "firing", "for: 5m elapsed")]
    # The rules' health stays each console's own.
    save(a, [alert], [], [_rule_state()])
    assert a.query("SELECT count(*) FROM rule_state")[1] == [(1,)]
    assert b.query("SELECT count(*) FROM rule_state")[1] == [(0,)]
    assert [x.fingerprint for x in load_alerts(b)] == ["fp1"]  # replaced, not added

    silence = create_silence(
        b,
        [parse_matcher('service="fraud"')],
        T0,
        T0 + timedelta(hours=2),
        created_by="bob",
        comment="rolling back",
        now=T0,
    )
    assert [s.id for s in load_silences(a)] == [silence.id]
    actions = [row["action"] for row in list_audit(a)]
    assert actions.count("silence.create") == 2  # before and after, written by b

    with a.shared.transaction() as cur:
        write_audit(
            cur,
            ts=T0,
            actor="alice",
            action="rollback",
            phase="after",
            target="mlflow:fraud",
            reason="100% errors",
            params={"nan": math.inf},
            result=None,
        )
    (row,) = [r for r in list_audit(b) if r["action"] == "rollback"]
    assert (row["reason"], row["target"]) == ("100% errors", "mlflow:fraud")


def _rule_state() -> dict[str, object]:
    return {
        "rule": "latency.yaml:FraudLatency",
        "source": "rules",
        "group": "latency",
        "last_eval": T0,
        "health": "ok",
        "error": None,
        "instances": 1,
        "duration_ms": 0.5,
        "file": "latency.yaml",
    }


def test_a_write_notifies_the_other_consoles(consoles: tuple[Store, Store], dsn: str) -> None:
    a, _ = consoles
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        declare(a, "drift on amount", now=T0, actor="alice")
        got = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert got == ["incidents,timeline"]


def test_a_failed_transaction_leaves_neither_backend_changed(consoles: tuple[Store, Store]) -> None:
    a, b = consoles
    with pytest.raises(RuntimeError), a.shared.transaction() as cur:
        cur.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at) VALUES (?, ?, ?, ?)",
            ["s1", "[]", T0, T0],
        )
        cur.local.execute("INSERT INTO changes (ts, kind, model) VALUES (?, 'deploy', 'fraud')", [T0])
        raise RuntimeError("the block failed")
    assert b.shared.query("SELECT count(*) FROM silences")[1] == [(0,)]
    assert a.query("SELECT count(*) FROM changes")[1] == [(0,)]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("SELECT a FROM t WHERE b = ? AND c LIKE 'x?%'", "SELECT a FROM t WHERE b = %s AND c LIKE 'x?%%'"),
        ('SELECT "a?" FROM t WHERE b = ?', 'SELECT "a?" FROM t WHERE b = %s'),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
    ],
)
def test_placeholders_are_translated_outside_quotes(ours: str, theirs: str) -> None:
    assert postgres_sql(ours) == theirs


def test_two_workspaces_share_incidents_through_the_cli(pg: Postgres, tmp_path: Path) -> None:
    dsn = pg.database(password=PASSWORD)
    alice = team_workspace(tmp_path / "alice", dsn)
    bob = team_workspace(tmp_path / "bob", dsn)
    assert alice.oncall("team", "init").returncode == 0
    for workspace in (alice, bob):
        Store.open(workspace.root / "oncall.duckdb").close()  # each console's own cache
    declared = alice.oncall("incident", "declare", "--title", "fraud p99 over SLO", "--severity", "SEV2")
    assert declared.returncode == 0, declared.stderr
    (listed,) = json.loads(bob.oncall("incident", "list", "--format", "json").stdout)
    assert listed["title"] == "fraud p99 over SLO"
    acked = bob.oncall("incident", "ack", str(listed["id"]))
    assert acked.returncode == 0, acked.stderr
    shown = json.loads(alice.oncall("incident", "show", str(listed["id"]), "--format", "json").stdout)
    assert shown["status"] == "acknowledged"
    # The store's own (empty) copy of a shared table never answers for the team's record.
    query = alice.oncall("query", "SELECT count(*) FROM incidents")
    assert query.returncode == 1 and query.stdout == ""
    assert query.stderr.startswith(f"oncall: incidents live in the team database ({alice.shown}), not in")


def test_an_unreachable_team_database_is_one_line_not_an_empty_list(pg: Postgres, tmp_path: Path) -> None:
    from tests.servers import free_port

    gone = team_workspace(tmp_path / "gone", f"postgresql://oncall:{PASSWORD}@127.0.0.1:{free_port()}/db")
    Store.open(gone.root / "oncall.duckdb").close()
    done = gone.oncall("incident", "list")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("oncall: team database postgresql://***@127.0.0.1:") and "unreachable" in line


def test_rules_eval_leaves_the_teams_alert_state_to_the_evaluator(team) -> None:
    done = team.oncall("rules", "eval")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("oncall: with team:, the alert state is the team's")


def test_a_connection_is_closed_once_its_thread_ended(consoles: tuple[Store, Store], pg: Postgres) -> None:
    import threading

    a, _ = consoles

    def read() -> None:
        a.shared.query("SELECT count(*) FROM incidents")

    for _ in range(30):  # as many refreshes, each on a new worker thread
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    read()
    with pg.admin() as admin:
        (count,) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'oncall' AND query NOT LIKE 'LISTEN%'"
        ).fetchone()
    assert count <= 3  # this thread's, the last worker's (closed at the next connection), b's
