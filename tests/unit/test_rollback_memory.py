"""Rollback memory: a version rolled away from is marked bad and not proposed again (issue #17)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from console.cli.main import main
from console.registry.local import seed_demo_registry
from console.store import Store

NOW = datetime(2026, 3, 1, 12, 0)


def _workspace(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text(
        "registries:\n  - name: local\n    kind: local\nallow_actions: true\n"
    )
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo_registry(store, now=NOW)
    return tmp_path / "oncall.yaml"


def _oncall(ws: Path, *argv: str, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setenv("ONCALL_NOW", "2026-03-01T12:00:00Z")
    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    monkeypatch.chdir(ws.parent)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    try:
        code = main(["-w", str(ws), *argv])
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def _champion(ws: Path) -> str:
    with Store.open_read(ws.parent / "oncall.duckdb") as store:
        return store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1][0][0]


def _rolled_back_once(ws: Path, monkeypatch, capsys) -> None:
    argv = ("rollback", "fraud-detector", "--reason", "v3 errors", "--yes", "--incident", "7")
    code, _, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert _champion(ws) == "2"


def test_the_version_rolled_away_from_is_marked_in_the_same_transaction(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        marks = store.query(
            "SELECT model, version, incident_id, reason, actor, ts, cleared_at FROM version_marks"
        )[1]
        [(after_ts,)] = store.query("SELECT ts FROM audit WHERE phase = 'after'")[1]
    [(model, version, incident, reason, actor, ts, cleared)] = marks
    assert (model, version, incident, reason, cleared) == ("fraud-detector", "3", 7, "v3 errors", None)
    assert actor.endswith("(on behalf of alice)") and ts == after_ts


def test_a_second_rollback_does_not_propose_the_version_rolled_away_from(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    code, out, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--dry-run",
        "--format",
        "json",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    plan = json.loads(out)["plan"]
    assert (plan["params"]["from_version"], plan["params"]["to_version"]) == ("2", "1")
    assert "marked" not in plan["params"]
    assert any(line.startswith("not proposed: v3 is marked bad") for line in plan["lines"])
    # roll back to v1 too: v2 is marked, nothing unmarked is left before v1
    code, _, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--reason",
        "v2 too",
        "--yes",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err and _champion(ws) == "1"
    code, out, err = _oncall(
        ws, "rollback", "fraud-detector", "--dry-run", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and out == ""
    assert "v2, v3" in err and "--to VERSION --force" in err and len(err.strip().splitlines()) == 1


def test_naming_the_marked_version_needs_force_and_shows_the_mark(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    argv = ("rollback", "fraud-detector", "--to", "3", "--reason", "retry", "--yes")
    code, out, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and _champion(ws) == "2"
    assert "v3 is marked bad: rolled away from in incident #7 by " in out and "(v3 errors)" in out
    assert "add --force" in err and len(err.strip().splitlines()) == 1
    code, out, err = _oncall(ws, *argv, "--force", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert "v3 is marked bad: rolled away from in incident #7" in out and _champion(ws) == "3"
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        denied = store.query("SELECT count(*) FROM audit WHERE phase = 'denied'")[1][0][0]
    assert denied == 1


def test_models_history_shows_the_mark(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    code, out, _ = _oncall(ws, "models", "history", "fraud-detector", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "MARKED_BAD" in out
    assert "v3 is marked bad: rolled away from in incident #7" in out
    code, out, _ = _oncall(
        ws, "models", "history", "fraud-detector", "--format", "json", monkeypatch=monkeypatch, capsys=capsys
    )
    [move] = json.loads(out)
    assert move["marked_bad"]["version"] == "3" and move["marked_bad"]["incident_id"] == 7
    assert move["marked_bad"]["reason"] == "v3 errors"


def test_a_forced_promote_of_the_marked_version_clears_the_mark(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    argv = ("promote", "fraud-detector", "3", "--reason", "fixed upstream", "--yes")
    code, out, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and "add --force" in err and _champion(ws) == "2"
    code, out, err = _oncall(ws, *argv, "--force", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err and _champion(ws) == "3"
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        [(cleared_at, reason)] = store.query("SELECT cleared_at, cleared_reason FROM version_marks")[1]
        [(result,)] = store.query("SELECT result FROM audit WHERE action = 'promote' AND phase = 'after'")[1]
    assert cleared_at is not None and reason == "fixed upstream"
    assert json.loads(result)["cleared_mark"]["version"] == "3"
    code, out, _ = _oncall(
        ws, "models", "history", "fraud-detector", "--format", "json", monkeypatch=monkeypatch, capsys=capsys
    )
    assert all(move["marked_bad"] is None for move in json.loads(out))
    # no longer marked: naming it needs no --force
    code, out, err = _oncall(
        ws, "rollback", "fraud-detector", "--to", "3", "--dry-run", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and "already v3" in err


def _playbook(tmp_path: Path, args: str) -> Path:
    path = tmp_path / f"pb-{len(list(tmp_path.glob('pb-*')))}.yaml"
    path.write_text(
        "id: roll\ntitle: roll back\nsteps:\n  - id: roll\n    kind: action\n    action: rollback\n"
        f"    args: {args}\n    reason: from the playbook\n"
    )
    return path


def test_a_playbook_rollback_step_skips_the_marked_version_and_refuses_naming_it(tmp_path):
    from console.playbooks.context import RunContext
    from console.playbooks.loading import load_playbook
    from console.playbooks.runs import start_run

    with Store.open(tmp_path / "s.duckdb") as store:
        registry = seed_demo_registry(store, now=NOW)
        ctx = RunContext(store=store, actor="alice", clock=lambda: NOW, registry=registry, allow_actions=True)
        first = start_run(ctx, load_playbook(_playbook(tmp_path, "{model: fraud-detector}")))
        assert first.advance(confirm=True, reason="v3 errors").outcome == "passed"
        second = start_run(ctx, load_playbook(_playbook(tmp_path, "{model: fraud-detector}")))
        text = second.preview().plan.text
        assert "champion v2 → v1" in text and "not proposed: v3 is marked bad" in text, text
        named = start_run(ctx, load_playbook(_playbook(tmp_path, '{model: fraud-detector, to: "3"}')))
        assert "v3 is marked bad: rolled away from by alice" in named.preview().plan.text
        outcome = named.advance(confirm=True, reason="retry")
        assert outcome.outcome == "failed" and "add --force" in (outcome.error or "")
        assert store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1] == [("2",)]


def test_the_alias_history_is_followed_past_the_marked_version(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    for argv in (
        ("promote", "fraud-detector", "1"),
        ("promote", "fraud-detector", "2"),
        ("rollback", "fraud-detector"),
    ):
        code, _, err = _oncall(ws, *argv, "--reason", "x", "--yes", monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, err
    assert _champion(ws) == "1"  # v2 → v1 by the alias history; v2 is marked
    code, out, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--dry-run",
        "--format",
        "json",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    params = json.loads(out)["plan"]["params"]
    assert (params["from_version"], params["to_version"]) == ("1", "3")
    assert params["basis"] == "alias history, skipping marked v2"


def _standing(ws: Path) -> list[str]:
    with Store.open_read(ws.parent / "oncall.duckdb") as store:
        return [r[0] for r in store.query("SELECT version FROM version_marks WHERE cleared_at IS NULL")[1]]


def test_a_forced_rollback_to_the_marked_version_lifts_its_mark(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    argv = ("rollback", "fraud-detector", "--to", "3", "--force", "--reason", "v3 fixed", "--yes")
    code, _, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert _champion(ws) == "3"
    assert _standing(ws) == ["2"]  # v3 serves again by choice; v2, rolled away from now, is marked


def test_unmark_lifts_a_mark_with_a_reason_and_audits_it(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    _rolled_back_once(ws, monkeypatch, capsys)
    code, _, err = _oncall(
        ws, "models", "unmark", "fraud-detector", "3", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and "--reason" in err
    assert _standing(ws) == ["3"]
    argv = ("models", "unmark", "fraud-detector", "v3", "--reason", "hotfix 3.1 deployed")
    code, out, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert out.startswith("unmarked fraud-detector/v3: was v3 is marked bad")
    assert _standing(ws) == []
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        rows = store.query("SELECT action, phase, reason FROM audit WHERE action = 'unmark' ORDER BY id")[1]
    assert rows == [("unmark", "denied", None), ("unmark", "after", "hotfix 3.1 deployed")]
    code, out, err = _oncall(
        ws, "rollback", "fraud-detector", "--dry-run", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0, err
    assert "v2 → v3" in out  # proposed again once lifted
    code, _, err = _oncall(ws, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1 and "no standing mark" in err
