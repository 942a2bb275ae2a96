"""Each source runs in its own lane (issue 15, point 2): slow sources never delay a healthy
one's schedule, `--once` runs them side by side, skipped runs are counted, not logged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from collectors.base import Collector, CollectorOptions, CollectResult
from collectors.lanes import Lanes, run_all
from collectors.logfile import LogfileCollector, LogfileOptions
from collectors.run import run_once
from console.cli.main import main
from console.config.workspace import load_workspace
from console.runtime.engine import Engine
from console.store import Store
from tests.misbehaving_http import misbehaving_server
from tests.unit.test_collector_scheduler import Steady

NOW = datetime(2026, 11, 26, 12, 0)
REPO = Path(__file__).resolve().parents[2]
SLOW = ("trickle", "slow-headers", "silent", "silent/2")


def workspace(tmp_path: Path, base: str, *, timeout: float = 3, interval: str = "1s") -> Path:
    lines = ["store: s.duckdb", "sources:"]
    for path in SLOW:
        lines.append(
            f"  - {{name: {path.replace('/', '')}, kind: scrape, url: '{base}/{path}', "
            f"timeout: {timeout}, interval: {interval}}}"
        )
    lines.append(f"  - {{name: good, kind: scrape, url: '{base}/metrics', interval: 1s}}")
    (tmp_path / "oncall.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path / "oncall.yaml"


def status(ws: Path) -> dict[str, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "console", "-w", str(ws), "collect", "--status", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    return {row["source"]: row for row in json.loads(result.stdout)}


def test_four_slow_sources_do_not_starve_a_healthy_one(tmp_path: Path) -> None:
    """The report: four trickling sources on `timeout: 3`; a healthy one on 1 s never ran."""
    with misbehaving_server() as (base, server):
        ws = workspace(tmp_path, base)
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "-w", str(ws), "collect", "--max-backoff", "2"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert "collecting" in process.stdout.readline()
            started = server.hits["/metrics"]
            time.sleep(10)
            good_runs = server.hits["/metrics"] - started
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, err
    assert good_runs >= 6, (good_runs, out)  # every 1 s: about 10
    assert "maximum number of running instances" not in err and "skipped" not in err, err
    assert "deadline 3s exceeded" in out
    rows = status(ws)
    assert rows["good"]["health"] == "healthy"
    for name in ("trickle", "slow-headers", "silent", "silent2"):
        assert rows[name]["health"] == "UNHEALTHY"
        assert "deadline 3s exceeded after" in rows[name]["last_error"]
        assert rows[name]["runs_skipped"] >= 1, rows[name]
        assert f"{rows[name]['runs_skipped']} run" in rows[name]["skipped"]
        assert "skipped: previous run still going" in rows[name]["skipped"]
    table = subprocess.run(
        [sys.executable, "-m", "console", "-w", str(ws), "collect", "--status"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    ).stdout
    assert "skipped: previous run still going" in table


def test_once_runs_four_slow_sources_in_about_one_deadline(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ONCALL_NOW", "2026-11-26T12:00:00Z")
    with misbehaving_server() as (base, _):
        ws = workspace(tmp_path, base, timeout=4)
        started = time.monotonic()
        code = main(["-w", str(ws), "collect", "--once", "--format", "json"])
        seconds = time.monotonic() - started
    outcomes = {o["name"]: o for o in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert seconds < 4 + 3, seconds  # one after another: over 16 s
    assert outcomes["good"]["ok"]
    for name in ("trickle", "slow-headers", "silent", "silent2"):
        assert "deadline 4s exceeded after" in outcomes[name]["error"]


class Blocking(Collector):
    """A collector that blocks outside the network until released (a stuck plugin)."""

    kind = "blocking"

    def __init__(self, name: str, timeout: float | None = None) -> None:
        super().__init__(name, CollectorOptions(timeout=timeout))
        self.release = threading.Event()
        self.runs = 0

    def collect(self, store, now):
        self.runs += 1
        self.release.wait(60)
        return CollectResult(rows=0)


def skipped(store: Store, name: str) -> int:
    return store.query("SELECT runs_skipped FROM collector_state WHERE name = ?", [name])[1][0][0]


def test_a_run_that_ignores_its_deadline_is_marked_down_and_its_lane_stays_busy(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        stuck = Blocking("stuck", timeout=1)
        try:
            started = time.monotonic()
            (outcome,) = run_all(store, [stuck], NOW)
            assert time.monotonic() - started < 1 + 3
            assert not outcome.ok and "deadline 1s exceeded after 0 bytes" in outcome.error
            assert "the run is still going" in outcome.error
            healthy, error = store.query(
                "SELECT healthy, last_error FROM collector_state WHERE name = 'stuck'"
            )[1][0]
            assert healthy is False and error == outcome.error
            (again,) = run_all(store, [stuck], NOW)  # e.g. a forwarded --once
            assert again.skipped and stuck.runs == 1
            assert skipped(store, "stuck") == 1
        finally:
            stuck.release.set()
        assert Lanes(store).wait_idle(["stuck"], 10) == []


def test_the_console_tick_does_not_wait_for_a_hung_source(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    with Store.open(tmp_path / "s.duckdb") as store:
        hung, quick = Blocking("hung"), Steady("quick")
        engine = Engine(load_workspace(tmp_path / "oncall.yaml"), store, collectors=[hung, quick], rules=[])
        engine.collect_wait = 1.0
        try:
            started = time.monotonic()
            engine.tick(NOW)
            assert time.monotonic() - started < 1 + 3
            engine.tick(NOW)
            assert quick.runs == 2 and hung.runs == 1
            assert skipped(store, "hung") == 1 and skipped(store, "quick") in (0, None)
            hung.release.set()
            assert Lanes(store).wait_idle(["hung"], 10) == []
            engine.tick(NOW)
            assert hung.runs == 2
        finally:
            hung.release.set()


def test_a_logfile_source_stops_between_batches_at_its_deadline_and_reads_on(tmp_path: Path) -> None:
    lines = "".join(
        json.dumps({"ts": "2026-11-26T11:00:00Z", "message": f"line {i:04d}"}) + "\n" for i in range(400)
    )
    (tmp_path / "app.log").write_text(lines)
    options = {"path": "app.log", "chunk_bytes": 1024}
    with Store.open(tmp_path / "s.duckdb") as store:
        hurried = LogfileCollector("app", LogfileOptions(**options, timeout=0.001), base_dir=str(tmp_path))
        outcome = run_once(store, hurried, NOW)
        assert not outcome.ok and "app.log: deadline 0.001s exceeded after" in outcome.error
        first = store.count("logs")
        assert 0 < first < 400
        patient = LogfileCollector("app", LogfileOptions(**options), base_dir=str(tmp_path))
        assert run_once(store, patient, NOW).ok
        assert store.query("SELECT count(*), count(DISTINCT message) FROM logs")[1] == [(400, 400)]


@pytest.mark.parametrize("limit", [1, 8])
def test_once_is_bounded(tmp_path: Path, limit: int) -> None:
    """At most `limit` runs at once; all of them run."""
    running, most = [0], [0]
    lock = threading.Lock()

    class Counting(Steady):
        def collect(self, store, now):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with lock:
                running[0] -= 1
            return super().collect(store, now)

    with Store.open(tmp_path / "s.duckdb") as store:
        sources = [Counting(f"s{i}") for i in range(12)]
        outcomes = run_all(store, sources, NOW, limit=limit)
    assert [o.name for o in outcomes] == [s.name for s in sources] and all(o.ok for o in outcomes)
    assert most[0] <= limit and (limit == 1 or most[0] > 1)


def test_drift_starts_once_the_sources_have_stored_their_rows(tmp_path: Path) -> None:
    """An evaluating collector (drift) reads what this round's sources stored: in a console
    tick and in `collect --once` it starts after them, not beside them."""
    order: list[str] = []

    class Source(Steady):
        def collect(self, store, now):
            time.sleep(0.3)
            order.append(f"{self.name} stored")
            return super().collect(store, now)

    class Evaluator(Steady):
        evaluates = True

        def collect(self, store, now):
            order.append("drift evaluated")
            return super().collect(store, now)

    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    with Store.open(tmp_path / "s.duckdb") as store:
        collectors = [Evaluator("drift"), Source("predictions"), Source("prom")]
        engine = Engine(load_workspace(tmp_path / "oncall.yaml"), store, collectors=collectors, rules=[])
        engine.tick(NOW)
        assert order[-1] == "drift evaluated" and len(order) == 3
        order.clear()
        outcomes = run_all(store, collectors, NOW)
        assert [o.name for o in outcomes] == ["drift", "predictions", "prom"]
        assert order[-1] == "drift evaluated" and len(order) == 3
