"""Rollback and promote against the local registry: guards, dry run, audit, history, hooks."""

from __future__ import annotations

import json
import os
import pwd
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from console.actions import ActionEnv, ActionFailed, ActionRefused, Rollback, render_argv
from console.cli.main import main
from console.registry.local import seed_demo_registry
from console.registry.mlflow import MlflowOptions, MlflowRegistry
from console.store import Store

NOW = datetime(2026, 3, 1, 12, 0)
HOSTILE = 'it\'s "quoted"; $(touch PWNED) `id` && echo x\nsecond line $HOME'
PRINT_ARGV = "import sys, json; print(json.dumps(sys.argv[1:]))"


def _workspace(
    tmp_path: Path, *, allow: bool = True, protected: bool = False, hook: list[str] | None = None
) -> Path:
    lines = ["registries:", "  - name: local", "    kind: local"]
    if protected:
        lines.append("    protected_models: [fraud-detector]")
    if hook:
        lines += ["    models:", "      fraud-detector:", "        deploy_hook: " + json.dumps(hook)]
    lines.append(f"allow_actions: {'true' if allow else 'false'}")
    (tmp_path / "oncall.yaml").write_text("\n".join(lines) + "\n")
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


def _state(ws: Path) -> tuple[str, int, int]:
    with Store.open_read(ws.parent / "oncall.duckdb") as store:
        champion = store.query("SELECT version FROM registry_aliases WHERE alias = 'champion'")[1][0][0]
        return champion, store.count("changes"), store.count("audit")


def test_rollback_moves_champion_back_and_records_history_and_audit(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    code, out, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--reason",
        "v3 errors",
        "--yes",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    assert "champion v3 → v2" in out and "from: v3, 4d old" not in out
    assert _state(ws)[0] == "2"
    code, out, _ = _oncall(
        ws, "models", "history", "fraud-detector", "--format", "json", monkeypatch=monkeypatch, capsys=capsys
    )
    [move] = json.loads(out)
    me = pwd.getpwuid(os.getuid()).pw_name  # the OS account; $ONCALL_ACTOR is a claim
    assert (move["from_version"], move["to_version"], move["actor"], move["reason"]) == (
        "3",
        "2",
        f"{me} (on behalf of alice)",
        "v3 errors",
    )
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        rows = store.query(
            "SELECT phase, actor, uid, on_behalf_of, reason, params, result FROM audit ORDER BY id"
        )[1]
    assert [r[0] for r in rows] == ["before", "after"]
    assert all(r[1:5] == (me, os.getuid(), "alice", "v3 errors") for r in rows)
    assert json.loads(rows[0][5])["to_version"] == "2"
    assert json.loads(rows[1][6]) == {"ok": True, "observed_version": "2"}


def test_second_rollback_follows_the_alias_history_not_version_order(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    assert (
        _oncall(
            ws,
            "promote",
            "fraud-detector",
            "1",
            "--reason",
            "try v1",
            "--yes",
            monkeypatch=monkeypatch,
            capsys=capsys,
        )[0]
        == 0
    )
    code, out, _ = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--reason",
        "v1 worse",
        "--yes",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0 and "champion v1 → v3" in out and "alias history" in out
    assert _state(ws)[0] == "3"


def test_dry_run_changes_nothing(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    before = _state(ws)
    code, out, _ = _oncall(
        ws, "rollback", "fraud-detector", "--dry-run", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0 and "champion v3 → v2" in out and "nothing changed" in out
    code, out, _ = _oncall(
        ws,
        "promote",
        "fraud-detector",
        "1",
        "--dry-run",
        "--format",
        "json",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert json.loads(out)["changed"] is False
    assert _state(ws) == before


def test_read_only_workspace_refuses_clearly(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path, allow=False)
    before = _state(ws)
    code, _, err = _oncall(
        ws, "rollback", "fraud-detector", "--reason", "x", "--yes", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2
    assert "read-only" in err and "allow_actions: true" in err and str(ws) in err
    assert _state(ws)[:2] == before[:2]  # nothing changed; the attempt is audited
    assert _denied(ws) == [("rollback", "x", err.strip().removeprefix("oncall: "))]


def _denied(ws: Path) -> list[tuple]:
    with Store.open_read(ws.parent / "oncall.duckdb") as store:
        rows = store.query("SELECT action, reason, result FROM audit WHERE phase = 'denied' ORDER BY id")[1]
    return [(action, reason, json.loads(result)["error"]) for action, reason, result in rows]


def test_protected_model_needs_its_name_typed(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path, protected=True)
    before = _state(ws)
    for extra in ([], ["--confirm", "fraud"]):
        code, _, err = _oncall(
            ws,
            "rollback",
            "fraud-detector",
            "--reason",
            "x",
            "--yes",
            *extra,
            monkeypatch=monkeypatch,
            capsys=capsys,
        )
        assert code == 2 and "protected" in err and "--confirm fraud-detector" in err
    assert _state(ws)[:2] == before[:2]
    assert [d[0] for d in _denied(ws)] == ["rollback", "rollback"]  # both wrong confirmations
    code, _, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--reason",
        "x",
        "--yes",
        "--confirm",
        "fraud-detector",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err and _state(ws)[0] == "2"


def test_apply_needs_a_reason_and_a_yes_when_not_interactive(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    code, _, err = _oncall(ws, "rollback", "fraud-detector", "--yes", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and "needs a reason" in err
    code, _, err = _oncall(
        ws, "rollback", "fraud-detector", "--reason", "x", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and "--yes" in err
    assert _state(ws)[0] == "3"


def test_hostile_tag_reaches_the_deploy_hook_as_one_literal_argument(tmp_path, monkeypatch, capsys):
    ws = _workspace(
        tmp_path,
        hook=[sys.executable, "-c", PRINT_ARGV, "{{ tags.note }}", "--model={{ model }}", "{{ reason }}"],
    )
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_demo_registry(store, now=NOW).set_tag("fraud-detector", "2", "note", HOSTILE)
    code, _out, err = _oncall(
        ws,
        "rollback",
        "fraud-detector",
        "--reason",
        "why; $(reboot)",
        "--yes",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    assert not (tmp_path / "PWNED").exists()
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        rows = store.query(
            "SELECT phase, params, result FROM audit WHERE action = 'deploy-hook' ORDER BY id"
        )[1]
    assert [r[0] for r in rows] == ["before", "after"]
    result = json.loads(rows[1][2])
    assert json.loads(result["stdout"]) == [HOSTILE, "--model=fraud-detector", "why; $(reboot)"]
    assert json.loads(rows[0][1])["argv"][3] == HOSTILE


def test_failing_deploy_hook_is_audited_and_exits_1(tmp_path, monkeypatch, capsys):
    ws = _workspace(
        tmp_path, hook=[sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    )
    code, out, _ = _oncall(
        ws, "rollback", "fraud-detector", "--reason", "x", "--yes", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 1 and "deploy hook FAILED: exited 3" in out
    assert _state(ws)[0] == "2"  # the rollback itself stands
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        phase, result = store.query(
            "SELECT phase, result FROM audit WHERE action = 'deploy-hook' ORDER BY id DESC LIMIT 1"
        )[1][0]
    assert phase == "failed" and json.loads(result)["stderr"].strip() == "boom"


def test_templates_render_in_a_sandbox(tmp_path):
    with pytest.raises(ActionRefused, match="deploy_hook\\[1\\]"):
        render_argv(["echo", "{{ ''.__class__.__mro__[1].__subclasses__() }}"], {})
    with pytest.raises(ActionRefused, match="undefined"):
        render_argv(["echo", "{{ nope }}"], {})


def _mlflow_json(request: httpx.Request) -> httpx.Response:
    """GETs answer like MLflow; the alias POST finds the server gone."""
    path = request.url.path
    version = {"name": "m", "version": "3", "creation_timestamp": 1, "source": "s", "run_id": ""}
    if path.endswith("registered-models/alias") and request.method == "GET":
        return httpx.Response(200, json={"model_version": version})
    if path.endswith("model-versions/search"):
        return httpx.Response(
            200, json={"model_versions": [{**version, "version": v} for v in ("1", "2", "3")]}
        )
    if path.endswith("registered-models/get"):
        return httpx.Response(
            200, json={"registered_model": {"name": "m", "aliases": [{"alias": "champion", "version": "3"}]}}
        )
    if path.endswith("model-versions/get"):
        return httpx.Response(
            200, json={"model_version": {**version, "version": request.url.params["version"]}}
        )
    raise httpx.ConnectError("Connection refused", request=request)


def test_failed_apply_leaves_a_failed_audit_row_and_no_change(tmp_path):
    registry = MlflowRegistry(
        "ml", MlflowOptions(url="http://mlflow.invalid:5000"), transport=httpx.MockTransport(_mlflow_json)
    )
    with Store.open(tmp_path / "s.duckdb") as store:
        env = ActionEnv(store=store, registry=registry, actor="alice", clock=lambda: NOW, allow_actions=True)
        action = Rollback(env, "m")
        plan = action.plan()
        assert plan.params["from_version"] == "3" and plan.params["to_version"] == "2"
        with pytest.raises(ActionFailed, match=r"cannot reach MLflow at http://mlflow.invalid:5000"):
            action.apply(plan, reason="v3 bad")
        rows = store.query("SELECT phase, reason, result FROM audit ORDER BY id")[1]
        assert [r[0] for r in rows] == ["before", "failed"]
        assert "Connection refused" in json.loads(rows[1][2])["error"]
        assert store.count("changes") == 0


def test_rollback_watch_records_the_verdict_in_the_open_incident(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    text = ws.read_text().replace(
        "    kind: local\n",
        "    kind: local\n    models:\n"
        "      fraud-detector:\n        watch:\n"
        "          for: 2s\n          every: 1s\n          window: 1s\n"
        "          errors: {name: http_requests_total, labels: {code: '500'}}\n"
        "          total: {name: http_requests_total}\n"
        "          max_error_ratio: 0.01\n",
    )
    ws.write_text(text)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        store.con.execute(
            "INSERT INTO incidents (id, title, status, created_at) VALUES (4, 'fraud 5xx', 'open', ?)", [NOW]
        )
    code, out, err = _oncall(
        ws, "rollback", "fraud-detector", "--reason", "5xx", "--yes", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0, err
    assert "watching fraud-detector" in out and "did not recover" in out  # no traffic came in
    with Store.open_read(tmp_path / "oncall.duckdb") as store:
        rows = store.query("SELECT kind, actor, text FROM timeline WHERE incident_id = 4 ORDER BY id")[1]
    assert [r[0] for r in rows] == ["action", "watch"]
    me = pwd.getpwuid(os.getuid()).pw_name
    assert rows[0][1] == f"{me} (on behalf of alice)" and "champion v3 → v2 — 5xx" in rows[0][2]
    assert "did not recover" in rows[1][2] and "no data" in rows[1][2]


def test_set_tag_plans_old_to_new_and_is_audited(tmp_path):
    from console.actions import SetTag

    _workspace(tmp_path)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        registry = seed_demo_registry(store, now=NOW)
        env = ActionEnv(store=store, registry=registry, actor="bob", clock=lambda: NOW, allow_actions=True)
        action = SetTag(env, "fraud-detector", "3", "quarantined", "yes")
        plan = action.plan()
        assert plan.summary == "set-tag fraud-detector v3: quarantined None → 'yes'"
        action.apply(plan, reason="bad calibration")
        assert registry.get_version("fraud-detector", "3").tags["quarantined"] == "yes"
        rows = store.query("SELECT action, phase, target FROM audit ORDER BY id")[1]
        assert rows == [
            ("set-tag", "before", "local:fraud-detector"),
            ("set-tag", "after", "local:fraud-detector"),
        ]
        assert store.count("changes") == 0


def test_history_at_answers_who_was_champion(tmp_path, monkeypatch, capsys):
    ws = _workspace(tmp_path)
    assert (
        _oncall(
            ws, "rollback", "fraud-detector", "--reason", "x", "--yes", monkeypatch=monkeypatch, capsys=capsys
        )[0]
        == 0
    )
    code, out, _ = _oncall(
        ws,
        "models",
        "history",
        "fraud-detector",
        "--at",
        "2026-03-01T12:30:00Z",
        "--format",
        "json",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    [row] = json.loads(out)
    assert code == 0 and row["version"] == "2" and row["since"] == "2026-03-01T12:00:00Z"
    code, out, _ = _oncall(
        ws,
        "models",
        "history",
        "fraud-detector",
        "--at",
        "2026-02-01T00:00:00Z",
        "--format",
        "json",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert json.loads(out)[0]["version"] is None
