"""Ingest JSON-lines log records from a file (lines/s next to `wc -l` on that file), then search
them: `oncall logs --count REGEX` as a whole process next to `grep -c -E REGEX` on the same file,
both measured in this run (target: at most 1.5x grep's time)."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.logfile import LogfileCollector, LogfileOptions
from console.store import Store

TARGET = 200_000
SEARCH_TARGET = 1.5  # oncall logs at most this many times grep -c -E
PATTERN = "timeout|NaN"
MESSAGES = [
    "scored transaction batch",
    "feature cache refreshed",
    "slow feature lookup",
    "upstream timeout calling feature-store after 2000ms",
    "prediction failed: model returned NaN score",
]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_log(path: Path, lines: int, seed: int = 1) -> None:
    """A JSON-lines file shaped like a service's logs: ts, level, service, message, fields."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 20)
    levels = ["info"] * 90 + ["warning"] * 8 + ["error"] * 2
    with open(path, "w") as fh:
        for i in range(lines):
            fh.write(
                json.dumps(
                    {
                        "ts": (start + timedelta(milliseconds=37 * i)).isoformat() + "Z",
                        "level": rng.choice(levels),
                        "service": "fraud-scoring",
                        "message": MESSAGES[i % 97 % len(MESSAGES)],
                        "request_id": f"req-{i:08d}",
                        "latency_ms": rng.randint(5, 400),
                        "model": "fraud-detector",
                    }
                )
                + "\n"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        log = Path(tmp) / "service.log"
        write_log(log, args.lines)
        size_mb = log.stat().st_size / 1e6

        began = time.perf_counter()
        counted = int(
            subprocess.run(["wc", "-l", str(log)], capture_output=True, text=True, check=True).stdout.split()[
                0
            ]
        )
        wc_s = time.perf_counter() - began

        store = Store.open(Path(tmp) / "bench.duckdb")
        collector = LogfileCollector("bench", LogfileOptions(path=str(log)))
        began, cpu_began = time.perf_counter(), _cpu()
        result = collector.collect(store, datetime(2026, 11, 26))
        ingest_s, ingest_cpu = time.perf_counter() - began, _cpu() - cpu_began
        stored = store.count("logs")
        store.close()
        search = _search(Path(tmp), log)

    rate = stored / ingest_s
    print(f"file: {counted:,} lines, {size_mb:.0f} MB")
    print(f"wc -l            {wc_s:8.3f} s  {counted / wc_s:14,.0f} lines/s")
    print(
        f"logfile ingest   {ingest_s:8.3f} s  {rate:14,.0f} lines/s  "
        f"({stored:,} rows stored, {result.rows:,} new)"
    )
    print(
        f"  (process CPU {ingest_cpu:.2f} s; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs: a busy machine lowers the figure)"
    )
    print(
        f"ratio ingest/wc  {wc_s / ingest_s:8.4f}   target >= {TARGET:,} lines/s: "
        f"{'met' if rate >= TARGET else 'NOT met'}"
    )
    grep_s, grep_n, ours_s, ours_n = search
    ratio = ours_s / grep_s
    print(f"grep -c -E       {grep_s:8.3f} s  {grep_n:,} lines match {PATTERN!r}")
    print(f"oncall logs      {ours_s:8.3f} s  {ours_n:,} lines match (--count, whole process)")
    print(
        f"ratio logs/grep  {ratio:8.2f}x  target <= {SEARCH_TARGET}x: {'met' if ratio <= SEARCH_TARGET else 'NOT met'}"
    )
    return 0 if stored == counted and grep_n == ours_n else 1


def _timed(argv: list[str]) -> tuple[float, int]:
    """The best of three runs of a command printing a count; (seconds, the count)."""
    best, count = float("inf"), -1
    for _ in range(3):
        began = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        best = min(best, time.perf_counter() - began)
        count = int(out.strip() or -1)
    return best, count


def _search(tmp: Path, log: Path) -> tuple[float, int, float, int]:
    """grep over the file, then `oncall logs` over the store, each as a whole process."""
    grep_s, grep_n = _timed(["grep", "-c", "-E", PATTERN, str(log)])
    oncall = [
        sys.executable,
        "-m",
        "console",
        "logs",
        "--count",
        "--store",
        str(tmp / "bench.duckdb"),
        PATTERN,
    ]
    ours_s, ours_n = _timed(oncall)
    return grep_s, grep_n, ours_s, ours_n


if __name__ == "__main__":
    sys.exit(main())
