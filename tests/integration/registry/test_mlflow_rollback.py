"""Rollback, promote, history, the collector and failures against a real MLflow tracking server."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from collectors.registry import RegistryCollector, RegistryCollectorOptions
from console.actions import ActionEnv, ActionFailed, Rollback
from console.registry import RegistryError
from console.registry.history import holder_at
from console.registry.mlflow import MlflowOptions, MlflowRegistry
from console.store import Store

from .conftest import create_model, oncall_env, start_mlflow, write_workspace

ME = pwd.getpwuid(os.getuid()).pw_name  # the OS account; $ONCALL_ACTOR is a claim

pytestmark = pytest.mark.integration


def oncall(workspace: Path, *args: str, actor: str = "alice") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "-w", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=oncall_env(ONCALL_ACTOR=actor),
    )


def test_rollback_moves_champion_back_and_is_recorded(mlflow_server, tmp_path):
    model = create_model(mlflow_server, "churn")
    assert model.champion() == "3"
    ws = write_workspace(tmp_path, mlflow_server.url)

    listed = oncall(ws, "models", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [row] = [m for m in json.loads(listed.stdout) if m["model"] == "churn"]
    assert row["aliases"] == "champion=v3" and row["versions"] == 3

    done = oncall(ws, "rollback", "churn", "--reason", "v3 raises 5xx", "--yes")
    assert done.returncode == 0, done.stderr
    assert "champion v3 → v2" in done.stdout and "auc=0.93" in done.stdout
    assert model.champion() == "2"

    history = oncall(ws, "models", "history", "churn", "--format", "json")
    [move] = json.loads(history.stdout)
    assert (move["from_version"], move["to_version"], move["actor"], move["reason"], move["alias"]) == (
        "3",
        "2",
        f"{ME} (on behalf of alice)",
        "v3 raises 5xx",
        "champion",
    )

    audit = oncall(
        ws,
        "query",
        "SELECT phase, actor, on_behalf_of, reason, params, result FROM audit "
        "WHERE action = 'rollback' ORDER BY id",
        "--format",
        "json",
    )
    rows = json.loads(audit.stdout)
    assert [r["phase"] for r in rows] == ["before", "after"]
    assert {(r["actor"], r["on_behalf_of"]) for r in rows} == {(ME, "alice")}
    assert {r["reason"] for r in rows} == {"v3 raises 5xx"}
    params = json.loads(rows[0]["params"])
    assert params["from"]["source"].endswith("/artifacts/model-3")
    assert "/artifacts/model-2" in params["to"]["source"] and params["to"]["run_id"] == model.run_id
    assert json.loads(rows[1]["result"]) == {"ok": True, "observed_version": "2"}


def test_dry_run_and_promote_against_mlflow(mlflow_server, tmp_path):
    model = create_model(mlflow_server, "ranker")
    ws = write_workspace(tmp_path, mlflow_server.url)
    dry = oncall(ws, "rollback", "ranker", "--to", "1", "--dry-run")
    assert dry.returncode == 0 and "champion v3 → v1" in dry.stdout
    assert model.champion() == "3"
    promoted = oncall(ws, "promote", "ranker", "1", "--reason", "canary won", "--yes")
    assert promoted.returncode == 0, promoted.stderr
    assert model.champion() == "1"
    back = oncall(ws, "rollback", "ranker", "--reason", "v1 slower", "--yes")
    assert back.returncode == 0 and "champion v1 → v3" in back.stdout and model.champion() == "3"


def test_unknown_alias_and_model_are_clear_errors(mlflow_server, tmp_path):
    create_model(mlflow_server, "scorer")
    registry = MlflowRegistry("ml", MlflowOptions(url=mlflow_server.url))
    with pytest.raises(
        RegistryError,
        match=r"registered-models/alias: HTTP 400 "
        r"INVALID_PARAMETER_VALUE: .*alias canary not found",
    ):
        registry.resolve_alias("scorer", "canary")
    ws = write_workspace(tmp_path, mlflow_server.url)
    missing = oncall(ws, "rollback", "no-such-model", "--reason", "x", "--yes")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "HTTP 404 RESOURCE_DOES_NOT_EXIST" in missing.stderr


def test_collector_records_alias_moves_made_outside_oncall(mlflow_server, tmp_path):
    model = create_model(mlflow_server, "pricing")
    collector = RegistryCollector(
        "mlflow-poll", RegistryCollectorOptions(url=mlflow_server.url, models=["pricing"])
    )
    first, later = datetime(2026, 3, 1, 12, 0), datetime(2026, 3, 1, 12, 5)
    with Store.open(tmp_path / "s.duckdb") as store:
        assert collector.collect(store, first).rows == 1
        model.set_alias("champion", "1")
        assert collector.collect(store, later).rows == 1
        assert collector.collect(store, later).rows == 0
        assert holder_at(store, "pricing", "champion", datetime(2026, 3, 1, 12, 3)) == ("3", first)
        assert holder_at(store, "pricing", "champion", later) == ("1", later)


def test_server_down_between_plan_and_apply(tmp_path):
    server = start_mlflow(tmp_path / "mlflow")
    try:
        create_model(server, "fraud")
        registry = MlflowRegistry("ml", MlflowOptions(url=server.url, timeout="3s"))
        with Store.open(tmp_path / "s.duckdb") as store:
            env = ActionEnv(
                store=store,
                registry=registry,
                actor="alice",
                clock=lambda: datetime(2026, 3, 1, 12),
                allow_actions=True,
            )
            action = Rollback(env, "fraud")
            plan = action.plan()
            server.stop()
            with pytest.raises(ActionFailed, match="cannot reach MLflow"):
                action.apply(plan, reason="v3 bad")
            phases = store.query("SELECT phase, result FROM audit ORDER BY id")[1]
            assert [p[0] for p in phases] == ["before", "failed"]
            assert "cannot reach MLflow" in json.loads(phases[1][1])["error"]
            assert store.count("changes") == 0
    finally:
        server.stop()
