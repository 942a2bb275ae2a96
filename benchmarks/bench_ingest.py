"""Ingest speed, each figure next to a baseline measured in the same run.

(a) Arrow bulk ingest with series interning vs row-by-row `executemany` (target ≥ 1,000,000
    samples/s).
(b) `oncall import` of Prometheus text end to end vs `prometheus_client.parser` merely
    parsing the same text (target ≥ 10× faster).
(c) Bytes per sample of the store (the file's size, as a user sees it) after `oncall import`
    and after `oncall compact`, next to Prometheus's blocks (`promtool tsdb
    create-blocks-from openmetrics`, the blocks directory with its index) for the same
    OpenMetrics file: 7 days × 60 series at 1 minute, counters and histograms (the data of
    bench_slo.py) (target ≤ Prometheus's).
(d) `import_file` of bench_scale's OpenMetrics text (counters and histograms, `--scale`) in
    bulk (Arrow's CSV reader, series resolved once per distinct `name{labels}`) vs the same
    file read line by line in DuckDB (the path a chunk with a refused line takes, and how
    every chunk was read before), each into a new store; samples/s and bytes per sample
    (target ≥ 1,000,000 samples/s; a whole process at 100× is bench_scale.py's import_rate).

    .venv/bin/python benchmarks/bench_ingest.py [--samples N] [--lines N] [--days N] [--scale N]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.store import Store, canonical_labels, ingest_samples
from console.store.importer import import_file

START_US = 1_700_000_000_000_000


def sample_table(n_series: int, points: int, offset: int = 0) -> pa.Table:
    labels = [
        canonical_labels({"instance": f"host-{i}:9100", "code": str(200 + i % 5), "job": "api"})
        for i in range(n_series)
    ]
    ts = (np.arange(points, dtype=np.int64) + offset) * 60_000_000 + START_US
    return pa.table(
        {
            "name": pa.array(["http_requests_total"] * (n_series * points)),
            "labels": pa.array(np.repeat(np.array(labels, dtype=object), points)),
            "ts": pa.array(np.tile(ts, n_series), pa.timestamp("us")),
            "value": np.random.default_rng(1).random(n_series * points),
        }
    )


def bench_bulk(tmp: Path, n_samples: int) -> None:
    n_series = 1000
    table = sample_table(n_series, n_samples // n_series)
    with Store.open(tmp / "bulk.duckdb") as store:
        ingest_samples(store, sample_table(10, 10, offset=10**7))  # warm up
        started = time.perf_counter()
        added = ingest_samples(store, table)
        bulk = added / (time.perf_counter() - started)

    rows = 5_000
    sample = sample_table(50, rows // 50).to_pylist()
    with Store.open(tmp / "rows.duckdb") as store:
        started = time.perf_counter()
        with store.transaction() as cur:
            ids: dict[str, int] = {}
            for row in sample:  # the naive way: intern and insert one row at a time
                key = row["name"] + row["labels"]
                if key not in ids:
                    cur.execute(
                        "INSERT INTO series VALUES (nextval('series_id_seq'), ?, ?, ?) RETURNING id",
                        [row["name"], row["labels"], key],
                    )
                    ids[key] = cur.fetchone()[0]
            cur.executemany(
                "INSERT INTO sample_rows (series_id, ts, value) VALUES (?, ?, ?)",
                [[ids[r["name"] + r["labels"]], r["ts"], r["value"]] for r in sample],
            )
        naive = rows / (time.perf_counter() - started)
    print(
        f"(a) bulk ingest with interning: {bulk:,.0f} samples/s ({added:,} samples, "
        f"{n_series} series); row-by-row executemany: {naive:,.0f} samples/s "
        f"({rows:,} rows); ratio {bulk / naive:,.0f}x; target >= 1,000,000 samples/s: "
        f"{'met' if bulk >= 1_000_000 else 'NOT met'}"
    )


def bench_text(tmp: Path, n_lines: int) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    path = tmp / "metrics.prom"
    with open(path, "w") as fh:
        fh.write("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n")
        for i in range(n_lines):
            s = i % 500
            fh.write(
                f'http_requests_total{{code="{200 + s % 5}",instance="host-{s}:9100",'
                f'job="api"}} {i} {1_700_000_000_000 + (i // 500) * 15_000}\n'
            )
    text = path.read_text()
    started = time.perf_counter()
    parsed = sum(len(family.samples) for family in text_string_to_metric_families(text))
    parse_s = time.perf_counter() - started

    with Store.open(tmp / "text.duckdb") as store:
        started = time.perf_counter()
        report = import_file(store, path, now=datetime(2026, 1, 1))
        import_s = time.perf_counter() - started
    assert report.added == parsed == n_lines, (report.added, parsed)
    ratio = parse_s / import_s
    print(
        f"(b) oncall import end to end: {n_lines / import_s:,.0f} lines/s ({import_s:.2f} s); "
        f"prometheus_client.parser parsing only: {n_lines / parse_s:,.0f} lines/s "
        f"({parse_s:.2f} s); ratio {ratio:.1f}x; target >= 10x: "
        f"{'met' if ratio >= 10 else 'NOT met'}"
    )


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def bench_density(tmp: Path, days: int) -> None:
    from benchmarks.bench_slo import write_openmetrics
    from console.store.compact import compact
    from tests.servers import backfill

    data = tmp / "density.om"
    write_openmetrics(data, days)
    path = tmp / "density.duckdb"
    with Store.open(path) as store:
        import_file(store, data, now=datetime(2026, 2, 1))
        samples = store.count("samples")
    imported = path.stat().st_size
    with Store.open(path) as store:
        started = time.perf_counter()
        result = compact(store, datetime(2026, 2, 1))
        compact_s = time.perf_counter() - started
    compacted = path.stat().st_size
    started = time.perf_counter()
    blocks = _tree_bytes(backfill(data, tmp / "tsdb", timeout=3600))
    promtool_s = time.perf_counter() - started
    assert result.samples == samples
    prom = blocks / samples
    print(
        f"(c) bytes per sample, {samples:,} samples (60 series, {days} days at 1 m, counters and histograms):"
    )
    print(f"    oncall import   {imported / 1e6:6.2f} MB  {imported / samples:5.2f} B/sample")
    print(
        f"    oncall compact  {compacted / 1e6:6.2f} MB  {compacted / samples:5.2f} B/sample  "
        f"({compact_s:.2f} s; {result.cold_samples:,} samples compacted)"
    )
    print(
        f"    prometheus      {blocks / 1e6:6.2f} MB  {prom:5.2f} B/sample  "
        f"(promtool tsdb create-blocks-from openmetrics, blocks with index; {promtool_s:.1f} s)"
    )
    print(
        f"    ratio           {prom / (compacted / samples):5.2f}x  (Prometheus's bytes over ours after compact; "
        f"target >= 1: {'met' if compacted <= blocks else 'NOT met'})"
    )


def bench_import_paths(tmp: Path, scale: int) -> None:
    from unittest import mock

    from benchmarks.scale_work import END, shape, write_openmetrics
    from console.store.import_text import FastParser

    data = tmp / "scale.om"
    samples = write_openmetrics(data, *shape(scale))
    figures = {}
    for path in ("line by line", "bulk"):  # the baseline first: the file is then in the page cache for both
        store_path = tmp / f"import-{path.replace(' ', '-')}.duckdb"  # not (a)'s bulk.duckdb
        declined = mock.patch.object(FastParser, "parse", return_value=None)
        with (
            Store.open(store_path) as store,
            declined if path == "line by line" else contextlib.nullcontext(),
        ):
            started = time.perf_counter()
            added = import_file(store, data, now=END).added
            seconds = time.perf_counter() - started
        assert added == samples, (path, added, samples)
        figures[path] = (samples / seconds, store_path.stat().st_size / samples)
    (bulk, bulk_bps), (lines, lines_bps) = figures["bulk"], figures["line by line"]
    print(
        f"(d) import of {samples:,} samples (bench_scale {scale}x): bulk {bulk:,.0f} samples/s "
        f"({bulk_bps:.2f} B/sample); line by line {lines:,.0f} samples/s ({lines_bps:.2f} B/sample); "
        f"ratio {bulk / lines:.1f}x; target >= 1,000,000 samples/s: {'met' if bulk >= 1_000_000 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=7, help="days of data for (c)")
    parser.add_argument("--scale", type=int, default=1, help="bench_scale's scale of data for (d)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_bulk(Path(tmp), args.samples)
        bench_text(Path(tmp), args.lines)
        bench_density(Path(tmp), args.days)
        bench_import_paths(Path(tmp), args.scale)


if __name__ == "__main__":
    main()
