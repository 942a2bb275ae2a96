"""`oncall alerts silence` refuses what Alertmanager refuses: one line, exit 2, nothing stored."""

from __future__ import annotations

import pytest

from console.store import Store

ENV = {"ONCALL_NOW": "2026-03-01T12:00:00Z"}


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "oncall.yaml").write_text("allow_actions: true\n")
    return tmp_path


def _rows(workspace, table: str) -> int:
    store = Store.open(workspace / "oncall.duckdb")
    try:
        return store.query(f"SELECT count(*) FROM {table}")[1][0][0]
    finally:
        store.close()


@pytest.mark.parametrize(
    "matchers,expected",
    [
        (['team=""'], "at least one matcher must not match the empty string"),
        (['team=~".*"', 'env=""'], "at least one matcher must not match the empty string"),
        (['service=~"api(?!-canary)"'], "not RE2 syntax"),
        (['service=~"(a)\\\\1"'], "not RE2 syntax"),
        (['service=~"a++"'], "not RE2 syntax"),
    ],
)
def test_refused_silence_is_one_line_exit_2_and_nothing_stored(workspace, oncall, matchers, expected):
    # a first, valid silence makes the store exist, so "nothing stored" can be counted
    ok = oncall(
        "--workspace", str(workspace), "alerts", "silence", "alertname=Known", "--comment", "known", env=ENV
    )
    assert ok.returncode == 0, ok.stderr
    result = oncall(
        "--workspace", str(workspace), "alerts", "silence", *matchers, "--comment", "maintenance", env=ENV
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _rows(workspace, "silences") == 1
    assert _rows(workspace, "audit") == 2  # the first silence's before and after


def test_a_stored_silence_that_would_be_refused_is_reported_not_applied(workspace, oncall):
    ok = oncall(
        "--workspace", str(workspace), "alerts", "silence", "alertname=Known", "--comment", "known", env=ENV
    )
    assert ok.returncode == 0, ok.stderr
    store = Store.open(workspace / "oncall.duckdb")
    with store.transaction() as cur:  # as an older oncall accepted it
        cur.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at) VALUES "
            '(\'old0team\', \'[{"name": "team", "value": "", "op": "="}]\', '
            "TIMESTAMP '2026-03-01 11:00:00', TIMESTAMP '2026-03-01 14:00:00')"
        )
    store.close()
    listed = oncall("--workspace", str(workspace), "alerts", "silences", env=ENV)
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("old0team")]
    assert line.split()[1] == "refused"
    assert "silence old0team mutes nothing: silence refused: at least one matcher" in listed.stderr
    assert "oncall alerts expire old0team" in listed.stderr
    expired = oncall("--workspace", str(workspace), "alerts", "expire", "old0team", env=ENV)
    assert expired.returncode == 0, expired.stderr
    assert "old0team" not in oncall("--workspace", str(workspace), "alerts", "silences", env=ENV).stderr
