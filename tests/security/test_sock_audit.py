"""The audited actor is the OS account, --actor / $ONCALL_ACTOR only "on behalf of"; refused
attempts are in the audit log (issue 14, point 5)."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from console.cli.main import main as cli_main
from console.config.workspace import load_workspace
from console.registry.local import seed_demo_registry
from console.runtime.session import Session
from console.store import Store
from tests.conftest import run_oncall
from tests.sock import NOW

ME = pwd.getpwuid(os.getuid()).pw_name


def _workspace(root: Path, *, allow: bool = True) -> Path:
    root.mkdir(exist_ok=True)
    (root / "oncall.yaml").write_text(
        "registries:\n  - name: local\n    kind: local\n    protected_models: [fraud-detector]\n"
        f"allow_actions: {'true' if allow else 'false'}\n"
    )
    with Store.open(root / "oncall.duckdb") as store:
        seed_demo_registry(store, now=NOW)
    return root


def _oncall(root: Path, runtime: Path, *args: str, actor: str | None = None):
    env = {"XDG_RUNTIME_DIR": str(runtime), "ONCALL_NOW": "2026-03-01T12:00:00Z"}
    if actor:
        env["ONCALL_ACTOR"] = actor
    return run_oncall("-w", str(root), *args, cwd=root, env=env)


def _audit(store: Store, where: str = "TRUE") -> list[tuple]:
    return store.query(
        f"SELECT action, phase, actor, uid, on_behalf_of, result FROM audit WHERE {where} ORDER BY id"
    )[1]


def test_a_forwarded_action_is_audited_as_the_clients_os_account(runtime, tmp_path):
    root = _workspace(tmp_path)
    session = Session(
        load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, run_command=cli_main
    )
    try:
        assert session.control is not None
        rolled = _oncall(
            root,
            runtime,
            "rollback",
            "fraud-detector",
            "--reason",
            "v3 errors",
            "--yes",
            "--no-watch",
            "--actor",
            "alice",
            "--confirm",
            "fraud-detector",
        )
        promoted = _oncall(
            root,
            runtime,
            "promote",
            "fraud-detector",
            "3",
            "--reason",
            "back",
            "--yes",
            "--force",  # v3 is marked bad by the rollback just before (issue #17)
            "--confirm",
            "fraud-detector",
            actor="bob",
        )
        declared = _oncall(root, runtime, "incident", "declare", "--title", "fraud 5xx", actor="carol")
        for result in (rolled, promoted, declared):
            assert result.returncode == 0, result.stderr
            assert "ran this command there" in result.stderr
        rows = _audit(session.store, "action IN ('rollback', 'promote')")
        timeline = session.store.query("SELECT actor FROM timeline WHERE kind = 'declared'")[1]
        owner_actor = session.actor
    finally:
        session.close()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("rollback", "before", ME, os.getuid(), "alice"),
        ("rollback", "after", ME, os.getuid(), "alice"),
        ("promote", "before", ME, os.getuid(), "bob"),
        ("promote", "after", ME, os.getuid(), "bob"),
    ]
    assert timeline == [(f"{ME} (on behalf of carol)",)]
    assert owner_actor == ME and "ONCALL_ACTOR" not in os.environ  # no claim leaked to the owner


def test_a_direct_action_is_audited_as_the_os_account(runtime, tmp_path):
    root = _workspace(tmp_path)
    done = _oncall(
        root,
        runtime,
        "rollback",
        "fraud-detector",
        "--reason",
        "v3 errors",
        "--yes",
        "--no-watch",
        "--confirm",
        "fraud-detector",
        actor="alice",
    )
    assert done.returncode == 0, done.stderr
    history = _oncall(root, runtime, "models", "history", "fraud-detector", "--format", "json")
    with Store.open_read(root / "oncall.duckdb") as store:
        rows = _audit(store)
    assert {(r[2], r[3], r[4]) for r in rows} == {(ME, os.getuid(), "alice")}
    assert json.loads(history.stdout)[0]["actor"] == f"{ME} (on behalf of alice)"


def test_refused_attempts_are_in_the_audit_log(runtime, tmp_path):
    writable, read_only = _workspace(tmp_path / "w"), _workspace(tmp_path / "r", allow=False)
    attempts = [
        (writable, ["rollback", "fraud-detector", "--yes"], "needs a reason"),
        (
            writable,
            ["promote", "fraud-detector", "1", "--reason", "x", "--yes", "--confirm", "fraud"],
            "is protected",
        ),
        (read_only, ["rollback", "fraud-detector", "--reason", "x", "--yes"], "read-only"),
        (read_only, ["alerts", "silence", "alertname=X", "--comment", "c"], "allow_actions"),
    ]
    for root, argv, expected in attempts:
        result = _oncall(root, runtime, *argv, actor="mallory")
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    listed = {}
    for root in (writable, read_only):
        shown = _oncall(root, runtime, "audit", "--phase", "denied", "--format", "json")
        assert shown.returncode == 0, shown.stderr
        listed[root] = json.loads(shown.stdout)
    assert [(r["action"], r["actor"], r["on_behalf_of"]) for r in listed[writable]] == [
        ("rollback", ME, "mallory"),
        ("promote", ME, "mallory"),
    ]
    assert [r["action"] for r in listed[read_only]] == ["rollback", "silence.create"]
    errors = [json.loads(r["result"])["error"] for r in listed[writable] + listed[read_only]]
    assert [e for e, (_, _, expected) in zip(errors, attempts) if expected not in e] == []
    table = _oncall(read_only, runtime, "audit")
    assert f"{ME} (on behalf of mallory)" in table.stdout and "denied" in table.stdout


def test_a_refused_attempt_forwarded_to_the_console_is_audited_there(runtime, tmp_path):
    root = _workspace(tmp_path, allow=False)
    session = Session(
        load_workspace(root / "oncall.yaml"), clock=lambda: NOW, run_engine=False, run_command=cli_main
    )
    try:
        result = _oncall(root, runtime, "alerts", "silence", "alertname=X", "--comment", "c", actor="mallory")
        rows = _audit(session.store, "phase = 'denied'")
    finally:
        session.close()
    assert result.returncode == 2 and "allow_actions" in result.stderr
    assert [(r[0], r[2], r[4]) for r in rows] == [("silence.create", ME, "mallory")]
