"""`oncall team import` against a real Postgres: every shared row copied once, ids kept or mapped."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from console.store import Store
from console.team.schema import NAMESPACE, SCHEMA_VERSION, SHARED_TABLES
from tests.integration.team.conftest import team_workspace

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 30, 0, 123456)


def fill_store(path: Path, incidents: int, tag: str) -> None:
    """A store with rows in every shared table: NULLs, NaN, unicode, JSON, microseconds."""
    with Store.open(path) as store, store.transaction() as cur:
        for n in range(incidents):
            at = T0 + timedelta(minutes=n)
            incident = cur.execute("SELECT nextval('incident_id_seq')").fetchall()[0][0]
            cur.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    incident,
                    f"{tag} p99 latency über SLO #{n}",
                    "SEV2",
                    "resolved" if n % 2 else "open",
                    "alice" if n % 2 else None,
                    f"g{n}",
                    at,
                    at + timedelta(seconds=30),
                    None,
                    at + timedelta(hours=1) if n % 2 else None,
                    None,
                    json.dumps([f"fp{n}"]),
                    json.dumps({"followups": [{"text": "add a canary", "owner": "bob"}]}),
                ],
            )
            for k in range(3):
                cur.execute(
                    "INSERT INTO timeline VALUES (nextval('timeline_id_seq'), ?, ?, ?, ?, ?, ?)",
                    [
                        incident,
                        at + timedelta(seconds=k),
                        ("opened", "note", "ack")[k],
                        "alice",
                        f"{tag} note {k} ✓",
                        None if k else json.dumps({"k": k}),
                    ],
                )
            cur.execute(
                "INSERT INTO playbook_runs VALUES (nextval('playbook_run_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    incident,
                    "latency",
                    at,
                    None,
                    "running",
                    "check-dashboards",
                    "{}",
                    json.dumps({"s1": "done"}),
                ],
            )
            cur.execute(
                "INSERT INTO audit (id, ts, actor, uid, on_behalf_of, action, phase, target, reason, params, result) "
                "VALUES (nextval('audit_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    at,
                    "root",
                    0,
                    "alice@example.com",
                    "incident.followup",
                    "after",
                    f"incident:{incident}",
                    None,
                    json.dumps({"text": "add a canary"}),
                    json.dumps({"ok": True}),
                ],
            )
            cur.execute(
                "INSERT INTO version_marks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ["fraud", str(n + 3), "local", incident, "rolled back", "alice", at, None, None, None],
            )
        for n in range(4):
            fingerprint = f"{tag}-fp{n}"
            cur.execute(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    fingerprint,
                    "rule",
                    "g/HighLatency",
                    "HighLatency",
                    json.dumps({"svc": "fraud"}),
                    None,
                    "firing",
                    T0,
                    T0,
                    None,
                    T0,
                    None,
                    float("nan") if n == 0 else 0.25 * n,
                    None,
                    "[]",
                    None,
                ],
            )
            for state in ("pending", "firing"):
                cur.execute(
                    "INSERT INTO alert_history VALUES (?, ?, ?, ?, ?, ?)",
                    [fingerprint, T0, "inactive" if state == "pending" else "pending", state, 1.5, None],
                )
            cur.execute(  # the same transition twice: both rows are copied, once
                "INSERT INTO alert_history VALUES (?, ?, ?, ?, ?, ?)",
                [fingerprint, T0, "firing", "firing", None, "kept"],
            )
            cur.execute(
                "INSERT INTO alert_history VALUES (?, ?, ?, ?, ?, ?)",
                [fingerprint, T0, "firing", "firing", None, "kept"],
            )
            cur.execute(
                "INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"{tag}-s{n}",
                    json.dumps([{"name": "svc", "value": "fraud", "op": "="}]),
                    T0,
                    T0 + timedelta(hours=2),
                    "alice",
                    "maintenance",
                    "console",
                    None,
                ],
            )


def local_rows(path: Path, table: str) -> list[tuple]:
    with Store.open_read(path) as store:
        return store.query(f"SELECT * FROM {table}")[1]


def shared_rows(dsn: str, table: str) -> list[tuple]:
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT * FROM {NAMESPACE}.{table}").fetchall()


def canonical(rows: list[tuple]) -> list[tuple]:
    """Rows comparable across backends: NaN as a marker, sorted."""

    def cell(value):
        return "NaN" if isinstance(value, float) and math.isnan(value) else value

    return sorted((tuple(cell(v) for v in row) for row in rows), key=repr)


def test_import_copies_every_row_once(team):
    fill_store(team.root / "oncall.duckdb", 5, "a")
    assert team.oncall("team", "init").returncode == 0
    first = team.oncall("team", "import", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    for table in SHARED_TABLES:
        local = local_rows(team.root / "oncall.duckdb", table)
        assert local, table  # the fixture fills every shared table
        assert canonical(shared_rows(team.dsn, table)) == canonical(local), table
        assert report["tables"][table] == {
            "local": len(local),
            "copied": len(local),
            "already_there": 0,
            "renumbered": 0,
        }
    before = {table: canonical(shared_rows(team.dsn, table)) for table in SHARED_TABLES}

    second = team.oncall("team", "import")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("nothing to copy: all there")
    assert {table: canonical(shared_rows(team.dsn, table)) for table in SHARED_TABLES} == before


def test_a_second_store_gets_new_ids_and_its_references_follow(team, tmp_path):
    """Every store numbers its incidents from 1: the second one imported is renumbered, its
    timeline, runs, marks and audit targets still point at its own incidents."""
    fill_store(team.root / "oncall.duckdb", 3, "a")
    other = team_workspace(tmp_path / "bob", team.dsn)
    fill_store(other.root / "oncall.duckdb", 2, "b")
    assert team.oncall("team", "init").returncode == 0
    assert team.oncall("team", "import").returncode == 0
    done = other.oncall("team", "import", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["tables"]
    assert report["incidents"] == {"local": 2, "copied": 2, "already_there": 0, "renumbered": 2}
    assert report["alerts"]["copied"] == 4  # other fingerprints

    with psycopg.connect(team.dsn) as con:
        con.execute(f"SET search_path TO {NAMESPACE}")
        titles = dict(con.execute("SELECT id, title FROM incidents").fetchall())
        assert sorted(titles) == [1, 2, 3, 4, 5]
        for incident_id, title in titles.items():
            tag = title[0]
            notes = con.execute("SELECT text FROM timeline WHERE incident_id = %s", [incident_id]).fetchall()
            assert sorted(n for (n,) in notes) == [f"{tag} note {k} ✓" for k in range(3)], title
            assert con.execute(
                "SELECT count(*) FROM playbook_runs WHERE incident_id = %s", [incident_id]
            ).fetchone() == (1,)
            assert con.execute(
                "SELECT count(*) FROM version_marks WHERE incident_id = %s", [incident_id]
            ).fetchone() == (1,)
            assert con.execute(
                "SELECT count(*) FROM audit WHERE target = %s", [f"incident:{incident_id}"]
            ).fetchone() == (1,)
        next_id = con.execute("SELECT nextval('incident_id_seq')").fetchone()
    assert next_id == (6,)  # new incidents do not collide with imported ones

    again = other.oncall("team", "import")
    assert again.returncode == 0 and "nothing to copy" in again.stdout


def test_import_before_init_says_what_to_do(team):
    fill_store(team.root / "oncall.duckdb", 1, "a")
    done = team.oncall("team", "import")
    assert done.returncode == 1
    assert f"has no oncall schema, this oncall needs v{SCHEMA_VERSION}; run `oncall team init` first" in (
        done.stderr
    )
