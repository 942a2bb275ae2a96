"""`oncall canary list` and `oncall canary run`, the `canaries:` key, its last good version, `oncall check`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from console.cli.main import main
from console.store import Store
from tests.canary_data import CANARIES_FILE, MODEL, seed_registry, two_versions, workspace


def _oncall(ws: Path, *argv: str, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setenv("ONCALL_NOW", "2026-11-20T12:00:00Z")
    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    try:
        code = main(["-w", str(ws), *argv])
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def bad_canary(tmp_path):
    """A workspace whose canary v4 is slower and errs more than the baseline v3."""
    ws = workspace(tmp_path)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_registry(store)
        two_versions(store, latency=(0.1, 0.2), errors=(0.01, 0.05))
    return ws


def _canary_alias(ws: Path) -> str:
    with Store.open_read(ws.parent / "oncall.duckdb") as store:
        return store.query("SELECT version FROM registry_aliases WHERE alias = 'canary'")[1][0][0]


def test_list_shows_each_canary_and_its_latest_verdict(bad_canary, monkeypatch, capsys):
    code, out, _ = _oncall(bad_canary, "canary", "list", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["NAME", "MODEL", "BASELINE", "CANARY"]
    assert row.split()[:7] == ["fraud-v4", MODEL, "champion", "canary", "1h", "at", "1m"]
    _oncall(bad_canary, "canary", "run", "fraud-v4", "--dry-run", monkeypatch=monkeypatch, capsys=capsys)
    code, out, _ = _oncall(
        bad_canary, "canary", "list", "--format", "json", monkeypatch=monkeypatch, capsys=capsys
    )
    [entry] = json.loads(out)
    assert (entry["name"], entry["verdict"], entry["score"], entry["judged_at"]) == (
        "fraud-v4",
        "fail",
        0.0,
        "2026-11-20T12:00:00Z",
    )
    assert entry["source"].endswith("canaries.yaml:2")


def test_run_prints_a_row_per_metric_the_verdict_and_the_rollback(bad_canary, monkeypatch, capsys):
    code, out, err = _oncall(bad_canary, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1, err  # fail
    lines = out.splitlines()
    assert (
        lines[0].startswith("canary fraud-v4 (canaries.yaml:2): fraud-detector v3 (champion) against v4")
        and "as of 2026-11-20 12:00:00 UTC" in lines[0]
    )
    assert lines[1].split()[:4] == ["METRIC", "N", "BASE", "N"]
    latency = next(line for line in lines if line.startswith("latency "))
    assert latency.split()[1:3] == ["61", "61"]
    assert "High" in latency and "increase is bad → High" in latency
    assert any(line.startswith("errors (critical)") for line in lines)
    assert "score 0.00, verdict fail" in lines
    assert "rollback plan:" in lines and "  rollback fraud-detector: canary v4 → v3" in lines
    assert lines[-1].startswith("rolled back: rollback fraud-detector: canary v4 → v3; v4 is marked bad")
    assert _canary_alias(bad_canary) == "3"


def test_run_dry_run_as_json(bad_canary, monkeypatch, capsys):
    argv = ("canary", "run", "fraud-v4", "--dry-run", "--format", "json")
    code, out, err = _oncall(bad_canary, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1, err
    data = json.loads(out)
    assert (data["verdict"], data["score"], data["baseline_version"], data["canary_version"]) == (
        "fail",
        0.0,
        "3",
        "4",
    )
    assert [(m["name"], m["classification"], m["n_canary"]) for m in data["metrics"]] == [
        ("latency", "High", 61),
        ("errors", "High", 61),
    ]
    assert data["rollback"]["state"] == "dry-run"
    assert data["rollback"]["plan"]["params"]["to_version"] == "3"
    assert _canary_alias(bad_canary) == "4"


def test_run_in_a_read_only_workspace_says_actions_are_not_allowed(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path, allow_actions=False)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_registry(store)
        two_versions(store, latency=(0.1, 0.2), errors=(0.01, 0.05))
    code, out, _ = _oncall(ws, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1
    assert out.splitlines()[-1].startswith("actions not allowed: ")
    assert _canary_alias(ws) == "4"


def test_a_passing_canary_exits_0(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_registry(store)
        two_versions(store, latency=(0.1, 0.1), errors=(0.01, 0.01))
    code, out, _ = _oncall(ws, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "verdict pass" in out and "rollback" not in out


def test_an_unknown_canary_is_one_line_and_exit_2(bad_canary, monkeypatch, capsys):
    code, out, err = _oncall(bad_canary, "canary", "run", "fraud-v9", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "oncall: no canary named 'fraud-v9' in force (known: fraud-v4); see `oncall canary list`"
    ]


def test_an_unknown_alias_is_one_line_and_exit_2(bad_canary, monkeypatch, capsys):
    (bad_canary.parent / "canaries.yaml").write_text(CANARIES_FILE.replace("canary: canary", "canary: next"))
    code, _, err = _oncall(bad_canary, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("oncall: ") and "canary 'next' is neither a version nor an alias" in line


def test_a_broken_canaries_file_keeps_its_last_good_version(bad_canary, monkeypatch, capsys):
    assert _oncall(bad_canary, "canary", "list", monkeypatch=monkeypatch, capsys=capsys)[0] == 0
    (bad_canary.parent / "canaries.yaml").write_text(CANARIES_FILE.replace("(error_ratio)", "(error_ratio"))
    code, out, err = _oncall(bad_canary, "canary", "list", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1 and "fraud-v4" in out  # the last good version is still in force
    assert "canaries.yaml:11" in err and "last good version from" in err
    code, out, _ = _oncall(bad_canary, "check", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1
    assert "canaries.yaml:11: canaries[0].metrics[1].query: PromQL parse error" in out


def test_check_lists_a_canaries_files_problems(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path, canaries=CANARIES_FILE.replace("on_fail: rollback", "on_fail: revert"))
    code, out, _ = _oncall(ws, "check", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1
    assert any("canaries.yaml:6" in line and "on_fail" in line for line in out.splitlines())
    assert "  canaries    1 file" in out


def test_a_canary_defined_in_two_files_fails_the_second(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path)
    (tmp_path / "more.yaml").write_text(CANARIES_FILE)
    text = ws.read_text().replace("canaries: [canaries.yaml]", "canaries: [canaries.yaml, more.yaml]")
    ws.write_text(text)
    code, out, err = _oncall(ws, "canary", "list", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1 and len(out.splitlines()) == 2
    assert "more.yaml:2: canary 'fraud-v4' is also in" in err


def test_nothing_to_judge_exits_4_and_says_why_per_metric(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_registry(store)  # no series at all
    code, out, _ = _oncall(ws, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 4
    assert "not collected: latency: no series for version=3 over the last 1h (series found: none)" in out
    assert "score none, verdict nodata" in out


def test_a_marginal_canary_exits_3_and_is_not_rolled_back(tmp_path, monkeypatch, capsys):
    ws = workspace(tmp_path, canaries=CANARIES_FILE.replace("        critical: true\n", ""))
    with Store.open(tmp_path / "oncall.duckdb") as store:
        seed_registry(store)
        two_versions(store, latency=(0.1, 0.2), errors=(0.01, 0.01))  # slower, no more errors
    code, out, _ = _oncall(ws, "canary", "run", "fraud-v4", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 3
    assert "score 50.00, verdict marginal" in out and "rollback" not in out
    assert _canary_alias(ws) == "4"


def test_at_takes_the_times_every_command_takes(bad_canary, monkeypatch, capsys):
    from console.cli.main import build_parser

    assert build_parser().parse_args(["canary", "run", "fraud-v4", "--at", "-2h"]).at == "-2h"
    argv = ("canary", "run", "fraud-v4", "--at", "-30m", "--dry-run", "--format", "json")
    code, out, _ = _oncall(bad_canary, *argv, monkeypatch=monkeypatch, capsys=capsys)
    assert json.loads(out)["at"] == "2026-11-20T11:30:00"
    missing = bad_canary.parent / "elsewhere"
    missing.mkdir()
    (missing / "oncall.yaml").write_text("store: missing.duckdb\n")
    code, _, err = _oncall(
        missing, "canary", "run", "x", "--at", "soon", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and err.startswith("oncall: --at: not a time: 'soon'; use ")
    assert not (missing / "missing.duckdb").exists()


def test_canaries_globs_resolve_and_an_include_names_its_own_relative_to_itself(tmp_path):
    from console.config.workspace import WorkspaceError, load_workspace

    (tmp_path / "canaries").mkdir()
    (tmp_path / "team").mkdir()
    for path in ("canaries/a.yaml", "canaries/b.yaml", "team/c.yaml"):
        (tmp_path / path).write_text(CANARIES_FILE)
    (tmp_path / "team" / "more.yaml").write_text("canaries: [c.yaml]\n")
    (tmp_path / "oncall.yaml").write_text("include: [team/more.yaml]\ncanaries: ['canaries/*.yaml']\n")
    ws = load_workspace(tmp_path / "oncall.yaml")
    assert ws.canary_files == [tmp_path / p for p in ("canaries/a.yaml", "canaries/b.yaml", "team/c.yaml")]
    (tmp_path / "oncall.yaml").write_text("canaries: ['nothing/*.yaml']\n")
    with pytest.raises(WorkspaceError) as failed:
        load_workspace(tmp_path / "oncall.yaml")
    assert [str(p) for p in failed.value.problems] == [
        f"{tmp_path / 'oncall.yaml'}:1: canaries: no file matches 'nothing/*.yaml'"
    ]
