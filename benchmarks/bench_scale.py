"""How cost grows with data: the same work at 1×, 10× and 100× the issue's data, each figure
with its growth factor, Prometheus beside the bytes and the backtest, the targets at the end.

The base (1×) is 7 days × 60 series at 1 minute, counters and histograms (604,860 samples);
10× is 5 shards × 14 days, 100× 25 shards × 28 days (benchmarks/scale_work.py).  Every
figure is a whole process (interpreter, imports, workspace, store, work, output read to the
end) with its own peak RSS:

  import     `oncall import` of the OpenMetrics text into a new store; bytes per sample of
             the store, next to `promtool tsdb create-blocks-from openmetrics` on the same text
  slo        `oncall slo --format json` for 1,000 SLOs: first (builds and persists rollups),
             then warm (rollups built)
  backtest   `oncall slo backtest --all` of 2 SLOs over the last 7 days at 1 minute, next to a
             real Prometheus over the blocks answering the same range queries
  rules      `oncall rules eval --format json`: one cycle of 500 PromQL rules
  console    cold start until the Overview is drawn with its data (bench_tui's script), and an
             Overview refresh (median of 5, a minute apart)
  compact    `oncall compact` of the store, last (the figures above read the import's layout),
             and the store's bytes per sample after it

    .venv/bin/python benchmarks/bench_scale.py [--scales 1,10,100] [--keep DIR] [--prometheus-scales 1,10]

--keep DIR keeps each scale's OpenMetrics text and Prometheus blocks for later runs.
--prometheus-scales: the scales where Prometheus is measured (all by default); elsewhere its
rows show "—".  Its blocks take promtool about 2 h at 100× on 2 cores (2026-12-08: 69 MB
written after 54 CPU minutes, of about 155 MB at 2.56 B/sample), so a shorter run leaves 100× out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_slo import SLOS, _promql_queries, _query_range
from benchmarks.bench_tui import COLD_START
from benchmarks.scale_work import (
    END,
    REFRESH,
    Run,
    environment,
    oncall,
    run,
    shape,
    write_openmetrics,
    write_workspaces,
)
from tests.servers import require_binary, start_prometheus

N_SLOS = 1000
N_RULES = 500
BACKTEST_DAYS = 7


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _blocks_bytes(tsdb: Path) -> int:
    """The bytes of Prometheus's persisted blocks (chunks, index, meta, tombstones)."""
    return sum(_tree_bytes(block) for block in tsdb.iterdir() if (block / "meta.json").exists())


def _data(cache: Path, scale: int, prometheus: bool) -> tuple[Path, Path, int, dict[str, float]]:
    """The scale's OpenMetrics text and, with `prometheus`, its Prometheus blocks (each made
    once into `cache`), its samples, and what making them cost."""
    text, tsdb, count_file = cache / "m.om", cache / "tsdb", cache / "samples"
    spent: dict[str, float] = {}
    written = next((f for f in (count_file, cache / "text_samples") if f.exists()), None)
    if written is None:  # `samples` is written after the blocks, `text_samples` after the text
        cache.mkdir(parents=True, exist_ok=True)
        begun = time.perf_counter()
        written = cache / "text_samples"
        written.write_text(str(write_openmetrics(text, *shape(scale))))
        spent["generate_s"] = time.perf_counter() - begun
    count = int(written.read_text())
    if not prometheus:
        return text, tsdb, count, spent
    if not count_file.exists():
        shutil.rmtree(tsdb, ignore_errors=True)
        tsdb.mkdir()
        made = run(
            [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(text), str(tsdb)],
            environment(None),
        )
        spent.update(promtool_s=made.wall, promtool_rss=made.peak_rss)
        (cache / "promtool_bytes").write_text(str(_blocks_bytes(tsdb)))  # before Prometheus compacts
        count_file.write_text(str(count))
    spent["promtool_bytes"] = int((cache / "promtool_bytes").read_text())
    return text, tsdb, count, spent


def _backtest_vs_prometheus(tsdb: Path, work: Path, prometheus: bool) -> tuple[Run, float]:
    """`oncall slo backtest --all` over the last 7 days, and Prometheus's time for the same
    range queries (best of 2, after one warm-up round; NaN without `prometheus`)."""
    start, end = END - timedelta(days=BACKTEST_DAYS), END
    argv = oncall("slo", "backtest", "--all", "--format", "json", "--step", "1m")
    argv += ["--from", start.isoformat() + "Z", "--to", end.isoformat() + "Z"]
    env = environment(work / "backtest")
    run(argv, env)  # warms the page cache and the bytecode, as for Prometheus below
    ours = min((run(argv, env) for _ in range(2)), key=lambda r: r.wall)
    if not prometheus:
        return ours, math.nan
    server = start_prometheus(tsdb, work / "prometheus", extra=["--query.timeout=10m"], timeout=600)
    try:
        queries = _promql_queries()
        rounds = []
        for _ in range(3):
            begun = time.perf_counter()
            for expr in queries.values():
                _query_range(server, expr, start, end)
            rounds.append(time.perf_counter() - begun)
    finally:
        server.stop()
    return ours, min(rounds[1:])


def measure(scale: int, keep: Path, prometheus: bool = True) -> dict[str, float]:
    """Every figure at one scale (Prometheus's only with `prometheus`)."""
    text, tsdb, samples, made = _data(keep / f"scale-{scale}", scale, prometheus)
    work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{scale}-"))
    try:
        store = work / "s.duckdb"
        backtest_slos = [s.model_dump(mode="json", include={"name", "objective", "sli"}) for s in SLOS]
        write_workspaces(work, store, N_SLOS, N_RULES, backtest_slos)
        slo_env = environment(work / "slo")
        console_env = environment(work / "console")
        figures: dict[str, float] = {"samples": samples, **made}
        imported = run(oncall("import", str(text), "--format", "json"), slo_env)
        added = sum(r.get("added", 0) for r in json.loads(imported.stdout))
        if added != samples:
            raise SystemExit(f"import added {added:,} of {samples:,} samples")
        figures.update(import_s=imported.wall, import_rss=imported.peak_rss)
        figures["import_rate"] = samples / imported.wall
        figures["store_bps"] = _tree_bytes_of_store(store) / samples
        figures["promtool_bps"] = figures.pop("promtool_bytes", math.nan) / samples
        startup = min((run(oncall("--help"), slo_env) for _ in range(3)), key=lambda r: r.wall)
        figures["startup_s"] = startup.wall
        first = run(oncall("slo", "--format", "json"), slo_env, ok=(0, 1))
        if len(json.loads(first.stdout)) != N_SLOS:
            raise SystemExit("`oncall slo` did not answer every SLO")
        warm = min((run(oncall("slo", "--format", "json"), slo_env, ok=(0, 1)) for _ in range(3)), key=_wall)
        figures.update(slo_first_s=first.wall, slo_first_rss=first.peak_rss)
        figures.update(slo_warm_s=warm.wall, slo_warm_rss=warm.peak_rss)
        ours, theirs = _backtest_vs_prometheus(tsdb, work, prometheus)
        figures.update(backtest_s=ours.wall, backtest_rss=ours.peak_rss, prom_backtest_s=theirs)
        # as Prometheus keeps them, compacted
        figures["prom_bps"] = _blocks_bytes(tsdb) / samples if prometheus else math.nan
        rules_env = environment(work / "rules")
        cycles = [run(oncall("rules", "eval", "--format", "json"), rules_env, ok=(0, 1)) for _ in range(3)]
        cycle = min(cycles, key=_wall)
        figures.update(rules_s=cycle.wall, rules_rss=cycle.peak_rss)
        figures["rules_engine_s"] = min(json.loads(c.stdout)["seconds"] for c in cycles)
        cold = [run([sys.executable, "-c", COLD_START, str(work / "console" / "oncall.yaml"), str(time.time())],
                    console_env) for _ in range(3)]  # fmt: skip
        figures["cold_start_s"] = min(float(c.stdout.split()[-1]) for c in cold)
        figures["cold_start_rss"] = max(c.peak_rss for c in cold)
        refresh = run(
            [sys.executable, "-c", REFRESH, str(work / "console" / "oncall.yaml"), END.isoformat()],
            console_env,
        )
        figures.update(refresh_s=float(refresh.stdout.split()[-1]), refresh_rss=refresh.peak_rss)
        compacted = run(oncall("compact"), slo_env)  # last: every figure above reads the import's layout
        figures.update(compact_s=compacted.wall, compact_rss=compacted.peak_rss)
        figures["compact_bps"] = _tree_bytes_of_store(store) / samples
        figures["peak_rss"] = max(v for k, v in figures.items() if k.endswith("_rss") and k != "promtool_rss")
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wall(r: Run) -> float:
    return r.wall


def _tree_bytes_of_store(store: Path) -> int:
    """The store as the user's disk holds it: the file and any write-ahead log."""
    return sum(p.stat().st_size for p in (store, store.with_name(store.name + ".wal")) if p.exists())


# (key, label, unit, how it should grow: "data" = with the samples, "flat" = not at all)
ROWS = [
    ("samples", "samples", "count", "data"),
    ("store_bps", "store bytes per sample", "B", "flat"),
    ("promtool_bps", "  promtool's blocks, bytes per sample", "B", "flat"),
    ("prom_bps", "  the same compacted by Prometheus", "B", "flat"),
    ("import_s", "import, whole process", "s", "data"),
    ("import_rate", "  import samples/s end to end", "rate", "flat"),
    ("import_rss", "  import peak RSS", "MB", "flat"),
    ("startup_s", "`oncall --help` (interpreter + imports)", "s", "flat"),
    ("slo_first_s", "slo, 1,000 SLOs, first (builds rollups)", "s", "data"),
    ("slo_first_rss", "  its peak RSS", "MB", "flat"),
    ("slo_warm_s", "slo, 1,000 SLOs, warm (rollups built)", "s", "flat"),
    ("slo_warm_rss", "  its peak RSS", "MB", "flat"),
    ("backtest_s", "backtest, 2 SLOs × 7 days at 1 m", "s", "data"),
    ("prom_backtest_s", "  Prometheus, the same range queries", "s", "data"),
    ("backtest_rss", "  backtest peak RSS", "MB", "flat"),
    ("rules_s", "rule cycle, 500 rules, whole process", "s", "flat"),
    ("rules_engine_s", "  of which the cycle itself", "s", "flat"),
    ("rules_rss", "  its peak RSS", "MB", "flat"),
    ("cold_start_s", "console cold start (1,000 SLOs, 500 rules)", "s", "flat"),
    ("cold_start_rss", "  its peak RSS", "MB", "flat"),
    ("refresh_s", "Overview refresh (read + draw)", "s", "flat"),
    ("compact_s", "`oncall compact` (rewrites the file)", "s", "data"),
    ("compact_rss", "  its peak RSS", "MB", "flat"),
    ("compact_bps", "  store bytes per sample after it", "B", "flat"),
    ("peak_rss", "peak RSS of any oncall process", "MB", "flat"),
]
TARGETS = {  # at 100×: (key, limit, "min" or "max", text)
    "import_rate": (1_000_000, "min", "≥ 1 M samples/s"),
    "slo_warm_s": (1.0, "max", "≤ 1 s"),
    "rules_s": (1.0, "max", "≤ 1 s"),
    "cold_start_s": (0.8, "max", "≤ 0.8 s"),
    "peak_rss": (1e9, "max", "≤ 1 GB"),
}


def _cell(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    if unit == "count":
        return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value:,.0f}"
    if unit == "rate":
        return f"{value / 1e6:.2f} M/s" if value >= 1e6 else f"{value / 1e3:.0f} k/s"
    if unit == "MB":
        return f"{value / 1e6:,.0f} MB"
    if unit == "B":
        return f"{value:.2f} B"
    return f"{value:.3f} s"


def report(results: dict[int, dict[str, float]]) -> None:
    """The table: each figure per scale, its growth from the previous scale (`!` where it grew
    faster than it should: more than the data for work over the data, over 1.5× for the rest),
    and the target at the largest scale."""
    scales = sorted(results)
    top = scales[-1]
    header = f"{'figure':<44}" + "".join(f"{f'{s}×':>12}" for s in scales)
    header += "".join(f"{f'{a}→{b}×':>11}" for a, b in itertools.pairwise(scales)) + f"   target at {top}×"
    print(header)
    for key, label, unit, grows in ROWS:
        line = f"{label:<44}" + "".join(f"{_cell(results[s][key], unit):>12}" for s in scales)
        for a, b in itertools.pairwise(scales):
            if math.isnan(results[a][key]) or math.isnan(results[b][key]):
                line += f"{'—':>10} "
                continue
            growth = results[b][key] / results[a][key] if results[a][key] else float("inf")
            data = results[b]["samples"] / results[a]["samples"]
            allowed = data * 1.2 if grows == "data" else 1.5
            flag = "!" if (growth > allowed if unit != "rate" else growth < 1 / 1.5) else " "
            line += f"{growth:>9.2f}×{flag}"
        if key in TARGETS:
            limit, side, text = TARGETS[key]
            value = results[top][key]
            met = value >= limit if side == "min" else value <= limit
            line += f"   {text}: {'met' if met else 'NOT met'}"
        print(line)
    if len(scales) > 1:
        warm = results[top]["slo_warm_s"] / results[scales[0]]["slo_warm_s"]
        print(
            f"warm slo independent of the number of samples: {warm:.2f}× from {scales[0]}× to {top}× "
            f"({'met' if warm <= 1.5 else 'NOT met'}: at most 1.5×)"
        )
    for s in scales:
        made = results[s]
        parts = [f"data written in {made['generate_s']:.1f} s"] if "generate_s" in made else []
        if "promtool_s" in made:
            parts.append(
                f"promtool create-blocks-from {made['promtool_s']:.1f} s, "
                f"peak RSS {made['promtool_rss'] / 1e6:,.0f} MB"
            )
        if parts:
            print(f"{s}×: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100", help="comma-separated multiples of the base data")
    parser.add_argument("--keep", help="directory keeping each scale's text and Prometheus blocks")
    parser.add_argument("--prometheus-scales", help="the scales where Prometheus is measured (default: all)")
    args = parser.parse_args()
    scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    with_prometheus = (
        set(scales)
        if args.prometheus_scales is None
        else {int(s) for s in args.prometheus_scales.split(",") if s.strip()}
    )
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scale-data-"))
    results = {}
    try:
        for scale in scales:
            shards, days = shape(scale)
            print(f"{scale}×: {shards} shard(s) × 60 series × {days} days …", flush=True)
            results[scale] = measure(scale, keep, scale in with_prometheus)
    finally:
        if not args.keep:
            shutil.rmtree(keep, ignore_errors=True)
    report(results)


if __name__ == "__main__":
    main()
