"""CBPE (console/drift/estimation.py): chunking, calibration, chunks with one class or no labels,
reference problems, the `estimation` source's series and `oncall estimate`."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from collectors.demo_predictions import ingest_predictions, simulate_predictions
from console.drift.calibration import fit_isotonic
from console.drift.estimation import Chunking, EstimationError, Outputs, fit
from console.store import Store

EPOCH = datetime(1970, 1, 1)
STEP_S = 15
NOW = datetime(2026, 11, 20, 12, 0)


def _outputs(
    rng: np.random.Generator, rows: int, *, shift: float = 0.0, start: datetime | None = None
) -> Outputs:
    logit = -0.5 + 1.4 * rng.normal(shift, 1, rows)
    scores = 1 / (1 + np.exp(-2 * logit))  # overconfident: CBPE calibrates
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    times = None
    if start is not None:
        offsets = np.sort(rng.uniform(0, 6 * 3600, rows)) * 1e6
        times = np.datetime64(start, "us") + offsets.astype("timedelta64[us]")
    return Outputs.of(scores, labels, times)


def test_size_chunks_keep_the_short_last_chunk() -> None:
    rng = np.random.default_rng(1)
    estimator = fit(_outputs(rng, 1000), Chunking(size=300))
    chunks = estimator.estimate(_outputs(rng, 1000))
    assert [c.chunk.rows for c in chunks] == [300, 300, 300, 100]
    assert [c.chunk.key for c in chunks] == ["[0:299]", "[300:599]", "[600:899]", "[900:999]"]


def test_default_chunking_is_ten_chunks_and_needs_ten_rows() -> None:
    rng = np.random.default_rng(2)
    estimator = fit(_outputs(rng, 2000))
    assert len(estimator.estimate(_outputs(rng, 1234))) == 11  # ten of 123 rows and one of 4
    with pytest.raises(EstimationError, match="too few for 10 chunks"):
        estimator.estimate(_outputs(rng, 9))


def test_period_chunks_skip_empty_periods_and_follow_time_order() -> None:
    rng = np.random.default_rng(3)
    reference = _outputs(rng, 3000, start=datetime(2026, 11, 1))
    estimator = fit(reference, Chunking(period=timedelta(hours=1)))
    analysis = _outputs(rng, 900, start=datetime(2026, 11, 2))
    keep = (analysis.times < np.datetime64("2026-11-02T02:00")) | (
        analysis.times >= np.datetime64("2026-11-02T04:00")
    )
    shuffled = analysis.take(rng.permutation(np.flatnonzero(keep)))
    chunks = estimator.estimate(shuffled)
    assert [c.chunk.start_time.hour for c in chunks] == [0, 1, 4, 5]
    assert sum(c.chunk.rows for c in chunks) == int(keep.sum())
    assert chunks[0].chunk.end_time == datetime(2026, 11, 2, 0, 59, 59, 999999)


def test_chunk_period_needs_times() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(EstimationError, match="needs the rows' times"):
        fit(_outputs(rng, 500), Chunking(period=timedelta(hours=1)))


def test_a_chunk_with_one_class_has_estimates_but_no_realized_auc_or_f1() -> None:
    rng = np.random.default_rng(5)
    estimator = fit(_outputs(rng, 3000), Chunking(size=200))
    analysis = _outputs(rng, 200)
    one_class = Outputs(analysis.scores, analysis.predicted, np.zeros(200), None)
    [chunk] = estimator.estimate(one_class)
    for metric in ("roc_auc", "f1", "precision", "recall"):
        assert math.isnan(chunk.metrics[metric].realized), metric
        assert 0 < chunk.metrics[metric].value < 1, metric
    assert chunk.metrics["accuracy"].realized == float(np.mean(analysis.predicted == 0))


def test_no_labels_yet_gives_estimates_and_no_realized_values() -> None:
    rng = np.random.default_rng(6)
    estimator = fit(_outputs(rng, 3000), Chunking(size=500))
    analysis = _outputs(rng, 1000, shift=0.8)
    unlabelled = Outputs(analysis.scores, analysis.predicted, np.full(1000, np.nan), None)
    chunks = estimator.estimate(unlabelled)
    assert all(math.isnan(m.realized) for c in chunks for m in c.metrics.values())
    assert all(not math.isnan(m.value) for c in chunks for m in c.metrics.values())
    # the shifted inputs move estimated accuracy outside the reference's band: alerts without labels
    assert any(m.alert for c in chunks for m in c.metrics.values())


def test_estimates_follow_realized_accuracy_when_there_is_no_concept_shift() -> None:
    rng = np.random.default_rng(7)
    estimator = fit(_outputs(rng, 20000), Chunking(size=5000))
    assert estimator.calibrated  # the scores are overconfident
    for chunk in estimator.estimate(_outputs(rng, 20000, shift=0.7)):
        accuracy = chunk.metrics["accuracy"]
        assert accuracy.lower_bound <= accuracy.realized <= accuracy.upper_bound


def test_reference_needs_every_label_and_binary_labels() -> None:
    rng = np.random.default_rng(8)
    reference = _outputs(rng, 500)
    labels = reference.labels.copy()
    labels[:7] = np.nan
    with pytest.raises(EstimationError, match="7 of 500 reference rows have no label"):
        fit(Outputs(reference.scores, reference.predicted, labels))
    with pytest.raises(EstimationError, match="labels must be 0 or 1"):
        fit(Outputs(reference.scores, reference.predicted, np.where(reference.labels == 1, 2.0, 0.0)))
    estimator = fit(reference)
    with pytest.raises(EstimationError, match=r"labels must be 0 or 1 for binary classification; found 3\.0"):
        estimator.estimate(Outputs(reference.scores, reference.predicted, np.full(500, 3.0)))
    one_positive = np.zeros(500)
    one_positive[3] = 1
    with pytest.raises(EstimationError, match="fewer than 2 rows"):
        fit(Outputs(reference.scores, reference.predicted, one_positive))


def test_isotonic_fit_is_pool_adjacent_violators_clipped_outside_the_reference() -> None:
    calibrator = fit_isotonic(np.arange(10.0), np.array([5, 3, 1, 2, 8, 10, 7, 9, 6, 4], dtype=float))
    # scikit-learn's docstring example: [2.75]*4 + [7.33…]*6
    assert np.allclose(calibrator(np.arange(10.0)), [2.75] * 4 + [22 / 3] * 6)
    assert calibrator(np.array([-5.0, 50.0])).tolist() == [2.75, 22 / 3]
    assert calibrator(np.array([3.5]))[0] == pytest.approx((2.75 + 22 / 3) / 2)


def test_isotonic_regression_is_scipys_to_the_bit_without_importing_scipy_optimize() -> None:
    import subprocess
    import sys

    # in a fresh process: the fit loads scipy's PAVA routine alone, then gives isotonic_regression's numbers
    script = (
        "import sys, numpy as np\n"
        "from console.drift.calibration import _isotonic_regression\n"
        "rng = np.random.default_rng(3)\n"
        "cases = [(rng.integers(0, 2, n) / rng.integers(1, 4, n), rng.integers(1, 5, n).astype(float))\n"
        "         for n in (1, 2, 7, 1000, 100_000)]\n"
        "ours = [_isotonic_regression(y.copy(), w.copy()) for y, w in cases]\n"
        "assert 'scipy.optimize' not in sys.modules, 'scipy.optimize was imported'\n"
        "from scipy.optimize import isotonic_regression\n"
        "for (y, w), got in zip(cases, ours):\n"
        "    want = isotonic_regression(y, weights=w).x\n"
        "    assert got.tobytes() == want.tobytes(), (y.size, got[:5], want[:5])\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# --- the store, the `estimation` source and the CLI ------------------------------------------------


def _fill(store: Store, start: datetime, end: datetime, degraded_from: datetime) -> None:
    first = int((start - EPOCH).total_seconds() // STEP_S)
    steps = int((end - EPOCH).total_seconds() // STEP_S) - first
    degraded = [EPOCH + timedelta(seconds=(first + i) * STEP_S) >= degraded_from for i in range(steps)]
    ingest_predictions(store, simulate_predictions(first, steps, STEP_S, 7, ["3"] * steps, degraded))


WORKSPACE = """\
store: oncall.duckdb
sources:
  - name: estimate
    kind: estimation
    interval: 1m
    models:
      - model: fraud-detector
        reference: {span: 1d, ago: 1d}
        analysis: 12h
        chunk_period: 1h
        threshold: 0.1
"""


@pytest.fixture
def with_estimation_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `estimation` kind as pyproject.toml declares it, for a checkout not reinstalled since."""
    import console.config.plugins as plugins

    declared = Path(__file__).resolve().parents[2].joinpath("pyproject.toml").read_text()
    assert 'estimation = "console.drift.estimation_step:EstimationCollector"' in declared
    installed = plugins.entry_points

    def with_kind(**kwargs):
        found = list(installed(**kwargs))
        if kwargs.get("group") == plugins.ENTRY_POINT_GROUP and all(ep.name != "estimation" for ep in found):
            found.append(
                EntryPoint(
                    "estimation",
                    "console.drift.estimation_step:EstimationCollector",
                    plugins.ENTRY_POINT_GROUP,
                )
            )
        return found

    monkeypatch.setattr(plugins, "entry_points", with_kind)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text(WORKSPACE)
    with Store.open(tmp_path / "oncall.duckdb") as store:
        _fill(store, NOW - timedelta(days=2), NOW, degraded_from=NOW - timedelta(hours=6))
    return tmp_path


def test_only_labels_that_have_arrived_count(root: Path, with_estimation_kind: None) -> None:
    from console.config.workspace import load_workspace
    from console.drift.estimation_window import evaluate_spec, find_spec

    spec = find_spec(load_workspace(root / "oncall.yaml"), "fraud-detector")
    assert spec is not None
    with Store.open(root / "oncall.duckdb") as store:
        result = evaluate_spec(store, spec, NOW, root)
        later = evaluate_spec(store, spec, NOW + timedelta(hours=8), root)
    assert 0 < result.labelled_rows < result.analysis_rows  # labels arrive 2 to 6 hours late
    assert math.isnan(result.chunks[-1].metrics["accuracy"].realized)
    assert not math.isnan(result.chunks[0].metrics["accuracy"].realized)
    assert later.labelled_rows == later.analysis_rows  # 8 hours on, every label has arrived


def test_estimation_source_writes_series_a_rule_can_page_on(root: Path, with_estimation_kind: None) -> None:
    from console.drift.estimation_step import EstimationCollector, EstimationOptions

    options = EstimationOptions.model_validate(
        {
            "models": [
                {
                    "model": "fraud-detector",
                    "reference": {"span": "1d", "ago": "1d"},
                    "chunk_period": "1h",
                    "threshold": 0.1,
                }
            ]
        }
    )
    collector = EstimationCollector("estimate", options, base_dir=str(root))
    with Store.open(root / "oncall.duckdb") as store:
        first = collector.collect(store, NOW)
        again = collector.collect(store, NOW + timedelta(seconds=30))
        _, rows = store.query(
            "SELECT s.name, s.labels, x.value FROM samples x JOIN series s ON s.id = x.series_id ORDER BY s.name, s.labels"
        )
    assert first.rows > 0 and again.detail == {"skipped": True}
    names = {name for name, _, _ in rows}
    for metric in ("roc_auc", "f1", "precision", "recall", "accuracy"):
        assert {
            f"oncall_estimated_{metric}",
            f"oncall_estimated_{metric}_lower",
            f"oncall_estimated_{metric}_upper",
        } <= names
    alerts = {
        json.loads(labels)["metric"]: value
        for name, labels, value in rows
        if name == "oncall_estimated_alert"
    }
    assert set(alerts) == {"roc_auc", "f1", "precision", "recall", "accuracy"}
    assert set(alerts.values()) <= {0.0, 1.0}
    values = {name: value for name, _, value in rows}
    assert (
        values["oncall_estimated_accuracy_lower"]
        <= values["oncall_estimated_accuracy"]
        <= values["oncall_estimated_accuracy_upper"]
    )
    assert all(json.loads(labels)["model"] == "fraud-detector" for _, labels, _ in rows)

    from console.drift.estimation_window import latest_estimates
    from console.tui.views.drift import _estimates_text

    with Store.open(root / "oncall.duckdb") as store:
        shown = latest_estimates(store, "fraud-detector", NOW - timedelta(hours=1))
        stale = latest_estimates(store, "fraud-detector", NOW + timedelta(hours=1))
    assert shown["accuracy"]["value"] == values["oncall_estimated_accuracy"]
    assert shown["accuracy"]["alert"] == alerts["accuracy"] and stale == {}
    assert f"est. accuracy {values['oncall_estimated_accuracy']:.3f}" in _estimates_text(shown).plain


def test_config_rejects_size_and_period_together(root: Path, with_estimation_kind: None) -> None:
    from console.config.workspace import WorkspaceError, load_workspace

    (root / "oncall.yaml").write_text(
        WORKSPACE.replace("chunk_period: 1h", "chunk_period: 1h\n        chunk_size: 100")
    )
    with pytest.raises(WorkspaceError, match="give chunk_size or chunk_period, not both"):
        load_workspace(root / "oncall.yaml")


def test_cli_estimate_json_and_exit_code(
    root: Path, with_estimation_kind: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli.main import main

    code = main(
        ["-w", str(root), "estimate", "fraud-detector", "--at", "2026-11-20T12:00:00Z", "--format", "json"]
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["calibrated"] in (True, False)
    assert len(payload["chunks"]) == 12 and payload["chunks"][0]["period"] == "analysis"
    alerting = any(m["alert"] for c in payload["chunks"] for m in c["metrics"].values())
    assert code == (1 if alerting else 0)
    assert (
        payload["chunks"][-1]["metrics"]["accuracy"]["realized"] is None
    )  # labels not arrived: null, not NaN


def test_cli_estimate_without_a_configured_model_needs_a_reference(
    root: Path, with_estimation_kind: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["-w", str(root), "estimate", "other-model"])
    assert exited.value.code == 2
    assert "give --reference START..END" in capsys.readouterr().err
    code = main(
        ["-w", str(root), "estimate", "fraud-detector", "--at", "2026-11-20T12:00:00Z",
         "--reference", "2026-11-18T12:00:00Z..2026-11-19T12:00:00Z", "--chunk-size", "5000", "--metrics", "accuracy"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "5000 rows a chunk" in out and "ACCURACY" in out and "ROC_AUC" not in out


def test_cli_estimate_with_a_reference_file(
    root: Path, with_estimation_kind: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli.main import main

    rng = np.random.default_rng(9)
    reference = _outputs(rng, 4000)
    lines = ["prediction,label"] + [
        f"{float(s)!r},{int(y)}" for s, y in zip(reference.scores, reference.labels, strict=True)
    ]
    (root / "reference.csv").write_text("\n".join(lines) + "\n")
    code = main(
        ["-w", str(root), "estimate", "fraud-detector", "--at", "2026-11-20T12:00:00Z",
         "--reference", "reference.csv", "--chunk-size", "2000", "--format", "json"]
    )  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert payload["reference"] == "file reference.csv" and payload["reference_rows"] == 4000
    assert payload["chunking"] == "2000 rows a chunk" and code in (0, 1)
    (root / "bad.csv").write_text("prediction,outcome\n0.2,1\n")
    with pytest.raises(SystemExit) as exited:
        main(["-w", str(root), "estimate", "fraud-detector", "--reference", "bad.csv"])
    assert exited.value.code == 2
    assert "bad.csv: no label column; a CBPE reference needs both" in capsys.readouterr().err
    (root / "words.csv").write_text("prediction,label\n0.2,1\nhigh,0\n")
    with pytest.raises(SystemExit):
        main(["-w", str(root), "estimate", "fraud-detector", "--reference", "words.csv"])
    assert "words.csv: 1 prediction values are not numbers (first: 'high')" in capsys.readouterr().err
