"""`oncall collect` typed while a console holds the store (issue 15, point 5): it says the
console runs the collectors and shows their status; `collect --once NAME` runs there."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from console.cli.main import main as cli_main
from console.config.workspace import load_workspace
from console.runtime.session import Session
from tests.conftest import run_oncall
from tests.sock import remove, runtime_dir

NOW = datetime(2026, 11, 26, 12, 0)


@pytest.fixture
def runtime(monkeypatch):
    path = runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    remove(path)


@pytest.fixture
def console(tmp_path: Path, runtime):
    (tmp_path / "app.log").write_text('{"ts": "2026-11-26T11:59:00Z", "message": "first"}\n')
    (tmp_path / "oncall.yaml").write_text(
        "store: s.duckdb\nsources:\n  - {name: app, kind: logfile, path: app.log}\n"
    )
    session = Session(load_workspace(tmp_path / "oncall.yaml"), clock=lambda: NOW, run_command=cli_main)
    session.tick()  # the console's engine ran `app` once
    try:
        yield tmp_path, session
    finally:
        session.close()


def run(workspace: Path, runtime: Path, *args: str):
    result = run_oncall(*args, cwd=workspace, env={"XDG_RUNTIME_DIR": str(runtime)})
    assert "Traceback" not in result.stderr and "signal only works" not in result.stderr, result.stderr
    return result


def test_collect_sent_to_a_console_shows_the_status_instead_of_failing(console, runtime) -> None:
    workspace, _ = console
    result = run(workspace, runtime, "collect")
    assert result.returncode == 0, result.stderr
    assert "ran this command there" in result.stderr
    assert "already runs the collectors" in result.stderr
    assert "--once NAME" in result.stderr
    (line,) = [out for out in result.stdout.splitlines() if out.startswith("app ")]
    assert "logfile" in line and "healthy" in line
    as_json = run(workspace, runtime, "collect", "--format", "json")
    (row,) = json.loads(as_json.stdout)
    assert row["source"] == "app" and row["health"] == "healthy" and row["runs_skipped"] == 0


def test_collect_once_name_sent_to_a_console_runs_that_source_there(console, runtime) -> None:
    workspace, session = console
    with open(workspace / "app.log", "a") as fh:
        fh.write('{"ts": "2026-11-26T11:59:30Z", "message": "second"}\n')
    result = run(workspace, runtime, "collect", "--once", "app", "--format", "json")
    assert result.returncode == 0, result.stderr
    (outcome,) = json.loads(result.stdout)
    assert outcome["name"] == "app" and outcome["ok"] and outcome["rows"] == 1
    messages = sorted(r[0] for r in session.store.query("SELECT message FROM logs")[1])
    assert messages == ["first", "second"]
