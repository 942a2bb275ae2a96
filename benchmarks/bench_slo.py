"""SLO engine speed, each figure next to a baseline measured in the same run.

(a) Backtest of 2 SLOs (availability + latency) over 7 days of 60 series at a 1-minute
    step, all 7 windows, vs a real Prometheus answering the equivalent range queries over
    the same data (backfilled with promtool); answers compared (target ≥ 10× faster, equal).
(b) Status of 100 SLOs over 30 days of 1-minute data from a cold process (target ≤ 1 s): a
    fresh read-only open reading the rollups a previous run persisted, and `oncall slo
    --format json` in a subprocess; next to one pass over every sample, and to a refresh
    with blocks kept in memory.

    .venv/bin/python benchmarks/bench_slo.py [--days 7] [--status-slos 100]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.config.durations import format_duration
from console.slo.backtest import backtest
from console.slo.model import SLO, WINDOWS
from console.slo.status import slo_status
from console.slo.sums import clear_cache
from console.store import Store, canonical_labels, ingest_samples
from console.store.importer import import_file
from tests.servers import backfill, start_prometheus

START = datetime(2026, 1, 1)
BOUNDS = ("0.05", "0.1", "0.25", "1", "+Inf")

SLOS = [
    SLO.model_validate(
        {
            "name": "availability",
            "objective": 99.9,
            "sli": {"ratio": {"bad": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}},
        }
    ),
    SLO.model_validate(
        {
            "name": "latency",
            "objective": 99,
            "sli": {"latency": {"buckets": "http_request_duration_seconds_bucket", "threshold": 0.25}},
        }
    ),
]
PROMQL = {
    "availability": 'sum(rate(http_requests_total{{code=~"5.."}}[{w}])) / sum(rate(http_requests_total[{w}]))',
    "latency": (
        '1 - sum(rate(http_request_duration_seconds_bucket{{le="0.25"}}[{w}])) / '
        'sum(rate(http_request_duration_seconds_bucket{{le="+Inf"}}[{w}]))'
    ),
}


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def write_openmetrics(path: Path, days: int) -> None:
    """60 series: 10 instances × 3 codes of requests, 6 instances × 5 latency buckets."""
    rng = np.random.default_rng(3)
    n = days * 1440
    times = [str(_epoch(START) + 60 * i) for i in range(n)]
    incident = np.zeros(n, dtype=bool)
    incident[n - 2 * 1440 : n - 2 * 1440 + 120] = True
    with open(path, "w") as out:
        out.write("# TYPE http_requests counter\n")
        for i in range(10):
            total = rng.integers(50, 150, n)
            e500 = np.where(incident, total // 10, rng.binomial(total, 0.0005))
            e503 = rng.binomial(total, 0.0002)
            for code, inc in (("200", total - e500 - e503), ("500", e500), ("503", e503)):
                values = np.cumsum(inc).tolist()
                if i == 3:  # one restart
                    values = values[: n // 2] + np.cumsum(inc[n // 2 :]).tolist()
                name = f'http_requests_total{{code="{code}",instance="i{i}"}}'
                out.writelines(f"{name} {v} {t}\n" for v, t in zip(values, times))
        out.write("# TYPE http_request_duration_seconds histogram\n")
        for i in range(6):
            total = rng.integers(50, 150, n)
            shares = (0.6, 0.9, np.where(incident, 0.8, 0.995), 0.999)
            counts, below = [], np.zeros(n, dtype=np.int64)
            for share in shares:
                below = np.maximum(below, rng.binomial(total, share))
                counts.append(below)
            counts.append(total)
            for le, inc in zip(BOUNDS, counts):
                name = f'http_request_duration_seconds_bucket{{instance="j{i}",le="{le}"}}'
                out.writelines(f"{name} {v} {t}\n" for v, t in zip(np.cumsum(inc).tolist(), times))
        out.write("# EOF\n")


def bench_backtest(root: Path, days: int) -> None:
    data = root / "m.om"
    write_openmetrics(data, days + 3)
    server = start_prometheus(
        backfill(data, root / "tsdb", timeout=3600), root, extra=["--query.timeout=10m"]
    )
    store = Store.open(root / "s.duckdb")
    try:
        import_file(store, data, now=datetime(2026, 2, 1))
        start = START + timedelta(days=3)
        end = start + timedelta(days=days)
        step = timedelta(minutes=1)
        begun = time.perf_counter()
        ours = backtest(store, SLOS, start, end, step)
        ours_s = time.perf_counter() - begun
        begun = time.perf_counter()
        answers = {}
        for slo in SLOS:
            for window in WINDOWS:
                w = format_duration(window)
                response = httpx.get(
                    server.url + "/api/v1/query_range",
                    params={
                        "query": PROMQL[slo.name].format(w=w),
                        "start": _epoch(start),
                        "end": _epoch(end),
                        "step": 60,
                    },
                    timeout=600,
                )
                answers[slo.name, window] = response.json()["data"]["result"][0]["values"]
        prom_s = time.perf_counter() - begun
        worst, compared, alerts = 0.0, 0, 0
        for result in ours:
            alerts += len(result.severity_runs("page")) + len(result.severity_runs("ticket"))
            for window in WINDOWS:
                values = answers[result.slo.name, window]
                mine = result.error_ratio[window]
                assert len(values) == len(mine), (len(values), len(mine))
                for k, (_, text) in enumerate(values):
                    theirs = float(text)
                    diff = abs(mine[k] - theirs) / max(abs(theirs), 1e-300) if theirs else abs(mine[k])
                    if not math.isfinite(diff):
                        diff = math.inf
                    worst = max(worst, diff)
                    compared += 1
        points = len(ours[0].times)
        print(f"(a) backtest, 2 SLOs × 7 windows × {points} points, 60 series, {days} days:")
        print(f"    oncall   {ours_s:8.3f} s   ({alerts} alert intervals found)")
        print(f"    prometheus {prom_s:6.3f} s   (14 query_range calls)")
        print(f"    ratio    {prom_s / ours_s:8.1f}×   (target ≥ 10×)")
        print(
            f"    answers  {compared} compared, max relative difference {worst:.2e} "
            f"({'equal' if worst <= 1e-9 else 'DIFFERENT'} within 1e-9)"
        )
    finally:
        store.close()
        server.stop()


def bench_status(root: Path, n_slos: int) -> None:
    now = START + timedelta(days=30, hours=12)
    n = 31 * 1440
    ts = (np.arange(n, dtype=np.int64) * 60 + _epoch(START) + 60) * 1_000_000
    rng = np.random.default_rng(5)
    store = Store.open(root / "status.duckdb")
    try:
        for first in range(0, n_slos, 10):
            names, labels, stamps, values = [], [], [], []
            for i in range(first, min(first + 10, n_slos)):
                total = rng.integers(10, 100, n)
                bad = rng.binomial(total, 0.0008)
                for code, inc in (("200", total - bad), ("500", bad)):
                    labels.append(
                        np.full(n, canonical_labels({"service": f"s{i}", "code": code}), dtype=object)
                    )
                    stamps.append(ts)
                    values.append(np.cumsum(inc).astype(float))
                    names.append(np.full(n, "requests_total", dtype=object))
            ingest_samples(
                store,
                pa.table(
                    {
                        "name": pa.array(np.concatenate(names)),
                        "labels": pa.array(np.concatenate(labels)),
                        "ts": pa.array(np.concatenate(stamps), pa.timestamp("us")),
                        "value": np.concatenate(values),
                    }
                ),
            )
        slos = [
            SLO.model_validate(
                {
                    "name": f"s{i}",
                    "objective": 99.9,
                    "sli": {
                        "ratio": {
                            "bad": f'requests_total{{service="s{i}",code=~"5.."}}',
                            "total": f'requests_total{{service="s{i}"}}',
                        }
                    },
                }
            )
            for i in range(n_slos)
        ]
        clear_cache()
        begun = time.perf_counter()  # the store's owner (engine, console) persists rollups
        slo_status(store, slos, now - timedelta(minutes=1))  # a minute before
        build = time.perf_counter() - begun
        rollups = store.count("slo_rollups")
        store.close()  # measure as `oncall slo` reads: a fresh read-only open
        store = Store.open_read(root / "status.duckdb")
        begun = time.perf_counter()
        statuses = slo_status(store, slos, now, rollups=False)
        one_pass = time.perf_counter() - begun
        store.close()  # and open again: nothing of the one pass in DuckDB's buffers
        store = Store.open_read(root / "status.duckdb")
        clear_cache()
        begun = time.perf_counter()
        cold_statuses = slo_status(store, slos, now, cache=False)
        cold = time.perf_counter() - begun
        refreshes = []
        for minute in range(1, 4):  # the console refreshing as the clock moves on
            begun = time.perf_counter()
            slo_status(store, slos, now + timedelta(minutes=minute))
            refreshes.append(time.perf_counter() - begun)
        refresh = sorted(refreshes)[1]
        samples = store.count("samples")
        store.close()
        same = all(
            a.period.total == b.period.total
            and a.period.errors == b.period.errors
            and all(
                a.windows[w].total == b.windows[w].total and a.windows[w].errors == b.windows[w].errors
                for w in WINDOWS
            )
            for a, b in zip(cold_statuses, statuses)
        )
        process, startup, answer = _cold_process(root, slos, now)
        print(
            f"(b) status of {n_slos} SLOs over 30 days of 1-minute data ({samples:,} samples, "
            f"{rollups:,} rollups):"
        )
        print(
            f"    cold       {cold:7.3f} s   (fresh read-only open, persisted rollups, no memory "
            f"cache; target ≤ 1 s; {'equal to' if same else 'DIFFERENT from'} one pass)"
        )
        print(
            f"    process    {process:7.3f} s   (`oncall slo --format json` in a subprocess: "
            f"{answer}; of which interpreter + imports {startup:.3f} s, `oncall --help`)"
        )
        print(
            f"    one pass   {one_pass:7.3f} s   (baseline: every sample read once; "
            f"{sum(s.state == 'ok' for s in statuses)} ok)"
        )
        print(f"    refresh    {refresh:7.3f} s   (blocks kept in memory, median of 3 a minute apart)")
        print(f"    build      {build:7.3f} s   (first computation on the writable store, persisting)")
        print(f"    ratio      {one_pass / cold:7.1f}×   (one pass ÷ cold)")
    finally:
        store.close()


def _cold_process(root: Path, slos: list[SLO], now: datetime) -> tuple[float, float, str]:
    """Wall time of `oncall slo --format json` over the store, and of `oncall --help`."""
    import json

    import yaml

    (root / "slos.yaml").write_text(
        yaml.safe_dump(
            {
                "slos": [
                    slo.model_dump(mode="json", include={"name", "objective", "sli"}, exclude_none=True)
                    for slo in slos
                ]
            }
        )
    )
    (root / "oncall.yaml").write_text(yaml.safe_dump({"store": "status.duckdb", "slos": ["slos.yaml"]}))
    oncall = str(Path(sys.executable).with_name("oncall"))
    env = {**os.environ, "ONCALL_NOW": now.isoformat() + "Z", "ONCALL_WORKSPACE": str(root)}
    times = []
    for argv in ([oncall, "--help"], [oncall, "slo", "--format", "json"]):
        runs = []
        for _ in range(3):
            begun = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            runs.append(time.perf_counter() - begun)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        times.append(sorted(runs)[1])
    answer = json.loads(done.stdout)
    return times[1], times[0], f"{len(answer)} SLOs, median of 3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--status-slos", type=int, default=100)
    parser.add_argument("--only", choices=("backtest", "status"), help="run one of the two")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slo-") as tmp:
        if args.only != "status":
            bench_backtest(Path(tmp), args.days)
        if args.only != "backtest":
            bench_status(Path(tmp), args.status_slos)


if __name__ == "__main__":
    main()
