"""Hostile text from outside never reaches the terminal raw: every CLI path shows it escaped.

One workspace is filled through the real collectors (a scrape of a local server whose label
values and error page carry escape sequences, a log file carrying them raw and JSON-escaped),
evaluated by `rules eval`, and then read by each command as a user would run it.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.terminal_hostile import HOSTILE, SHOWN, hostile_server, raw_controls, run_cli, write_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Collected once from the hostile server and log file, rules evaluated, two incidents."""
    root = tmp_path_factory.mktemp("hostile")
    with hostile_server() as url:
        write_workspace(root, url)
        collected = run_cli("collect", "--once", workspace=root)
    assert collected.code == 1  # the `broken` source fails, the others collect
    assert run_cli("rules", "eval", workspace=root).code == 0
    return root


def _inert(output) -> None:
    """Nothing a terminal would act on reached stdout or stderr, and no traceback."""
    assert raw_controls(output) == []
    assert "Traceback" not in output.stderr


def test_collect_once_shows_a_hostile_error_page_escaped(tmp_path):
    with hostile_server() as url:
        root = write_workspace(tmp_path, url)
        result = run_cli("collect", "--once", "broken", workspace=root)
    _inert(result)
    assert result.code == 1
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("broken")]
    assert "HTTP 503: down: A\\x1b" in row  # the table cuts long cells
    (tmp_path / "again").mkdir()
    with hostile_server() as url:
        again = write_workspace(tmp_path / "again", url)
        as_json = run_cli("collect", "--once", "broken", "--format", "json", workspace=again)
    _inert(as_json)
    (outcome,) = json.loads(as_json.stdout)
    assert "down: A\x1b]0;pwned\x07B" in outcome["error"]


def test_collect_status_shows_the_last_error_escaped(workspace):
    result = run_cli("collect", "--status", workspace=workspace)
    _inert(result)
    assert "down: A\\x1b]0;pwned" in result.stdout and len(result.stdout.splitlines()) == 4


def test_rules_eval_names_the_transition_on_one_escaped_line(tmp_path):
    with hostile_server() as url:
        root = write_workspace(tmp_path, url)
        run_cli("collect", "--once", "evil", workspace=root)
    result = run_cli("rules", "eval", workspace=root)
    _inert(result)
    (line,) = [line for line in result.stdout.splitlines() if "EvilUp" in line]
    assert f"hostile/EvilUp {{msg={SHOWN},severity=page}}: inactive -> firing" in line


def test_alerts_table_has_one_row_per_alert_with_labels_escaped(workspace):
    result = run_cli("alerts", workspace=workspace)
    _inert(result)
    _header, *rows = result.stdout.splitlines()
    assert len(rows) == 1  # the newline in the label forged no row
    assert rows[0].startswith("firing  EvilUp") and f"msg={SHOWN}"[:50] in rows[0]


def test_alerts_json_stays_json_with_the_exact_value(workspace):
    result = run_cli("alerts", "--format", "json", workspace=workspace)
    _inert(result)
    (alert,) = json.loads(result.stdout)
    assert alert["labels"]["msg"] == HOSTILE


def test_query_shows_log_lines_escaped_in_table_and_csv(workspace):
    sql = "SELECT message, raw FROM logs ORDER BY line_offset"
    table = run_cli("query", sql, workspace=workspace)
    _inert(table)
    assert len(table.stdout.splitlines()) == 3  # header + two log lines
    assert SHOWN in table.stdout  # the JSON line's message, decoded
    assert "not json: A\\x1b]0;pwned\\x07B\\x1b[2JC\\rD E" in table.stdout  # the raw line
    text = run_cli("query", sql, "--format", "csv", workspace=workspace)
    _inert(text)
    rows = list(csv.reader(io.StringIO(text.stdout)))
    assert rows[1][0] == SHOWN and len(rows) == 3


def test_query_json_decodes_to_the_stored_log_line(workspace):
    result = run_cli(
        "query", "SELECT message FROM logs WHERE parse_error IS NULL", "--format", "json", workspace=workspace
    )
    _inert(result)
    assert json.loads(result.stdout) == [{"message": HOSTILE}]


def test_slo_status_shows_the_hostile_group_escaped(workspace):
    result = run_cli("slo", workspace=workspace)
    _inert(result)
    _header, *rows = result.stdout.splitlines()
    assert len(rows) == 1 and rows[0].startswith("evil-availability {msg=A\\x1b]0;pwned\\x07B")


def test_incidents_declared_listed_shown_and_exported_escaped(workspace):
    by_hand = run_cli("incident", "declare", "--title", HOSTILE, workspace=workspace)
    _inert(by_hand)
    assert by_hand.stdout.splitlines()[0].endswith(f"(SEV3) {SHOWN}")
    assert len(by_hand.stdout.splitlines()) == 1
    number = by_hand.stdout.split()[1].rstrip(":")
    alerts = json.loads(run_cli("alerts", "--format", "json", workspace=workspace).stdout)
    from_alert = run_cli("incident", "declare", "--alert", alerts[0]["fingerprint"], workspace=workspace)
    _inert(from_alert)
    assert from_alert.stdout.rstrip("\n").endswith(f"EvilUp: the service said {SHOWN}")
    note = run_cli("incident", "note", number, HOSTILE, workspace=workspace)
    _inert(note)

    listed = run_cli("incident", "list", workspace=workspace)
    _inert(listed)
    assert len(listed.stdout.splitlines()) == 1 + 2
    shown = run_cli("incident", "show", number, workspace=workspace)
    _inert(shown)
    lines = shown.stdout.splitlines()
    assert lines[0] == f"#{number} {SHOWN}"
    assert next(line for line in lines if " note " in line).endswith(SHOWN)

    exported = run_cli("incident", "export", number, workspace=workspace)
    _inert(exported)
    markdown = exported.stdout.splitlines()
    assert markdown[0] == f"# Incident {number}: {SHOWN}"
    headings = [line for line in markdown[1:] if line.startswith("#")]  # no heading forged by a title
    assert headings == [
        "## Summary",
        "## Response times",
        "## Impact",
        "## What changed",
        "## Decisions",
        "## Timeline",
        "## Actions",
        "## Follow-ups",
    ], headings
    as_json = run_cli("incident", "export", number, "--format", "json", workspace=workspace)
    _inert(as_json)
    assert SHOWN in json.loads(as_json.stdout)["markdown"]  # the draft itself is inert


def test_playbook_run_shows_templated_labels_escaped(workspace):
    alerts = json.loads(run_cli("alerts", "--format", "json", workspace=workspace).stdout)
    declared = run_cli(
        "incident",
        "declare",
        "--alert",
        alerts[0]["fingerprint"],
        "--split",
        "--format",
        "json",
        workspace=workspace,
    )
    incident = json.loads(declared.stdout)["id"]
    result = run_cli("playbook", "run", "evil", "--incident", str(incident), "--yes", workspace=workspace)
    _inert(result)
    assert f"[look] Look at {SHOWN}  (instruction)" in result.stdout.splitlines()


def test_a_problem_quoting_a_hostile_key_is_one_escaped_line(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: SELECT 1.0 AS value\n"
        f"        labels: {json.dumps({HOSTILE: 'page'})}\n"
    )
    (tmp_path / "oncall.yaml").write_text("rules: [rules/*.yaml]\n")
    for args in (("check",), ("rules", "check", "rules/r.yaml"), ("rules",)):
        result = run_cli(*args, workspace=tmp_path)
        _inert(result)
        problems = [line for line in result.both.splitlines() if "r.yaml:6:" in line]
        assert len(problems) == 1 and f"labels.{SHOWN}: not a valid label name" in problems[0]
