"""Log lines and prediction records whose timestamps are 1e25, in the year 5138, hours ahead
or in 1969: `collect --once` stores the others, counts these by reason in the source's
health, writes `up`, and never shows a traceback. A log line whose timestamp is not a time
at all is still kept, stamped with the time it was read (as before)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from console.store import Store
from tests.conftest import run_oncall

NOW = datetime(2026, 11, 26, 12, 0)
NOW_S = int((NOW - datetime(1970, 1, 1)).total_seconds())
ENV = {"ONCALL_NOW": "2026-11-26T12:00:00Z"}

# (ts value, message); None: no ts field
LINES = [
    ("2026-11-26T11:59:00Z", "iso"),
    (NOW_S - 60, "epoch"),
    ("nan", "nan"),
    ("yesterday", "word"),
    (None, "none"),
    (1e25, "1e25"),
    ("5138-01-01T00:00:00Z", "5138"),
    (NOW_S + 7200, "ahead"),
    (-1, "1969 epoch"),
    ("1969-12-31T23:59:59Z", "1969 iso"),
]


def log_text(fmt: str) -> str:
    out = []
    for ts, message in LINES:
        if fmt == "json":
            out.append(json.dumps({**({} if ts is None else {"ts": ts}), "message": message}))
        else:
            out.append(("" if ts is None else f"ts={ts} ") + f'message="{message}"')
    return "\n".join(out) + "\n"


def run_once(tmp_path: Path, sources: str) -> dict:
    (tmp_path / "oncall.yaml").write_text("store: store.duckdb\nsources:\n" + sources)
    run = run_oncall("-w", str(tmp_path), "collect", "--once", "--format", "json", env=ENV)
    assert "Traceback" not in run.stdout + run.stderr and run.stderr == "", run.stderr
    assert run.returncode == 0, run.stdout
    return {o["name"]: o for o in json.loads(run.stdout)}


def up(store: Store) -> dict[str, float]:
    rows = store.query(
        "SELECT s.labels, x.value FROM samples x JOIN series s ON s.id = x.series_id "
        "WHERE s.name = 'oncall_collector_up'"
    )[1]
    return {json.loads(labels)["collector"]: value for labels, value in rows}


@pytest.mark.parametrize("fmt", ["json", "logfmt"])
def test_log_lines_outside_the_window_are_refused_and_counted(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text(log_text(fmt))
    outcome = run_once(
        tmp_path,
        f"  - {{name: app, kind: logfile, path: logs/app.log, format: {fmt}}}\nretention: {{logs: 14}}\n",
    )["app"]
    assert outcome["ok"] and outcome["rows"] == 5
    assert [e["text"] for e in outcome["refused"]] == [
        "3 refused: timestamp 2h to 3.2e+11y in the future (limit 10m)",
        "2 refused: timestamp 57y in the past (limit 14d)",
    ]
    with Store.open_read(tmp_path / "store.duckdb") as store:
        rows = store.query("SELECT message, ts, parse_error FROM logs ORDER BY line_offset")[1]
        assert up(store) == {"app": 1.0}
    assert rows == [
        ("iso", datetime(2026, 11, 26, 11, 59), None),
        ("epoch", datetime(2026, 11, 26, 11, 59), None),
        ("nan", NOW, "timestamp nan not understood"),
        ("word", NOW, "timestamp yesterday not understood"),
        ("none", NOW, None),
    ]
    # The cursor moved past the refused lines: a second run reads and refuses nothing.
    again = run_once(tmp_path, f"  - {{name: app, kind: logfile, path: logs/app.log, format: {fmt}}}\n")
    assert again["app"]["rows"] == 0 and again["app"]["refused"] == []


def test_prediction_records_and_labels_outside_the_window_are_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(
        "id,ts,prediction,amount\n"
        f"1,{NOW_S - 60},0.5,1.0\n2,1e25,0.1,2.0\n3,-1,0.2,3.0\n4,{NOW_S + 7200},0.3,4.0\n"
        f"5,{NOW_S - 120},abc,5.0\n6,{NOW_S - 30},,6.0\n"
    )
    (tmp_path / "in" / "b.jsonl").write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "j1", "ts": "2026-11-26T11:00:00Z", "prediction": 0.4, "amount": 7.0},
                {"id": "j2", "ts": "5138-01-01T00:00:00Z", "prediction": 0.4, "amount": 8.0},
                {"id": "j3", "ts": "1969-07-20T20:17:00Z", "prediction": 0.4, "amount": 9.0},
                {"id": "j4", "ts": "not a time", "prediction": 0.4, "amount": 10.0},
            ]
        )
        + "\n"
    )
    (tmp_path / "labels.csv").write_text(f"id,label,ts\n1,1,{NOW_S}\nj1,maybe,{NOW_S}\n6,0,{NOW_S + 86400}\n")
    outcome = run_once(
        tmp_path, "  - {name: preds, kind: predictions, path: 'in/*', labels: labels.csv, model: fraud}\n"
    )["preds"]
    assert outcome["ok"] and outcome["rows"] == 3
    assert [e["text"] for e in outcome["refused"]] == [
        "4 refused: timestamp 2h to 3.2e+17y in the future (limit 10m)",  # a label a day ahead too
        "2 refused: timestamp 57y in the past (limit 3650d)",
        "1 refused: prediction does not parse",
        "1 refused: timestamp does not parse",
        "1 refused: label does not parse",
    ]
    with Store.open_read(tmp_path / "store.duckdb") as store:
        kept = store.query("SELECT id, ts, prediction FROM predictions ORDER BY id")[1]
        labels = store.query("SELECT id, label FROM prediction_labels ORDER BY id")[1]
        assert up(store) == {"preds": 1.0}
    assert kept == [
        ("1", datetime(2026, 11, 26, 11, 59), 0.5),
        ("6", datetime(2026, 11, 26, 11, 59, 30), None),
        ("j1", datetime(2026, 11, 26, 11), 0.4),
    ]
    assert labels == [("1", 1.0)]
