"""The team identity (`team.user`) as the default claim, with the shared tables in a real Postgres."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from console.cli.main import main as cli_main
from console.config.workspace import load_workspace
from console.incidents import lifecycle as incidents
from console.runtime.session import Session
from console.store import Store
from console.team.shared import attach
from tests.conftest import run_oncall
from tests.integration.team.conftest import PASSWORD
from tests.postgres import Postgres
from tests.sock import NOW
from tests.unit.test_roles_cli import assign_audit, oncall_in

pytestmark = pytest.mark.integration

ME = pwd.getpwuid(os.getuid()).pw_name
TEAM = "team:\n  dsn_file: team.dsn\n  user: dana\n"


@pytest.fixture
def root(pg: Postgres, tmp_path: Path) -> Path:
    """A workspace on a fresh team database (schema made), its store created."""
    (tmp_path / "team.dsn").write_text(pg.database(password=PASSWORD) + "\n")
    os.chmod(tmp_path / "team.dsn", 0o600)
    (tmp_path / "oncall.yaml").write_text("store: oncall.duckdb\n" + TEAM)
    Store.open(tmp_path / "oncall.duckdb").close()
    assert run_oncall("-w", str(tmp_path), "team", "init").returncode == 0
    return tmp_path


def _attached(root: Path) -> Store:
    store = Store.open_read(root / "oncall.duckdb")
    workspace = load_workspace(root / "oncall.yaml")
    attach(store, workspace.config.team, workspace.root)
    return store


def test_the_team_identity_is_the_default_claim_and_the_commander_on_ack(runtime, root) -> None:
    for argv in (("declare", "--title", "fraud 5xx"), ("ack", "1"), ("assign", "1", "--responder", "bob")):
        result = oncall_in(root, runtime, "incident", *argv)
        assert result.returncode == 0, result.stderr
    claimed = oncall_in(root, runtime, "incident", "assign", "1", "--responder", "carol", actor="erin")
    assert claimed.returncode == 0, claimed.stderr
    with _attached(root) as store:
        assert incidents.get_incident(store, 1).commander == "dana"
        assert assign_audit(store) == [
            (ME, os.getuid(), "dana", "incident:1"),
            (ME, os.getuid(), "erin", "incident:1"),
        ]
        actors = [e.actor for e in incidents.timeline(store, 1)]
    assert actors == [f"{ME} (on behalf of dana)"] * 3 + [f"{ME} (on behalf of erin)"]


def test_the_console_acts_for_the_team_identity(runtime, root) -> None:
    """The console's own keys and a command forwarded to it from another terminal both claim team.user."""
    session = Session(
        load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, run_command=cli_main
    )
    try:
        assert (session.actor.name, session.actor.on_behalf_of) == (ME, "dana")
        incident = incidents.declare(session.store, "fraud 5xx", now=NOW, actor=session.actor)
        acked = incidents.acknowledge(session.store, incident.id, now=NOW, actor=session.actor)
        assert acked.commander == "dana"
        forwarded = oncall_in(root, runtime, "incident", "assign", str(incident.id), "--responder", "bob")
        assert forwarded.returncode == 0 and "ran this command there" in forwarded.stderr, forwarded.stderr
        rows = assign_audit(session.store)
    finally:
        session.close()
    assert rows == [(ME, os.getuid(), "dana", f"incident:{incident.id}")]
