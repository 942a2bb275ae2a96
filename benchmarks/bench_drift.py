"""Drift on 1,000,000 reference × 1,000,000 current rows × 20 numeric columns, default tests;
CBPE on 1,000,000 reference × 1,000,000 analysis rows next to NannyML 0.13.1.

Drift: prints our time next to scipy's ks_2samp over the same columns in the same run (the
baseline), and the ratio. Target: ours ≤ 5 s in total. Evidently's report on this input takes minutes.
CBPE (benchmarks/cbpe_run.py): our process and NannyML's (its virtualenv, tests/setup/nannyml.sh)
on the same Parquet files, wall and CPU time of each whole process, medians of --repeat runs.
Target: ≥ 20× faster.
    .venv/bin/python benchmarks/bench_drift.py [--rows N] [--columns N] [--only drift|cbpe] [--repeat N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.drift.stats import dataset_drift


def make_frames(rows: int, columns: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; every third column's current side is shifted."""
    rng = np.random.default_rng(seed)
    reference, current = {}, {}
    for index in range(columns):
        name = f"f{index:02d}"
        reference[name] = rng.normal(0.0, 1.0, rows)
        current[name] = rng.normal(0.2 if index % 3 == 0 else 0.0, 1.0, rows)
    return pd.DataFrame(reference), pd.DataFrame(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--only", choices=["drift", "cbpe"], help="run one part (default: both)")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="CBPE's chunk size (default 10,000)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="CBPE: runs of each side, medians shown (default 3)"
    )
    args = parser.parse_args()
    if args.only != "cbpe":
        bench_drift(args.rows, args.columns)
    if args.only != "drift":
        from benchmarks.cbpe_run import run

        run(args.rows, args.chunk_size, args.repeat)


def bench_drift(rows: int, columns: int) -> None:
    reference, current = make_frames(rows, columns)

    started = time.perf_counter()
    result = dataset_drift(reference, current)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    for column in reference.columns:
        ks_2samp(reference[column].to_numpy(), current[column].to_numpy())
    baseline = time.perf_counter() - started

    methods = sorted({c.method for c in result.columns})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"drift: {rows:,} reference x {rows:,} current rows x {columns} numeric columns")
    print(
        f"  tests used: {', '.join(methods)}; drifted {result.drifted_columns}/{len(result.columns)}, "
        f"dataset drift {result.drifted}"
    )
    print(f"  ours (default tests, all columns)   {ours:7.2f} s   target <= 5 s")
    print(f"  baseline scipy ks_2samp, same cols  {baseline:7.2f} s")
    print(f"  ratio baseline/ours                 {baseline / ours:7.1f}x")
    print(f"  peak memory (whole process)         {peak_mb:7.0f} MB")


if __name__ == "__main__":
    main()
