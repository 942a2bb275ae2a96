"""Scheduling: a failing collector backs off while the others carry on; `oncall collect`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from collectors.base import Collector, CollectorOptions, CollectResult, SourceError
from collectors.run import run_once
from collectors.scheduler import CollectorScheduler, backoff_delay
from console.cli.main import main
from console.store import Store, canonical_labels, ingest_samples

NOW = datetime(2026, 11, 26, 12, 0)
REPO = Path(__file__).resolve().parents[2]


class Steady(Collector):
    kind = "steady"

    def __init__(self, name: str) -> None:
        super().__init__(name, CollectorOptions())
        self.runs = 0

    def collect(self, store, now):
        self.runs += 1
        table = pa.table(
            {
                "name": ["steady_runs"],
                "labels": [canonical_labels({})],
                "ts": pa.array([datetime(2026, 1, 1, 0, 0, self.runs)], pa.timestamp("us")),
                "value": [float(self.runs)],
            }
        )
        return CollectResult(rows=ingest_samples(store, table, cursor=(self.name, {"n": self.runs})))


class Broken(Steady):
    def collect(self, store, now):
        self.runs += 1
        if self.runs == 1:
            raise SourceError("http://src.test: HTTP 503")
        raise KeyError("boom")  # even an unexpected bug is contained


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(10, n, 120) for n in range(6)] == [10, 20, 40, 80, 120, 120]


def test_run_once_never_raises_and_records_health(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        broken = Broken("broken")
        first, second = run_once(store, broken, NOW), run_once(store, broken, NOW)
        assert (first.ok, first.error) == (False, "http://src.test: HTTP 503")
        assert second.error == "KeyError: 'boom'"
        assert run_once(store, Steady("fine"), NOW).ok
        rows = dict(store.query("SELECT name, healthy FROM collector_state")[1])
        assert rows == {"broken": False, "fine": True}


def test_a_failing_collector_backs_off_while_others_carry_on(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        good, bad = Steady("good"), Broken("bad")
        seen = []
        scheduler = CollectorScheduler(
            store, [(good, 0.2), (bad, 0.2)], lambda: NOW, max_backoff=5, on_run=seen.append, jitter=0
        )
        scheduler.start()
        time.sleep(1.6)
        scheduler.stop()
        assert good.runs >= 5
        # 0.2 s interval, then 0.4, 0.8 ... after failures: at most 3 tries in 1.6 s.
        assert 1 <= bad.runs <= 3
        assert scheduler.failures["bad"] == bad.runs
        assert store.query(
            "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = 'steady_runs'"
        )[1] == [(good.runs,)]
        assert all(o.error for o in seen if o.name == "bad")


def workspace(tmp_path: Path) -> Path:
    (tmp_path / "app.log").write_text('{"ts": "2026-11-26T11:59:00Z", "message": "hello"}\n')
    (tmp_path / "oncall.yaml").write_text(
        "store: s.duckdb\nsources:\n"
        "  - {name: app, kind: logfile, path: '*.log', interval: 1s}\n"
        "  - {name: prom, kind: prometheus, url: 'http://127.0.0.1:9', queries: [up]}\n"
        "  - {name: paused, kind: logfile, path: none.log, enabled: false}\n"
    )
    return tmp_path / "oncall.yaml"


def test_collect_once_status_and_errors(tmp_path: Path, capsys, monkeypatch) -> None:
    ws = str(workspace(tmp_path))
    monkeypatch.setenv("ONCALL_NOW", "2026-11-26T12:00:00Z")
    assert main(["-w", ws, "collect", "--once", "app"]) == 0
    assert "app" in capsys.readouterr().out
    assert main(["-w", ws, "collect", "--once"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "cannot connect" in out
    assert main(["-w", ws, "collect", "--status", "--format", "json"]) == 1
    status = {s["source"]: s for s in json.loads(capsys.readouterr().out)}
    assert status["app"]["health"] == "healthy" and status["app"]["rows_ingested"] == 1
    assert status["prom"]["health"] == "UNHEALTHY"
    assert "127.0.0.1:9" in status["prom"]["last_error"]
    assert status["paused"]["health"] == "disabled"
    try:
        main(["-w", ws, "collect", "--once", "nope"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "no source named 'nope'" in capsys.readouterr().err


def test_collect_runs_until_sigterm_and_stops_gracefully(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (tmp_path / "oncall.yaml").write_text(
        "store: s.duckdb\nsources:\n  - {name: app, kind: logfile, path: '*.log', interval: 1s}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "-w", str(ws), "collect"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
            if " app: " in line:
                break
        with open(tmp_path / "app.log", "a") as fh:
            fh.write('{"message": "later"}\n')
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopping" in out
    with Store.open(tmp_path / "s.duckdb") as store:
        assert sorted(r[0] for r in store.query("SELECT message FROM logs")[1]) == ["hello", "later"]
