"""Our CBPE against NannyML 0.13.1 itself, run in its own virtualenv on the same files: every
chunk's estimate, sampling error, band, realized value, thresholds and alert flag."""

from __future__ import annotations

import json
import math
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from console.drift.estimation import METRICS, Chunking, Outputs, fit

ROOT = Path(__file__).resolve().parents[3]
NANNYML_PYTHON = ROOT / ".venvs" / "nannyml" / "bin" / "python"
DRIVER = Path(__file__).with_name("nannyml_cbpe.py")
PAIRS = {  # NannyML's result field -> ours
    "value": "value",
    "sampling_error": "sampling_error",
    "realized": "realized",
    "upper_confidence_boundary": "upper_bound",
    "lower_confidence_boundary": "lower_bound",
    "upper_threshold": "upper_threshold",
    "lower_threshold": "lower_threshold",
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _frame(rng, rows, *, shift=0.0, base=-0.5, temper=1.0, decimals=None, start=None, label_share=1.0):
    """Rows of a logistic model on two features: true probability, a score (tempered: over- or
    under-confident), the predicted class at 0.5 and a label drawn from the true probability."""
    x1, x2 = rng.normal(shift, 1, rows), rng.normal(0, 1, rows)
    true_p = _sigmoid(base + 1.4 * x1 - 0.8 * x2)
    score = _sigmoid((base + 1.4 * x1 - 0.8 * x2) * temper)
    if decimals is not None:
        score = score.round(decimals)
    labels = (rng.random(rows) < true_p).astype(float)
    if label_share < 1.0:
        labels[rng.random(rows) >= label_share] = np.nan
    frame = {"y_pred_proba": score, "y_pred": (score >= 0.5).astype(int), "y_true": labels}
    if start is not None:
        frame["timestamp"] = pd.Timestamp(start) + pd.to_timedelta(
            np.sort(rng.uniform(0, 86400, rows)), unit="s"
        )
    return pd.DataFrame(frame)


def _cases() -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict]]:
    rng = np.random.default_rng(20261203)
    cases: dict[str, tuple[pd.DataFrame, pd.DataFrame, dict]] = {}

    def add(name, reference, analysis, **spec):
        cases[name] = (reference, analysis, {"metrics": list(METRICS), **spec})

    add("no_shift", _frame(rng, 5000), _frame(rng, 5000), chunk_size=500)
    add("covariate_shift", _frame(rng, 6000), _frame(rng, 6000, shift=0.9), chunk_size=1000)
    add(
        "miscalibrated",
        _frame(rng, 6000, temper=2.5),
        _frame(rng, 4200, temper=2.5, shift=0.4),
        chunk_size=700,
    )
    add("underconfident_ties", _frame(rng, 4000, temper=0.4, decimals=2), _frame(rng, 4000, temper=0.4, decimals=2),
        chunk_size=400)  # fmt: skip
    add("five_percent_positives", _frame(rng, 20000, base=-3.6), _frame(rng, 20000, base=-3.6, shift=0.3),
        chunk_size=2000)  # fmt: skip
    add(
        "mostly_positive",
        _frame(rng, 5000, base=1.6),
        _frame(rng, 5000, base=1.6, shift=-0.6),
        chunk_size=625,
    )
    add("default_ten_chunks", _frame(rng, 4321, temper=1.8), _frame(rng, 2345, temper=1.8, shift=0.3))
    add("tiny_chunk", _frame(rng, 3000), _frame(rng, 1003), chunk_size=250)  # the last chunk has 3 rows
    add(
        "labels_not_arrived", _frame(rng, 3000), _frame(rng, 3000, shift=0.5, label_share=0.3), chunk_size=300
    )
    add("hourly", _frame(rng, 4000, start="2026-11-01"), _frame(rng, 3000, start="2026-11-02", shift=0.6),
        chunk_period="h")  # fmt: skip
    return cases


def _ours(reference: pd.DataFrame, analysis: pd.DataFrame, spec: dict):
    def outputs(frame: pd.DataFrame) -> Outputs:
        times = frame["timestamp"].to_numpy("datetime64[us]") if "timestamp" in frame else None
        return Outputs.of(frame["y_pred_proba"], frame["y_true"], times, predicted=frame["y_pred"])

    period = timedelta(hours=1) if spec.get("chunk_period") == "h" else None
    estimator = fit(outputs(reference), Chunking(size=spec.get("chunk_size"), period=period), spec["metrics"])
    return estimator, estimator.reference() + estimator.estimate(outputs(analysis))


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Each case's (our estimator and chunks, NannyML's result); NannyML runs once over all cases."""
    assert NANNYML_PYTHON.exists(), "run tests/setup/nannyml.sh (bash tests/run does) first"
    folder = tmp_path_factory.mktemp("cbpe_cases")
    cases = _cases()
    for name, (reference, analysis, spec) in cases.items():
        reference.to_parquet(folder / f"{name}.reference.parquet")
        analysis.to_parquet(folder / f"{name}.analysis.parquet")
        (folder / f"{name}.json").write_text(json.dumps(spec))
    done = subprocess.run(
        [str(NANNYML_PYTHON), str(DRIVER), str(folder)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    return {name: (_ours(*cases[name]), theirs[name]) for name in cases}


def _same(ours: float, theirs) -> bool:
    if theirs is None or isinstance(theirs, str):  # NaN and ±inf travel as text
        return theirs is not None and repr(float(ours)) == theirs
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("case", sorted(_cases()))
def test_chunks_match_nannyml(compared, case):
    (estimator, chunks), theirs = compared[case]
    assert estimator.calibrated == theirs["calibrated"]
    assert [(c.period, c.chunk.start, c.chunk.stop - 1) for c in chunks] == [
        (t["period"], t["start_index"], t["end_index"]) for t in theirs["chunks"]
    ]
    for ours, expected in zip(chunks, theirs["chunks"], strict=True):
        for metric, fields in expected["metrics"].items():
            mine = ours.metrics[metric]
            where = f"{case} {ours.period} {ours.chunk.key} {metric}"
            for field, name in PAIRS.items():
                assert _same(getattr(mine, name), fields[field]), (
                    where,
                    field,
                    getattr(mine, name),
                    fields[field],
                )
            assert mine.alert == fields["alert"], (where, mine, fields)


def test_cases_cover_calibration_alerts_and_missing_values(compared):
    """The cases exercise both calibration decisions, both alert flags, and NaN realized values."""
    calibrated = {estimator.calibrated for (estimator, _), _ in compared.values()}
    alerts = {m.alert for (_, chunks), _ in compared.values() for c in chunks for m in c.metrics.values()}
    nan_realized = any(
        math.isnan(m.realized)
        for (_, chunks), _ in compared.values()
        for c in chunks
        for m in c.metrics.values()
    )
    tiny = [c.chunk.rows for c in compared["tiny_chunk"][0][1]]
    assert calibrated == {True, False}
    assert alerts == {True, False}
    assert nan_realized
    assert min(tiny) == 3
