"""The CLI as a user meets it: check, query, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nretention: {samples: 30}\n")
    (tmp_path / "m.prom").write_text('req{code="200"} 5 1700000000000\nreq{code="500"} 1 1700000000000\n')
    return tmp_path


def test_check_ok(oncall, workspace: Path) -> None:
    result = oncall("check", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    assert "actions     read-only" in result.stdout


def test_check_json_summary(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)
    result = oncall("check", "--format", "json", cwd=workspace)
    summary = json.loads(result.stdout)
    assert (summary["series"], summary["samples"], summary["problems"]) == (2, 2, [])


def test_check_reports_problems_with_exit_1(oncall, workspace: Path) -> None:
    (workspace / "oncall.yaml").write_text("store: s.duckdb\nrules: [r.yaml]\n")
    (workspace / "r.yaml").write_text("groups:\n  - name: [\n")
    result = oncall("check", cwd=workspace)
    assert result.returncode == 1
    assert f"{workspace / 'r.yaml'}:3: bad YAML" in result.stdout
    (workspace / "oncall.yaml").write_text("stor: s.duckdb\n")
    result = oncall("check", cwd=workspace)
    assert result.returncode == 1
    assert "oncall.yaml:1: stor: unknown key; did you mean 'store'?" in result.stdout


def test_no_workspace_is_a_usage_error(oncall, tmp_path: Path) -> None:
    result = oncall("check", cwd=tmp_path, env={"ONCALL_WORKSPACE": ""})
    assert result.returncode == 2
    assert "no workspace here" in result.stderr
    assert "Traceback" not in result.stderr


def test_query_formats(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)
    sql = "SELECT json_extract_string(labels, '$.code') AS code FROM series ORDER BY 1"
    table = oncall("query", sql, cwd=workspace)
    assert table.stdout.split() == ["CODE", "200", "500"]
    as_json = oncall("query", sql, "--format", "json", cwd=workspace)
    assert json.loads(as_json.stdout) == [{"code": "200"}, {"code": "500"}]
    as_csv = oncall("query", sql, "--format", "csv", cwd=workspace)
    assert as_csv.stdout.splitlines() == ["code", "200", "500"]


def test_query_is_read_only_and_errors_are_one_line(oncall, workspace: Path) -> None:
    oncall("import", "m.prom", cwd=workspace)  # a read never creates the store
    result = oncall("query", "DELETE FROM samples", cwd=workspace)
    assert result.returncode == 2
    assert "read-only" in result.stderr
    result = oncall("query", "SELECT * FROM nope", cwd=workspace)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Table with name nope does not exist" in result.stderr
