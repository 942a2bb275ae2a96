"""`oncall demo --headless --speed 600 --canary off`: degrade → page → rollback from another process → heal.

`--canary off` is the demo before canaries: CI deploys v4 straight to champion, so nothing
heads off the page (tests/e2e/test_demo_canary.py drives the default canary scenario)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from console.store import Store

START = "2026-11-20T12:00:00Z"
PAGE_LATENCY = re.compile(
    r"^(\S+ \S+) alert +SLOErrorBudgetBurn (firing|resolved) \{.*"
    r"severity=page,slo=fraud-scoring-latency,.*window=1h/5m\}"
)


class Demo:
    """The demo as a user runs it, its stdout read line by line."""

    def __init__(self, root: Path, *speed: str) -> None:
        env = {**os.environ, "ONCALL_NOW": START}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console", "demo", "--headless", *speed, "--dir", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 180) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match
        raise AssertionError(
            f"no line matching {regex.pattern!r}; the demo said:\n" + "\n".join(self.lines[-30:])
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def error_ratio(store: Store, start: datetime, end: datetime) -> float:
    """5xx share of requests between two times, from the stored counters."""
    rows = store.query(
        """
        SELECT json_extract_string(s.labels, '$.code') AS code, max(x.value) - min(x.value)
        FROM samples x JOIN series s ON s.id = x.series_id
        WHERE s.name = 'http_requests_total' AND x.ts BETWEEN ? AND ?
        GROUP BY ALL""",
        [start, end],
    )[1]
    by_code = dict(rows)
    return by_code.get("500", 0) / (by_code.get("500", 0) + by_code.get("200", 0))


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_degrade_page_rollback_recover(tmp_path: Path, oncall) -> None:
    root = tmp_path / "demo"
    demo = Demo(root, "--speed", "600", "--canary", "off")
    try:
        # (on a slow machine the first cycle may already be past the degradation point)
        degraded = ts(demo.wait_for(r"^(\S+ \S+) serving +demo serves version 4 \(DEGRADED\)")[1])
        fired = demo.wait_for(PAGE_LATENCY)
        assert fired[2] == "firing"
        fired_at = ts(fired[1])
        assert fired_at >= degraded

        result = oncall(
            "-w",
            str(root),
            "rollback",
            "fraud-detector",
            "--reason",
            "v4 latency regression",
            "--yes",
            "--confirm",
            "fraud-detector",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "champion v4 → v3" in result.stdout
        assert "ran this command there" in result.stderr  # the demo owns the store

        healed = ts(demo.wait_for(r"^(\S+ \S+) serving +demo serves version 3 \(healthy\)")[1])
        resolved = demo.wait_for(PAGE_LATENCY)
        assert resolved[2] == "resolved"
        assert ts(resolved[1]) >= healed
        deadline = time.monotonic() + 120  # let it serve ten healthy minutes or more
        while time.monotonic() < deadline:
            answer = oncall("-w", str(root), "query", "SELECT max(ts) AS t FROM samples", "--format", "csv")
            assert "ran this command there" in answer.stderr  # read by the owner, not a copy
            latest = answer.stdout.split()[-1]
            if ts(latest[:19].replace("T", " ")) - healed >= timedelta(minutes=10):
                break
            time.sleep(0.5)
    finally:
        assert demo.stop() == 0

    with Store.open(root / "oncall.duckdb") as store:
        end = store.query("SELECT max(ts) FROM samples")[1][0][0]
        assert end - healed >= timedelta(minutes=5)
        during = error_ratio(store, degraded, healed)
        after = error_ratio(store, healed + timedelta(minutes=1), end)
        assert during > 0.05 and after < 0.005, (during, after)
        moves = store.query(
            "SELECT version, actor, detail FROM changes WHERE kind = 'alias_move' ORDER BY ts DESC LIMIT 1"
        )[1]
        assert moves[0][0] == "3" and "v4 latency regression" in moves[0][2]
        audit = store.query("SELECT phase FROM audit WHERE action = 'rollback' ORDER BY id")[1]
        assert [r[0] for r in audit] == ["before", "after"]
