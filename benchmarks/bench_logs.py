"""Ingest 1,000,000 JSON-lines log records from a file; lines/s next to `wc -l` on that file."""

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
                        "message": "scored transaction",
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
    return 0 if stored == counted else 1


if __name__ == "__main__":
    sys.exit(main())
