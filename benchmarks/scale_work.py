"""The data and workspace of bench_scale.py, and the processes it times.

The base data is the issue's: 7 days × 60 series at 1 minute (10 instances × 3 codes of a
request counter, 6 instances × 5 latency buckets), 604,860 samples; a larger scale
replicates the series with a `shard` label and lengthens the days.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 20, 12, 0)  # bench_tui's cold-start script runs its clock here
BOUNDS = ("0.05", "0.1", "0.25", "1", "+Inf")
# scale -> (shards, days): the data grows in series and in days
SHAPES = {1: (1, 7), 10: (5, 14), 100: (25, 28)}


def shape(scale: int) -> tuple[int, int]:
    """How a scale is made: (shards, days); a scale not in SHAPES is shards at 7 days."""
    return SHAPES.get(scale, (scale, 7))


def _epoch(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def write_openmetrics(path: Path, shards: int, days: int) -> int:
    """The base 60 series for each shard over `days` days ending at END; returns the samples."""
    n = days * 1440 + 1
    first = _epoch(END - timedelta(days=days))
    times = [str(first + 60 * i) for i in range(n)]
    incident = np.zeros(n, dtype=bool)
    incident[n - 2 * 1440 : n - 2 * 1440 + 120] = True  # two hours of errors two days before END
    written = 0
    with open(path, "w") as out:
        out.write("# TYPE http_requests counter\n")
        for shard in range(shards):
            rng = np.random.default_rng(3 + shard)
            for i in range(10):
                total = rng.integers(50, 150, n)
                e500 = np.where(incident, total // 10, rng.binomial(total, 0.0005))
                e503 = rng.binomial(total, 0.0002)
                for code, inc in (("200", total - e500 - e503), ("500", e500), ("503", e503)):
                    name = f'http_requests_total{{code="{code}",instance="i{i}",shard="s{shard}"}}'
                    out.writelines(f"{name} {v} {t}\n" for v, t in zip(np.cumsum(inc).tolist(), times))
                    written += n
        out.write("# TYPE http_request_duration_seconds histogram\n")
        for shard in range(shards):
            rng = np.random.default_rng(1000 + shard)
            for i in range(6):
                total = rng.integers(50, 150, n)
                below = np.zeros(n, dtype=np.int64)
                counts = []
                for share in (0.6, 0.9, np.where(incident, 0.8, 0.995), 0.999):
                    below = np.maximum(below, rng.binomial(total, share))
                    counts.append(below)
                counts.append(total)
                for le, inc in zip(BOUNDS, counts):
                    name = (
                        f'http_request_duration_seconds_bucket{{instance="j{i}",le="{le}",shard="s{shard}"}}'
                    )
                    out.writelines(f"{name} {v} {t}\n" for v, t in zip(np.cumsum(inc).tolist(), times))
                    written += n
        out.write("# EOF\n")
    return written


def status_slos(count: int) -> list[dict]:
    """`count` SLOs, each over one instance across every shard: ratio and latency SLIs."""
    slos = []
    for k in range(count):
        if k % 2 == 0:
            sli = {
                "ratio": {
                    "bad": f'http_requests_total{{instance="i{k % 10}",code=~"5.."}}',
                    "total": f'http_requests_total{{instance="i{k % 10}"}}',
                }
            }
        else:
            sli = {
                "latency": {
                    "buckets": f'http_request_duration_seconds_bucket{{instance="j{k % 6}"}}',
                    "threshold": 0.25,
                }
            }
        slos.append({"name": f"slo-{k:04d}", "objective": 99 + (k % 9) / 10, "sli": sli})
    return slos


def promql_rules(count: int) -> list[dict]:
    """`count` alerting rules of the kinds alerting uses, no two alike."""
    windows = ("5m", "15m", "1h")
    rules = []
    for k in range(count):
        w = windows[(k // 5) % 3]
        nudge = (k // 15) / 1000
        inst = f"i{k % 10}"
        kind = k % 5
        if kind == 0:
            expr = f'rate(http_requests_total{{instance="{inst}",code="500"}}[{w}]) > {0.5 + nudge:.3f}'
        elif kind == 1:
            expr = f"sum by (instance) (increase(http_requests_total[{w}])) > {1e6 + k:.0f}"
        elif kind == 2:
            expr = (
                f'sum by (instance) (rate(http_requests_total{{code=~"5.."}}[{w}])) / '
                f"sum by (instance) (rate(http_requests_total[{w}])) > {0.01 + nudge:.3f}"
            )
        elif kind == 3:
            expr = f'max by (shard) (irate(http_requests_total{{instance="{inst}"}}[{w}])) > {3 + nudge:.3f}'
        else:
            expr = (
                f'sum by (instance) (rate(http_request_duration_seconds_bucket{{le="0.25"}}[{w}])) / '
                f'sum by (instance) (rate(http_request_duration_seconds_bucket{{le="+Inf"}}[{w}])) '
                f"< {0.99 - nudge:.3f}"
            )
        rules.append({"alert": f"Rule{k}", "expr": expr, "for": "5m", "labels": {"severity": "page"}})
    return rules


def write_workspaces(root: Path, store: Path, slos: int, rules: int, backtest_slos: list[dict]) -> None:
    """Workspaces over one store: `console` has `slos` SLOs and `rules` rules, `slo` the SLOs
    only, `rules` the rules only (each command's figure is its own work), `backtest` the 2
    SLOs replayed."""
    files = {
        "slos.yaml": {"slos": status_slos(slos)},
        "rules.yaml": {
            "groups": [
                {"name": f"g{g}", "interval": "1m", "rules": promql_rules(rules)[g::20]}
                for g in range(min(20, rules))
            ]
        },
        "backtest.yaml": {"slos": backtest_slos},
    }
    names = {
        "console": {"slos": ["slos.yaml"], "rules": ["rules.yaml"]},
        "slo": {"slos": ["slos.yaml"]},
        "rules": {"rules": ["rules.yaml"]},
        "backtest": {"slos": ["backtest.yaml"]},
    }
    for name, includes in names.items():
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        for kind_files in includes.values():
            for file in kind_files:
                (directory / file).write_text(yaml.safe_dump(files[file]))
        config = {"store": str(store), "retention": {"samples": 3650}, **includes}
        (directory / "oncall.yaml").write_text(yaml.safe_dump(config))


@dataclass
class Run:
    """One whole process: its wall time, peak resident memory and output."""

    wall: float
    peak_rss: int  # bytes
    stdout: str


def environment(workspace: Path | None, now: datetime = END) -> dict[str, str]:
    """This checkout's `oncall` on `workspace` with its clock at `now`, bytecode cached."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["ONCALL_NOW"] = now.isoformat() + "Z"
    if workspace is not None:
        env["ONCALL_WORKSPACE"] = str(workspace)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run(argv: list[str], env: dict[str, str], *, cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> Run:
    """Run `argv` to its end; its wall time and its own peak RSS (wait4's rusage of that child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        begun = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - begun
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {stderr.strip()[-2000:]}")
    return Run(wall, usage.ru_maxrss * 1024, stdout)


def oncall(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


REFRESH = textwrap.dedent("""
    import asyncio, statistics, sys, time
    from datetime import datetime, timedelta
    from console.config.workspace import load_workspace
    from console.runtime.session import Session
    from console.tui.app import OncallApp
    from console.tui.views import OverviewView

    now = [datetime.fromisoformat(sys.argv[2])]
    session = Session(load_workspace(sys.argv[1]), clock=lambda: now[0], run_engine=False, listen=False)

    async def measure():
        app = OncallApp(session, refresh_seconds=0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            view = app.query_one(OverviewView)
            totals = []
            for _ in range(5):
                now[0] += timedelta(minutes=1)
                started = time.perf_counter()
                *_, data = view.load(session)
                drawn = asyncio.Event()
                view.draw(data)
                app.call_after_refresh(drawn.set)
                await drawn.wait()
                totals.append(time.perf_counter() - started)
                await pilot.pause()
            return totals

    print(statistics.median(asyncio.run(measure())))
    session.close()
""")
