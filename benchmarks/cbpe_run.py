"""The CBPE run of bench_drift.py: our CBPE and NannyML 0.13.1's on the same 1M reference × 1M
analysis rows (Parquet files), each as a whole process from start to its printed summary.

    .venv/bin/python benchmarks/cbpe_run.py ours DIR CHUNK_SIZE      # one side, as bench_drift runs it
Both processes read the files as their users would (NannyML takes DataFrames: pandas.read_parquet;
ours takes arrays: pyarrow's Parquet reader, the columns it needs), fit on the reference, estimate
the reference's chunks (NannyML's fit always does) and the analysis's, and print the calibration decision, the chunk
counts, the alert count and the last chunk's estimated accuracy, so the run also shows that both
found the same. Both read files just written (in the page cache for both).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NANNYML_PYTHON = ROOT / ".venvs" / "nannyml" / "bin" / "python"
METRICS = ["roc_auc", "f1", "precision", "recall", "accuracy"]

NANNYML_SCRIPT = """
import json, logging, os, sys, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
warnings.simplefilter("ignore"); logging.disable(logging.CRITICAL)
import nannyml as nml, pandas as pd
folder, size = sys.argv[1], int(sys.argv[2])
metrics = json.loads(sys.argv[3])
reference = pd.read_parquet(f"{folder}/reference.parquet")
analysis = pd.read_parquet(f"{folder}/analysis.parquet")
cbpe = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                problem_type="classification_binary", metrics=metrics, chunk_size=size)
cbpe.fit(reference)
estimated = cbpe.estimate(analysis)  # the reference's chunks (estimated in fit) and the analysis's
result = estimated.filter(period="analysis").to_df()
alerts = int(sum(result[(m, "alert")].astype(bool).sum() for m in metrics))
print(json.dumps({"calibrated": bool(cbpe.needs_calibration),
                  "reference_chunks": len(estimated.filter(period="reference").to_df()),
                  "chunks": len(result), "alerts": alerts,
                  "last_accuracy": float(result[("accuracy", "value")].iloc[-1])}))
"""


def write_data(folder: Path, rows: int, seed: int = 7) -> None:
    """A logistic model's overconfident scores (so CBPE calibrates); the analysis side's main feature shifts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    for name, shift in (("reference", 0.0), ("analysis", 0.5)):
        logit = -0.5 + 1.4 * rng.normal(shift, 1, rows) - 0.8 * rng.normal(0, 1, rows)
        score = 1 / (1 + np.exp(-2 * logit))
        labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        table = pa.table({"y_pred_proba": score, "y_pred": (score >= 0.5).astype(np.int64), "y_true": labels})
        pq.write_table(table, folder / f"{name}.parquet")


def ours(folder: str, size: int) -> None:
    """Our side: read (`read_columns`), fit, estimate, print the summary."""
    from console.drift.estimation import Chunking, Outputs, fit

    def outputs(name: str) -> Outputs:
        columns = read_columns(f"{folder}/{name}.parquet", ("y_pred_proba", "y_true", "y_pred"))
        return Outputs.of(columns["y_pred_proba"], columns["y_true"], predicted=columns["y_pred"])

    estimator = fit(outputs("reference"), Chunking(size=size), METRICS)
    reference = estimator.reference()  # as NannyML's result holds them (its fit estimates them)
    chunks = estimator.estimate(outputs("analysis"))
    alerts = sum(m.alert for c in chunks for m in c.metrics.values())
    last = chunks[-1].metrics["accuracy"].value
    print(
        json.dumps(
            {
                "calibrated": estimator.calibrated,
                "reference_chunks": len(reference),
                "chunks": len(chunks),
                "alerts": alerts,
                "last_accuracy": last,
            }
        )
    )


def read_columns(path: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Columns of a Parquet file as float64 arrays, read by pyarrow's Parquet reader itself: its
    `pyarrow.parquet` wrapper also imports pyarrow's file systems (ssl among them, ~30 ms), and
    `to_numpy` imports pandas (~0.25 s), so the columns' buffers are taken as they are."""
    import numpy as np
    import pyarrow as pa

    try:
        from pyarrow._parquet import ParquetReader
    except ImportError:  # another pyarrow's layout: its public reader
        from pyarrow.parquet import ParquetReader  # type: ignore[attr-defined,no-redef]

    reader = ParquetReader()
    reader.open(path)
    table = reader.read_all(column_indices=[reader.column_name_idx(n) for n in names], use_threads=True)
    widths = {pa.float64(): np.float64, pa.int64(): np.int64, pa.int32(): np.int32, pa.float32(): np.float32}
    columns = {}
    for name in names:
        column = table.column(name)
        values, at = np.empty(len(column)), 0
        for chunk in column.chunks:
            if chunk.null_count or chunk.type not in widths:
                part = chunk.to_numpy(zero_copy_only=False)  # nulls or another type: pyarrow converts
            else:
                data = np.frombuffer(
                    chunk.buffers()[1], dtype=widths[chunk.type], count=chunk.offset + len(chunk)
                )
                part = data[chunk.offset :]
            values[at : at + len(chunk)] = part
            at += len(chunk)
        columns[name] = values
    return columns


def _timed(argv: list[str]) -> tuple[float, float, dict]:
    """Wall and CPU seconds (user + system) of one whole process, and its printed summary."""
    import os  # the harness's modules: imported here, so that our measured process does not load them
    import resource
    import subprocess
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout.strip().splitlines()[-1])


def run(rows: int, size: int, repeat: int = 3) -> None:
    """Both processes on the same files, `repeat` times each, alternating (so a busy moment of the
    machine falls on both sides); prints the median times, each side's range, the ratios of the
    medians and both summaries."""
    import statistics
    import tempfile

    if not NANNYML_PYTHON.exists():
        raise SystemExit("NannyML's virtualenv is missing: run bash tests/setup/nannyml.sh")
    ours_argv = [sys.executable, str(Path(__file__)), "ours"]
    theirs_argv = [str(NANNYML_PYTHON), "-c", NANNYML_SCRIPT]
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "theirs": []}
    with tempfile.TemporaryDirectory(prefix="bench_cbpe_") as tmp:
        folder = Path(tmp)
        write_data(folder, rows)
        for _ in range(repeat):
            wall, cpu, our_summary = _timed([*ours_argv, tmp, str(size)])
            runs["ours"].append((wall, cpu))
            wall, cpu, their_summary = _timed([*theirs_argv, tmp, str(size), json.dumps(METRICS)])
            runs["theirs"].append((wall, cpu))

    def median(side: str, at: int) -> float:
        return statistics.median(r[at] for r in runs[side])

    def spread(side: str) -> str:
        walls = [r[0] for r in runs[side]]
        return f"(wall {min(walls):.2f}-{max(walls):.2f} s over {len(walls)} runs)"

    print(f"cbpe: {rows:,} reference x {rows:,} analysis rows, chunks of {size:,}, {len(METRICS)} metrics")
    print(f"  medians of {repeat} runs each, alternating")
    print(
        f"  ours, whole process          {median('ours', 0):7.2f} s wall {median('ours', 1):7.2f} s cpu"
        f"   {spread('ours')} {our_summary}"
    )
    print(
        f"  NannyML 0.13.1, whole process {median('theirs', 0):7.2f} s wall {median('theirs', 1):7.2f} s cpu"
        f"   {spread('theirs')} {their_summary}"
    )
    print(
        f"  ratio NannyML/ours             {median('theirs', 0) / median('ours', 0):7.1f}x wall"
        f" {median('theirs', 1) / median('ours', 1):5.1f}x cpu   target >= 20x"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "ours":
        ours(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
