"""`oncall incident assign` and the team identity as the default claim (issue 21, point 5)."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from console.config.workspace import load_workspace
from console.runtime.session import Session
from console.store import Store
from tests.conftest import run_oncall
from tests.sock import NOW

ME = pwd.getpwuid(os.getuid()).pw_name


def _workspace(root: Path, extra: str = "") -> Path:
    root.mkdir(exist_ok=True)
    (root / "oncall.yaml").write_text("store: oncall.duckdb\n" + extra)
    return root


def oncall_in(root: Path, runtime: Path, *args: str, actor: str | None = None):
    """`oncall -w ROOT ARGS` with `runtime` as its $XDG_RUNTIME_DIR (and `actor` claimed)."""
    env = {"XDG_RUNTIME_DIR": str(runtime), "ONCALL_NOW": "2026-03-01T12:00:00Z"}
    if actor:
        env["ONCALL_ACTOR"] = actor
    return run_oncall("-w", str(root), *args, cwd=root, env=env)


def assign_audit(store: Store) -> list[tuple]:
    """The audit rows of role changes, wherever the store's shared tables are."""
    return store.shared.query(
        "SELECT actor, uid, on_behalf_of, target FROM audit WHERE action = 'incident.assign' ORDER BY id"
    )[1]


def test_assign_from_the_cli(runtime, tmp_path) -> None:
    root = _workspace(tmp_path)
    assert oncall_in(root, runtime, "incident", "declare", "--title", "fraud 5xx").returncode == 0
    done = oncall_in(
        root,
        runtime,
        "incident",
        "assign",
        "1",
        "--commander",
        "alice",
        "--responder",
        "bob",
        "--responder",
        "carol",
        "--format",
        "json",
        actor="erin",
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["commander"], answer["responders"]) == ("alice", ["bob", "carol"])
    assert answer["changes"] == ["commander — → alice", "responder bob added", "responder carol added"]

    removed = oncall_in(root, runtime, "incident", "assign", "1", "--remove-responder", "bob")
    assert (removed.returncode, removed.stdout) == (0, "incident 1: responder bob removed\n")
    again = oncall_in(root, runtime, "incident", "assign", "1", "--responder", "carol")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr == "oncall: carol is already a responder of incident 1\n"
    nothing = oncall_in(root, runtime, "incident", "assign", "1")
    assert nothing.returncode == 2 and "nothing to assign: give --commander NAME" in nothing.stderr

    shown = oncall_in(root, runtime, "incident", "show", "1")
    assert "commander alice" in shown.stdout and "responders carol\n" in shown.stdout
    assert "responder bob removed" in shown.stdout
    as_json = json.loads(oncall_in(root, runtime, "incident", "show", "1", "--format", "json").stdout)
    assert as_json["responders"] == ["carol"]
    assert [e["text"] for e in as_json["timeline"] if e["kind"] == "role"] == [
        "commander — → alice",
        "responder bob added",
        "responder carol added",
        "responder bob removed",
    ]
    with Store.open_read(root / "oncall.duckdb") as store:
        assert assign_audit(store) == [
            (ME, os.getuid(), "erin", "incident:1"),
            (ME, os.getuid(), None, "incident:1"),
        ]


def test_without_a_team_identity_nobody_is_claimed(runtime, tmp_path) -> None:
    session = Session(
        load_workspace(_workspace(tmp_path) / "oncall.yaml"),
        clock=lambda: NOW,
        run_engine=False,
        listen=False,
    )
    try:
        assert (session.actor.name, session.actor.on_behalf_of) == (ME, None)
    finally:
        session.close()
