"""`--at TIME` on `oncall slo` and `oncall slo backtest`: an SLO that burns now did not two
hours before its errors began, and the backtest's default end moves with --at."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 11, 20, 12, 0)
BAD_FROM = NOW - timedelta(hours=3)  # 30% errors from here on


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    (tmp_path / "slos.yaml").write_text(
        "slos:\n  - name: api\n    objective: 99\n    sli:\n      ratio:\n"
        "        bad: 'req_total{code=\"500\"}'\n        total: req_total\n"
    )
    times = [NOW - timedelta(days=2) + timedelta(minutes=i) for i in range(2 * 1440 + 1)]
    bad = np.where(np.array([t > BAD_FROM for t in times]), 30, 0)
    with Store.open(tmp_path / "s.duckdb") as store:
        for code, inc in (("200", 100 - bad), ("500", bad)):
            frame = pd.DataFrame(
                {
                    "name": "req_total",
                    "labels": canonical_labels({"code": code}),
                    "ts": pd.to_datetime(times),
                    "value": np.cumsum(inc).astype(float),
                }
            )
            ingest_samples(store, frame)
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return str(tmp_path)


def _status(workspace, capsys, *at):
    assert main(["-w", workspace, "slo", "--format", "json", *at]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    return row


def test_slo_burning_now_did_not_burn_before_its_errors(workspace, capsys):
    now = _status(workspace, capsys)
    assert now["state"] == "page" and now["windows"]["1h"]["burn"] == pytest.approx(30)
    before = _status(workspace, capsys, "--at", "-4h")
    assert before["now"] == "2026-11-20T08:00:00Z"
    assert before["state"] == "ok" and before["windows"]["1h"]["burn"] == 0
    assert before["budget_remaining"] == 1
    # half an hour into the errors: the 1h window has half of them
    early = _status(workspace, capsys, "--at", "2026-11-20T09:30:00Z")
    assert early["windows"]["1h"]["burn"] == pytest.approx(15, rel=0.05)


def test_relative_epoch_and_iso_forms_agree(workspace, capsys):
    epoch = str(int((NOW - timedelta(hours=4) - datetime(1970, 1, 1)).total_seconds()))
    for form in ("-4h", "now-4h", "-240m", epoch, "2026-11-20T08:00:00", "2026-11-20T09:00:00+01:00"):
        assert _status(workspace, capsys, "--at", form)["now"] == "2026-11-20T08:00:00Z", form


def test_table_says_as_of(workspace, capsys):
    assert main(["-w", workspace, "slo", "--at", "-4h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "as of 2026-11-20 08:00:00 UTC"
    assert lines[2].startswith("api") and lines[2].rstrip().endswith("ok")


def test_future_and_before_the_data_answer_and_say_when(workspace, capsys):
    # as Prometheus's API: answered at any time; past the data or before it there is no data
    for at in ("2027-01-01T00:00:00Z", "2020-01-01T00:00:00Z"):
        row = _status(workspace, capsys, "--at", at)
        assert row["now"] == at and row["state"] == "no data" and row["sli"] is None


def test_backtest_ends_at_at_by_default(workspace, capsys):
    argv = ["-w", workspace, "slo", "backtest", "api", "--step", "5m", "--format", "json"]
    assert main([*argv, "--from", "-2h"]) == 0
    (now,) = json.loads(capsys.readouterr().out)
    assert now["to"] == "2026-11-20T12:00:00Z" and now["would_page"] == 1
    assert main([*argv, "--at", "-4h", "--from", "-2h"]) == 0  # --from counts from --at
    (before,) = json.loads(capsys.readouterr().out)
    assert (before["from"], before["to"]) == ("2026-11-20T06:00:00Z", "2026-11-20T08:00:00Z")
    assert before["would_page"] == 0 and before["times"][-1] == "2026-11-20T08:00:00Z"


@pytest.mark.parametrize(
    "argv, option",
    [
        (["slo", "--at", "tomorrow"], "--at"),
        (["slo", "--at", "-3q"], "--at"),
        (["slo", "backtest", "api", "--at", "2026-02-30"], "--at"),
        (["slo", "backtest", "api", "--from", "yesterday"], "--from"),
    ],
)
def test_bad_time_is_one_line_naming_the_option(workspace, capsys, argv, option):
    with pytest.raises(SystemExit) as exited:
        main(["-w", workspace, *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"oncall: {option}: not a time: ") and "RFC 3339" in err and "-2h" in err
