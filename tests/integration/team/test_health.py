"""`oncall team status` and `oncall check` on a real Postgres: up, not initialised, stopped, wrong password."""

from __future__ import annotations

import json
import time

import pytest

from console.team.schema import SCHEMA_VERSION
from tests.conftest import run_oncall
from tests.integration.team.conftest import PASSWORD, team_workspace
from tests.postgres import remove, start_postgres

pytestmark = pytest.mark.integration


def _team_problems(check_stdout: str) -> list[str]:
    return [line for line in check_stdout.splitlines() if "team database" in line]


def test_status_of_a_reachable_database(team):
    before = team.oncall("team", "status")
    assert before.returncode == 1  # no schema yet
    assert before.stdout.splitlines()[0].endswith("no oncall schema yet; run `oncall team init`")
    assert team.oncall("team", "init").returncode == 0
    done = team.oncall("team", "status")
    assert done.returncode == 0, done.stderr
    line = done.stdout.splitlines()[0]
    assert line.startswith(f"team database {team.shown}: reachable (PostgreSQL 1")
    assert f", schema v{SCHEMA_VERSION}, " in line and line.endswith(" ms")
    health = json.loads(team.oncall("team", "status", "--format", "json").stdout)
    assert health["reachable"] is True and health["schema_version"] == health["latest"] == SCHEMA_VERSION
    assert health["user"] == "alice@example.com" and health["problem"] is None
    assert 0 < health["latency_ms"] < 1000
    check = team.oncall("check")
    assert f"  team        {team.shown}: reachable, schema v{SCHEMA_VERSION}, " in check.stdout
    assert _team_problems(check.stdout) == []


def test_a_stopped_server_is_one_problem_line(tmp_path):
    server = start_postgres()
    try:
        ws = team_workspace(tmp_path / "ws", server.database(password=PASSWORD))
        assert ws.oncall("team", "init").returncode == 0
        server.stop()
        started = time.monotonic()
        done = ws.oncall("team", "status")
        assert time.monotonic() - started < 30
        assert done.returncode == 1
        line, *_ = done.stdout.splitlines()
        assert line.startswith(f"team database {ws.shown} is unreachable: ")
        assert "Connection refused" in line
        check = ws.oncall("check")
        assert check.returncode == 1
        assert f"  team        {ws.shown}: unreachable" in check.stdout
        [problem] = _team_problems(check.stdout)
        assert problem.startswith(f"{ws.path}: team database {ws.shown} is unreachable: ")
        report = json.loads(ws.oncall("check", "--format", "json").stdout)
        assert report["team"]["reachable"] is False
        assert any("is unreachable" in p for p in report["problems"])
    finally:
        remove(server)


def test_a_wrong_password_says_so_without_the_password(pg, tmp_path):
    dsn = pg.database(password=PASSWORD).replace(PASSWORD, "Wrong-Pass-7")
    ws = team_workspace(tmp_path / "ws", dsn)
    done = ws.oncall("team", "status")
    assert done.returncode == 1
    assert 'password authentication failed for user "oncall"' in done.stdout
    assert "Wrong-Pass-7" not in done.stdout + done.stderr


def test_without_a_team_key_the_commands_say_how_to_add_one(tmp_path):
    (tmp_path / "oncall.yaml").write_text("store: oncall.duckdb\n")
    done = run_oncall("-w", str(tmp_path), "team", "status")
    assert done.returncode == 2
    assert "has no `team:` key; add `team: {dsn_file: PATH}` (docs/team.md)" in done.stderr
    check = run_oncall("-w", str(tmp_path), "check")
    assert "team " not in check.stdout  # nothing about a team when none is set
