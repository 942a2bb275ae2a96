"""SLO engine speed, each figure next to a baseline measured in the same run.

(a) `oncall slo backtest --all --format json` as a whole process (interpreter, imports,
    workspace, store, engine, encoding, the output read to the end): 2 SLOs (availability
    + latency) over 7 days of 60 series at a 1-minute step, all 7 windows; next to a real
    Prometheus over the same data (backfilled with promtool) answering the same range
    queries: each window's error ratio, each alert condition and the page/ticket unions.
    Every answer is compared (target ≥ 10× faster, equal).
(b) Status of 100 SLOs over 30 days of 1-minute data from a cold process (target ≤ 1 s): a
    fresh read-only open reading the rollups a previous run persisted, and `oncall slo
    --format json` in a subprocess; next to one pass over every sample, and to a refresh
    with blocks kept in memory.

    .venv/bin/python benchmarks/bench_slo.py [--days 7] [--status-slos 100] [--runs 3] [--compact]

With --compact, each store is compacted (`oncall compact`) before it is read: closed days
compacted, the current day as it came.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
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
from console.slo.conditions import slo_alert_conditions
from console.slo.model import SLO, WINDOWS
from console.slo.status import slo_status
from console.slo.sums import clear_cache
from console.store import Store, canonical_labels, ingest_samples
from console.store.importer import import_file
from tests.servers import Server, backfill, start_prometheus

REPO = Path(__file__).resolve().parents[1]
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


def _promql_queries() -> dict[tuple[str, str], str]:
    """What `slo backtest --format json` answers, as PromQL: per SLO each window's error
    ratio, each multiwindow condition, and the page and ticket unions of those conditions."""
    queries: dict[tuple[str, str], str] = {}
    for slo in SLOS:
        ratio = {window: PROMQL[slo.name].format(w=format_duration(window)) for window in WINDOWS}
        for window, expr in ratio.items():
            queries[slo.name, format_duration(window)] = expr
        held: dict[str, list[str]] = {"page": [], "ticket": []}
        for cond in slo_alert_conditions(slo):
            expr = (
                f"({ratio[cond.long_window]}) > {cond.threshold!r} "
                f"and ({ratio[cond.short_window]}) > {cond.threshold!r}"
            )
            queries[slo.name, cond.name] = expr
            held[cond.severity].append(f"({expr})")
        for severity, exprs in held.items():
            queries[slo.name, severity] = " or ".join(exprs)
    return queries


def _kind(key: str) -> str:
    """Which of the three kinds of query a key of `_promql_queries` names."""
    if key in ("page", "ticket"):
        return "unions"
    return "conditions" if ":" in key else "error ratios"


def _query_range(server: Server, expr: str, start: datetime, end: datetime) -> list[dict]:
    response = httpx.get(
        server.url + "/api/v1/query_range",
        params={"query": expr, "start": _epoch(start), "end": _epoch(end), "step": 60},
        timeout=600,
    )
    body = response.json()
    if body.get("status") != "success":
        raise SystemExit(f"Prometheus refused {expr}: {body}")
    return body["data"]["result"]


def _workspace(root: Path) -> None:
    import yaml

    slos = [
        slo.model_dump(mode="json", include={"name", "objective", "sli"}, exclude_none=True) for slo in SLOS
    ]
    (root / "slos.yaml").write_text(yaml.safe_dump({"slos": slos}))
    (root / "oncall.yaml").write_text(yaml.safe_dump({"store": "s.duckdb", "slos": ["slos.yaml"]}))


def _process_env(root: Path, now: datetime) -> dict[str, str]:
    """This checkout's `oncall` on the workspace at `root`, its clock at `now`, with bytecode
    cached as an installed one has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(ONCALL_NOW=now.isoformat() + "Z", ONCALL_WORKSPACE=str(root))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _backtest_process(root: Path, start: datetime, end: datetime, runs: int) -> tuple[list[float], bytes]:
    """Wall times of `oncall slo backtest --all --format json` in a subprocess, and its output.

    Run as an installed `oncall` runs: bytecode cached (a first, untimed run writes it when
    the environment says not to), stdout a pipe read to the end.
    """
    env = _process_env(root, end)
    argv = [sys.executable, "-m", "console", "slo", "backtest", "--all", "--format", "json"]
    argv += ["--from", start.isoformat() + "Z", "--to", end.isoformat() + "Z", "--step", "1m"]
    walls, out = [], b""
    for run in range(runs + 1):
        begun = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        wall = time.perf_counter() - begun
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace').strip()}")
        if run:  # the first run only warms the bytecode cache and the page cache
            walls.append(wall)
        out = done.stdout
    return walls, out


def _engine_alone(root: Path, start: datetime, end: datetime) -> float:
    """The engine's share: `backtest()` in this process, median of 3, its store already open."""
    from console.slo.backtest import backtest

    walls = []
    with Store.open_read(root / "s.duckdb") as store:
        for _ in range(3):
            begun = time.perf_counter()
            backtest(store, SLOS, start, end, timedelta(minutes=1))
            walls.append(time.perf_counter() - begun)
    return statistics.median(walls)


def _compare(report: list[dict], answers: dict[tuple[str, str], list[dict]]) -> tuple[int, float, int]:
    """Every error ratio (largest relative difference) and every condition and union
    instant (how many differ) of the process's JSON against Prometheus's answers."""
    worst, compared, differ = 0.0, 0, 0
    for group in report:
        name = group["slo"]
        for window, values in group["windows"].items():
            (series,) = answers[name, window]
            assert len(series["values"]) == len(values["error_ratio"])
            for (_, text), mine in zip(series["values"], values["error_ratio"]):
                theirs = float(text)
                diff = abs(mine - theirs) / max(abs(theirs), 1e-300) if theirs else abs(mine)
                worst = max(worst, diff if math.isfinite(diff) else math.inf)
                compared += 1
        held = {c["name"]: c["intervals"] for c in group["conditions"]}
        held.update(page=group["pages"], ticket=group["tickets"])
        for key, intervals in held.items():
            theirs = {int(t) for s in answers[name, key] for t, _ in s["values"]}
            mine = set()
            for interval in intervals:
                at, last = (_epoch(datetime.fromisoformat(interval[k][:-1])) for k in ("from", "to"))
                mine.update(range(at, last + 1, 60))
            differ += len(mine ^ theirs)
            compared += len(mine | theirs)
    return compared, worst, differ


def bench_backtest(root: Path, days: int, runs: int) -> None:
    data = root / "m.om"
    write_openmetrics(data, days + 3)
    server = start_prometheus(
        backfill(data, root / "tsdb", timeout=3600), root, extra=["--query.timeout=10m"]
    )
    try:
        with Store.open(root / "s.duckdb") as store:
            import_file(store, data, now=datetime(2026, 2, 1))
            _compact(store, datetime(2026, 2, 1))
        _workspace(root)
        start = START + timedelta(days=3)
        end = start + timedelta(days=days)
        queries = _promql_queries()
        prom_walls, answers = [], {}
        ours_walls, out = _backtest_process(root, start, end, runs)
        kinds: dict[str, list[float]] = {"error ratios": [], "conditions": [], "unions": []}
        for _ in range(runs):  # Prometheus's turns in between ours: the same machine load
            spent = dict.fromkeys(kinds, 0.0)
            for key, expr in queries.items():
                begun = time.perf_counter()
                answers[key] = _query_range(server, expr, start, end)
                spent[_kind(key[1])] += time.perf_counter() - begun
            for kind, seconds in spent.items():
                kinds[kind].append(seconds)
            prom_walls.append(sum(spent.values()))
        more, _ = _backtest_process(root, start, end, runs)
        ours_walls += more
        engine = _engine_alone(root, start, end)
        report = json.loads(out)
        compared, worst, differ = _compare(report, answers)
        ours_s, prom_s = statistics.median(ours_walls), statistics.median(prom_walls)
        points = len(report[0]["times"])
        print(
            f"(a) `oncall slo backtest --all --format json`, a whole process: 2 SLOs × 7 windows × "
            f"{points} points, 60 series, {days} days ({len(out) / 1e6:.1f} MB of JSON):"
        )
        print(
            f"    oncall     {ours_s:6.3f} s   (median of {len(ours_walls)} subprocesses, "
            f"{min(ours_walls):.3f}–{max(ours_walls):.3f} s)"
        )
        print(
            f"    prometheus {prom_s:6.3f} s   ({len(queries)} query_range calls one after another: "
            f"14 error ratios, 8 conditions, 4 page/ticket unions; median of {runs}, "
            f"{min(prom_walls):.3f}–{max(prom_walls):.3f} s)"
        )
        print(
            "               "
            + ", ".join(f"{kind} {statistics.median(walls):.3f} s" for kind, walls in kinds.items())
        )
        print(f"    engine     {engine:6.3f} s   (in-process `backtest()` alone, for comparison)")
        print(f"    ratio      {prom_s / ours_s:6.1f}×   (target ≥ 10×)")
        without = sum(statistics.median(kinds[k]) for k in ("error ratios", "conditions"))
        print(f"               {without / ours_s:6.1f}×   without the union queries")
        print(
            f"    answers    {compared} compared: error ratios within {worst:.2e} "
            f"({'equal' if worst <= 1e-9 else 'DIFFERENT'} within 1e-9), "
            f"{differ} condition/union instants differ"
        )
    finally:
        server.stop()


COMPACT: list[bool] = [False]


def _compact(store: Store, now: datetime) -> None:
    if COMPACT[0]:
        from console.store.compact import compact

        result = compact(store, now)
        print(f"    (compacted: {result.cold_samples:,} cold, {result.hot_samples:,} hot samples)")


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
        _compact(store, now)
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
    env = _process_env(root, now)
    oncall = [sys.executable, "-m", "console"]
    times = []
    for argv in ([*oncall, "--help"], [*oncall, "slo", "--format", "json"]):
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
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side in (a)")
    parser.add_argument("--only", choices=("backtest", "status"), help="run one of the two")
    parser.add_argument("--compact", action="store_true", help="compact each store before reading it")
    args = parser.parse_args()
    COMPACT[0] = args.compact
    with tempfile.TemporaryDirectory(prefix="bench-slo-") as tmp:
        if args.only != "status":
            bench_backtest(Path(tmp), args.days, args.runs)
        if args.only != "backtest":
            bench_status(Path(tmp), args.status_slos)


if __name__ == "__main__":
    main()
