"""`--at TIME` on `oncall alerts` and `oncall rules eval --dry-run`: the rules' alerts as of a
past time, replayed on the stored history, differ from now's as a user sees them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 11, 20, 12, 0)
ERRORS_FROM = NOW - timedelta(hours=1)  # errors > 0 from here on
RULES = """\
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Errors
        expr: errors > 0
        for: 10m
        labels: {severity: page}
"""


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nrules: [rules.yaml]\n")
    times = [NOW - timedelta(hours=4) + timedelta(minutes=i) for i in range(4 * 60 + 1)]
    rows = [("errors", canonical_labels({"svc": "api"}), t, 1.0 if t >= ERRORS_FROM else 0.0) for t in times]
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return str(tmp_path)


def _code(argv: list[str]) -> int:
    """The exit code, whether main returns it or exits with it (an expected failure)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _alerts(workspace, capsys, *at):
    assert main(["-w", workspace, "alerts", "--format", "json", *at]) == 0
    return [(a["name"], a["state"], a["since"]) for a in json.loads(capsys.readouterr().out)]


def test_alert_that_fires_now_was_inactive_two_hours_ago_and_pending_just_after_it_began(workspace, capsys):
    # the engine's first evaluation, at the clock, knows nothing older: pending since now
    assert main(["-w", workspace, "rules", "eval"]) == 0
    capsys.readouterr()
    assert _alerts(workspace, capsys) == [("Errors", "pending", "2026-11-20T12:00:00Z")]
    assert _alerts(workspace, capsys, "--at", "now") == [("Errors", "firing", "2026-11-20T11:00:00Z")]
    assert _alerts(workspace, capsys, "--at", "-2h") == []
    assert _alerts(workspace, capsys, "--at", "now-55m") == [("Errors", "pending", "2026-11-20T11:00:00Z")]
    assert _alerts(workspace, capsys, "--at", "2026-11-20T11:30:00Z") == [
        ("Errors", "firing", "2026-11-20T11:00:00Z")
    ]


def test_forms_of_time_agree(workspace, capsys):
    epoch = str(int((NOW - timedelta(minutes=55) - datetime(1970, 1, 1)).total_seconds()))
    pending = [("Errors", "pending", "2026-11-20T11:00:00Z")]
    for form in ("-55m", "now-55m", epoch, "2026-11-20T11:05:00", "2026-11-20T12:05:00+01:00"):
        assert _alerts(workspace, capsys, "--at", form) == pending, form


def test_table_says_as_of_and_json_rows_carry_the_time(workspace, capsys):
    assert main(["-w", workspace, "alerts", "--at", "-55m"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("as of 2026-11-20 11:05:00 UTC (rules replayed from ")
    assert "pending" in out and "Errors" in out
    assert main(["-w", workspace, "alerts", "--at", "-55m", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["at"] == "2026-11-20T11:05:00Z"


def test_future_and_before_the_data_answer_empty_and_say_when(workspace, capsys):
    # as Prometheus's API: a time past the data or before it is answered, with nothing in it
    for at, stamp in (("2027-01-01T00:00:00Z", "2027-01-01 00:00:00"), ("0", "1970-01-01 00:00:00")):
        assert main(["-w", workspace, "alerts", "--at", at]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"as of {stamp} UTC") and "Errors" not in out


def test_rules_eval_dry_run_at_writes_nothing(workspace, capsys):
    assert main(["-w", workspace, "rules", "eval", "--dry-run", "--at", "-50m", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["at"] == "2026-11-20T11:10:00Z" and answer["dry_run"] is True
    (moved,) = answer["transitions"]  # 10m after the errors began, `for: 10m` has passed
    assert (moved["rule"], moved["from"], moved["to"]) == ("g/Errors", "pending", "firing")
    assert moved["labels"] == {"severity": "page", "svc": "api"}
    assert [(a["state"], a["active_since"]) for a in answer["alerts"]] == [("firing", "2026-11-20T11:00:00Z")]
    assert main(["-w", workspace, "rules", "eval", "--dry-run", "--at", "-2h"]) == 0
    out = capsys.readouterr().out
    assert "as of 2026-11-20 10:00:00 UTC" in out and "firing" not in out and "pending" not in out
    assert main(["-w", workspace, "alerts", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # no alert was written by the dry runs


def test_rules_eval_at_without_dry_run_is_refused(workspace, capsys):
    assert _code(["-w", workspace, "rules", "eval", "--at", "-1h"]) == 2
    err = capsys.readouterr().err
    assert "--at needs --dry-run" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "--at", "yesterday"],
        ["alerts", "--at", "-2x"],
        ["alerts", "--at", "2026-13-01T00:00:00Z"],
        ["rules", "eval", "--dry-run", "--at", "soon"],
    ],
)
def test_bad_time_is_one_line_naming_the_option(workspace, capsys, argv):
    assert _code(["-w", workspace, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("oncall: --at: not a time: ") and "RFC 3339" in err and "-2h" in err


@pytest.fixture()
def long_firing(tmp_path, monkeypatch):
    """Errors from 10 hours before NOW on: longer than the replay looks back."""
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nrules: [rules.yaml]\n")
    began = NOW - timedelta(hours=10)
    times = [NOW - timedelta(hours=12) + timedelta(minutes=i) for i in range(12 * 60 + 1)]
    rows = [("errors", canonical_labels({"svc": "api"}), t, 1.0 if t >= began else 0.0) for t in times]
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return str(tmp_path)


def test_an_alert_older_than_the_replay_takes_its_since_from_the_engine(long_firing, capsys, monkeypatch):
    # the engine ran all along (every 30 minutes): its alert has been firing since 02:00
    for half_hours in range(21):
        at = NOW - timedelta(hours=10) + timedelta(minutes=30 * half_hours)
        monkeypatch.setenv("ONCALL_NOW", at.isoformat() + "Z")
        assert main(["-w", long_firing, "rules", "eval"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    assert _alerts(long_firing, capsys) == [("Errors", "firing", "2026-11-20T02:00:00Z")]
    assert _alerts(long_firing, capsys, "--at", "-1h") == [("Errors", "firing", "2026-11-20T02:00:00Z")]
    assert "may have been active longer" not in capsys.readouterr().err


def test_without_the_engine_an_alert_older_than_the_replay_is_said_to_be_clipped(long_firing, capsys):
    assert main(["-w", long_firing, "alerts", "--at", "now", "--format", "json"]) == 0
    captured = capsys.readouterr()
    (alert,) = json.loads(captured.out)
    assert (alert["name"], alert["state"]) == ("Errors", "firing")
    assert datetime.fromisoformat(alert["since"][:-1]) >= NOW - timedelta(hours=6)  # the replay's reach
    assert (
        f"1 alert(s) active since the replay began ({alert['since'][:-1].replace('T', ' ')})" in captured.err
    )
    assert "may have been active longer" in captured.err
