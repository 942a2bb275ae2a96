"""`oncall slo` and `oncall slo backtest` as a user runs them."""

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 3, 1)


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\nslos: [slos.yaml]\n")
    (tmp_path / "slos.yaml").write_text(
        "slos:\n  - name: api\n    objective: 99\n    sli:\n      ratio:\n"
        "        bad: 'req_total{code=\"500\"}'\n        total: req_total\n"
        "  - name: idle\n    objective: 99.9\n    sli:\n      ratio: {good: ok_total, total: all_total}\n"
    )
    times = [NOW - timedelta(days=4) + timedelta(minutes=i) for i in range(4 * 1440 + 1)]
    bad = np.where(np.array([t > NOW - timedelta(hours=3) for t in times]), 30, 0)
    with Store.open(tmp_path / "s.duckdb") as store:
        for code, inc in (("200", 100 - bad), ("500", bad)):
            ingest_samples(
                store,
                pd.DataFrame(
                    {
                        "name": "req_total",
                        "labels": canonical_labels({"code": code}),
                        "ts": pd.to_datetime(times),
                        "value": np.cumsum(inc).astype(float),
                    }
                ),
            )
        for name in ("ok_total", "all_total"):
            ingest_samples(
                store, pd.DataFrame({"name": name, "labels": "{}", "ts": pd.to_datetime(times), "value": 5.0})
            )
    monkeypatch.setenv("ONCALL_NOW", NOW.isoformat() + "Z")
    return str(tmp_path)


def test_status_table_and_json(workspace, capsys):
    assert main(["-w", workspace, "slo"]) == 0
    table = capsys.readouterr().out
    api, idle = table.splitlines()[1:3]
    assert api.startswith("api") and api.rstrip().endswith("page") and "30.00x" in api
    assert idle.startswith("idle") and "no traffic" in idle
    assert "nan" not in table.lower()
    assert main(["-w", workspace, "slo", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["state"] == "no traffic" and rows[1]["sli"] is None


def test_backtest_table_counts_pages(workspace, capsys):
    assert main(["-w", workspace, "slo", "backtest", "api", "--from", "now-12h", "--step", "5m"]) == 0
    out = capsys.readouterr().out
    assert "would have paged once, ticketed once" in out
    assert "api:page:1h" in out


def test_backtest_json_has_no_nan_and_says_why(workspace, capsys):
    assert main(["-w", workspace, "slo", "backtest", "--all", "--from", "now-1h", "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    idle = json.loads(text)[1]
    assert set(idle["windows"]["1h"]["status"]) == {"no traffic"}
    assert set(idle["windows"]["1h"]["error_ratio"]) == {None}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["backtest", "nope"], "no SLO named 'nope' (SLOs: api, idle)"),
        (["backtest"], "name one SLO or pass --all"),
        (["backtest", "api", "--from", "yesterday"], "not a time: 'yesterday'"),
    ],
)
def test_backtest_usage_errors_exit_2(workspace, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        main(["-w", workspace, "slo", *argv])
    assert caught.value.code == 2 and message in capsys.readouterr().err
