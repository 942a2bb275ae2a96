"""`oncall demo --team DSN` against a real Postgres: the demo's incident lives in the team database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from console.store import Store
from tests.e2e.test_demo_closed_loop import PAGE_LATENCY, START, Demo
from tests.integration.team.conftest import PASSWORD
from tests.postgres import Postgres

pytestmark = pytest.mark.integration


def test_the_demos_incident_and_audit_are_in_the_team_database(pg: Postgres, tmp_path: Path) -> None:
    dsn = pg.database(password=PASSWORD)
    root = tmp_path / "demo"
    demo = Demo(root, "--speed", "600", "--canary", "off", "--team", dsn)
    try:
        demo.wait_for(r"team database postgresql://\*\*\*@127\.0\.0\.1:\d+/db\d+: schema v\d+ created")
        demo.wait_for(PAGE_LATENCY)
        declared = demo.wait_for(r"incident (\d+) declared: SLOErrorBudgetBurn: fraud-scoring-latency")
    finally:
        assert demo.stop() == 0
    said = "\n".join(demo.lines)
    assert PASSWORD not in said and dsn not in said
    assert dsn not in (root / "oncall.yaml").read_text()
    assert stat.S_IMODE(os.stat(root / "team.dsn").st_mode) == 0o600
    with psycopg.connect(dsn) as con:
        titles = [
            r[0] for r in con.execute("SELECT title FROM oncall.incidents WHERE id = %s", [int(declared[1])])
        ]
        fired = con.execute("SELECT count(*) FROM oncall.alert_history WHERE to_state = 'firing'").fetchone()
    assert titles and titles[0].startswith("SLOErrorBudgetBurn") and fired[0] >= 1
    with Store.open(root / "oncall.duckdb") as store:
        assert store.query("SELECT count(*) FROM incidents")[1] == [(0,)]  # not in the local file
        assert store.query("SELECT count(*) FROM samples")[1][0][0] > 0  # metrics stay local


def test_an_unreachable_team_database_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    from tests.servers import free_port

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "demo",
            "--headless",
            "--duration",
            "1",
            "--dir",
            str(tmp_path / "d"),
            "--team",
            f"postgresql://oncall:{PASSWORD}@127.0.0.1:{free_port()}/oncall",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ONCALL_NOW": START},
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr and PASSWORD not in done.stderr
    (line,) = done.stderr.splitlines()
    assert "is unreachable" in line and line.endswith("the demo starts no database: --team names one you run")


def test_two_demos_on_one_database_are_two_engineers_on_one_incident(pg: Postgres, tmp_path: Path) -> None:
    """README's walk: one console evaluates, the other reads; an ack in one is news in the other."""
    dsn = pg.database(password=PASSWORD)
    alice = Demo(tmp_path / "a", "--speed", "600", "--canary", "off", "--team", dsn)
    bob = None
    try:
        alice.wait_for(r" team +evaluating for the team$")
        bob = Demo(tmp_path / "b", "--speed", "600", "--canary", "off", "--team", dsn)
        bob.wait_for(
            r" team +root on .* \(pid \d+, .*/a/oncall\.duckdb\) evaluates; this console reads$|"
            r" team +.* evaluates; this console reads$"
        )
        declared = alice.wait_for(r"incident (\d+) declared: SLOErrorBudgetBurn: fraud-scoring-latency")
        number = declared[1]
        # bob's console has its own store and no incident of its own: it acks the team's
        acked = subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "-w",
                str(tmp_path / "b" / "oncall.yaml"),
                "incident",
                "ack",
                number,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ONCALL_ACTOR": "bob", "ONCALL_NOW": START},
        )
        assert acked.returncode == 0, acked.stderr
        alice.wait_for(
            rf"incident {number}: triggered → acknowledged \(by .*on behalf of bob\)\)?$", timeout=60
        )
    finally:
        assert alice.stop() == 0
        assert bob is None or bob.stop() == 0
    with psycopg.connect(dsn) as con:
        incidents = con.execute("SELECT id, status, commander FROM oncall.incidents").fetchall()
    assert incidents == [(int(number), "acknowledged", "bob")]
