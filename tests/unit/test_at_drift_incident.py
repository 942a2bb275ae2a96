"""`--at TIME` on `oncall drift MODEL` and the `oncall incident` views: relative and epoch
forms, the time said in the output, bad values in one line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from collectors.demo_predictions import ingest_predictions, simulate_predictions
from console.cli.main import main
from console.incidents import lifecycle as incidents
from console.store import Store

NOW = datetime(2026, 11, 20, 12, 20)
DEGRADED_FROM = datetime(2026, 11, 20, 12, 0)
STEP_S = 15
EPOCH = datetime(1970, 1, 1)
WORKSPACE = """\
store: oncall.duckdb
sources:
  - name: drift
    kind: drift
    interval: 1m
    windows:
      - model: fraud-detector
        reference: {span: 6h, ago: 1h}
        current: 1h
        methods: {hour: psi}
"""


def _code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture()
def root(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "oncall.yaml").write_text(WORKSPACE)
    start, end = NOW - timedelta(hours=10), NOW + timedelta(minutes=10)
    first = int((start - EPOCH).total_seconds() // STEP_S)
    steps = int((end - start).total_seconds() // STEP_S)
    degraded = [EPOCH + timedelta(seconds=(first + i) * STEP_S) >= DEGRADED_FROM for i in range(steps)]
    with Store.open(tmp_path / "oncall.duckdb") as store:
        ingest_predictions(store, simulate_predictions(first, steps, STEP_S, 7, ["3"] * steps, degraded))
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return tmp_path


def _drifted(root: Path, capsys, *at: str) -> tuple[int, dict]:
    code = _code(["-w", str(root), "drift", "fraud-detector", "--format", "json", *at])
    return code, json.loads(capsys.readouterr().out)


def test_drift_model_at_a_relative_time_before_the_shift_finds_none(root: Path, capsys) -> None:
    code, now = _drifted(root, capsys)
    assert code == 3 and {"amount", "prediction"} <= {c["column"] for c in now["columns"] if c["drifted"]}
    code, before = _drifted(root, capsys, "--at", "-20m")
    assert code == 0 and not any(c["drifted"] for c in before["columns"])
    assert before["now"] == "2026-11-20T12:00:00" and before["current_window"][1] == "2026-11-20T12:00:00"
    epoch = str(int((DEGRADED_FROM - EPOCH).total_seconds()))
    assert _drifted(root, capsys, "--at", epoch)[1]["current_window"] == before["current_window"]


def test_drift_model_table_says_as_of(root: Path, capsys) -> None:
    assert _code(["-w", str(root), "drift", "fraud-detector", "--at", "now-20m"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("fraud-detector, as of 2026-11-20 12:00:00 UTC: reference ")


def test_drift_at_without_model_is_refused(root: Path, capsys) -> None:
    argv = ["-w", str(root), "drift", "--reference", "a.csv", "--current", "b.csv", "--at", "-1h"]
    assert _code(argv) == 2
    assert "--at needs MODEL" in capsys.readouterr().err


@pytest.fixture()
def history(tmp_path: Path, monkeypatch) -> Path:
    """Incident 1 declared 3h ago, acked 2h ago, resolved 1h ago; incident 2 declared 30m ago."""
    (tmp_path / "oncall.yaml").write_text("store: oncall.duckdb\n")
    with Store.open(tmp_path / "oncall.duckdb") as store:
        one = incidents.declare(
            store, "api errors", now=NOW - timedelta(hours=3), actor="ann", severity="SEV2"
        )
        incidents.add_note(store, one.id, "looking", now=NOW - timedelta(hours=2, minutes=30), actor="ann")
        incidents.transition(store, one.id, "acknowledged", now=NOW - timedelta(hours=2), actor="ann")
        incidents.transition(store, one.id, "resolved", now=NOW - timedelta(hours=1), actor="ann")
        incidents.declare(store, "latency", now=NOW - timedelta(minutes=30), actor="bob")
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return tmp_path


def _incidents(root: Path, capsys, *argv: str):
    assert _code(["-w", str(root), "incident", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_incident_list_at_shows_what_was_then(history: Path, capsys) -> None:
    now = _incidents(history, capsys, "list")
    assert [(i["id"], i["status"]) for i in now] == [(2, "triggered"), (1, "resolved")]
    then = _incidents(history, capsys, "list", "--at", "-150m")
    assert [(i["id"], i["status"], i["age"]) for i in then] == [(1, "triggered", "30m 00s")]
    assert then[0]["acked_at"] is None and then[0]["resolved_at"] is None and then[0]["tta"] == "—"
    assert then[0]["at"] == "2026-11-20T09:50:00Z"
    assert [i["id"] for i in _incidents(history, capsys, "list", "--open", "--at", "-90m")] == [1]
    assert _incidents(history, capsys, "list", "--at", "-4h") == []


def test_incident_show_at_cuts_the_timeline(history: Path, capsys) -> None:
    shown = _incidents(history, capsys, "show", "1", "--at", "now-2h")
    assert shown["status"] == "acknowledged" and shown["resolved_at"] is None
    assert [e["kind"] for e in shown["timeline"]] == ["declared", "note", "status"]
    assert _code(["-w", str(history), "incident", "show", "1", "--at", "-2h"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "as of 2026-11-20 10:20:00 UTC"
    assert "acknowledged" in out and "→ resolved" not in out
    assert _code(["-w", str(history), "incident", "show", "2", "--at", "-1h"]) == 2
    assert "incident 2 was declared at 2026-11-20 11:50:00, after" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["drift", "fraud-detector", "--at", "noon"],
        ["drift", "fraud-detector", "--at", "-5parsecs"],
        ["incident", "list", "--at", "2026-11-20T25:00"],
        ["incident", "show", "1", "--at", "yesterday"],
    ],
)
def test_bad_time_is_one_line_naming_the_option(root: Path, capsys, argv) -> None:
    assert _code(["-w", str(root), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("oncall: --at: not a time: ") and "RFC 3339" in err and "-2h" in err
