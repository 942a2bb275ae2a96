"""The shadow report on a real store: agreement, score differences, output drift, performance,
requests only one version scored, the window's edges, and the series it writes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.stats import mannwhitneyu

from console.canary.model import ShadowOptions
from console.canary.shadow import (
    NO_LABELS,
    NOT_BINARY,
    record_report,
    report_samples,
    shadow_report,
)
from console.drift.catalogue import NUM, DriftError
from console.drift.stats import column_drift, dataset_drift
from console.store import Store, canonical_labels

NOW = datetime(2026, 11, 26, 12, 0, 0)
INSIDE = NOW - timedelta(minutes=30)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        yield opened


def put(store, table, version, scores, *, ids=None, ts=INSIDE, model="fraud"):
    """Records of one version: the served table `predictions` or `shadow_predictions`."""
    ids = ids if ids is not None else [f"r{i}" for i in range(len(scores))]
    stamps = ts if isinstance(ts, list) else [ts] * len(ids)
    frame = pa.table(
        {
            "model": [model] * len(ids),
            "id": ids,
            "version": [version] * len(ids),
            "ts": pa.array(stamps, pa.timestamp("us")),
            "features": ["{}"] * len(ids),
            "prediction": pa.array(scores, pa.float64()),
            "origin": ["test"] * len(ids),
        }
    )
    with store.transaction() as cur:
        cur.register("incoming", frame)
        cur.execute(
            f"INSERT INTO {table} (model, id, version, ts, features, prediction, origin) "
            "SELECT model, id, version, ts, features, prediction, origin FROM incoming"
        )
        cur.unregister("incoming")


def put_labels(store, labels, *, ts=INSIDE, model="fraud"):
    with store.transaction() as cur:
        for request, label in labels.items():
            cur.execute("INSERT INTO prediction_labels VALUES (?, ?, ?, ?)", [model, request, label, ts])


def pair(store, champion, shadow, **kwargs):
    put(store, "predictions", "3", champion, **kwargs)
    put(store, "shadow_predictions", "4", shadow, **kwargs)


CHAMPION = [0.1, 0.4, 0.6, 0.9, 0.5, 0.49, 0.2, 0.7]
SHADOW = [0.2, 0.6, 0.55, 0.3, 0.5, 0.51, 0.1, 0.8]


def test_agreement_of_the_decided_class_on_constructed_records(store):
    pair(store, CHAMPION, SHADOW)
    report = shadow_report(store, "fraud", "3", "4", NOW)
    a = report.agreement
    # at 0.5: champion F F T T T F F T, shadow F T T F T T F T
    assert (a.pairs, a.agreed, a.rate) == (8, 5, 0.625)
    assert (a.both_positive, a.both_negative, a.champion_only_positive, a.shadow_only_positive) == (
        3,
        2,
        1,
        2,
    )
    stricter = shadow_report(store, "fraud", "3", "4", NOW, ShadowOptions(threshold=0.55))
    assert (stricter.agreement.agreed, stricter.agreement.rate) == (6, 0.75)


def test_score_differences_are_numpys(store):
    rng = np.random.default_rng(7)
    champion = rng.uniform(size=500)
    shadow = np.clip(champion + rng.normal(0.02, 0.1, 500), 0, 1)
    pair(store, list(champion), list(shadow), ids=[f"q{i:03d}" for i in range(500)])
    d = shadow_report(store, "fraud", "3", "4", NOW).diffs
    diffs = shadow - champion
    expected = np.quantile(diffs, [0.01, 0.05, 0.5, 0.95, 0.99])
    assert [d.p1, d.p5, d.p50, d.p95, d.p99] == list(expected)
    assert d.count == 500 and d.max_abs == np.max(np.abs(diffs))
    assert d.mean == pytest.approx(np.mean(diffs), rel=1e-12)
    assert d.std == pytest.approx(np.std(diffs), rel=1e-12)


@pytest.mark.parametrize(
    ("size", "method", "expected_test"),
    [(300, None, "ks"), (1500, None, "wasserstein"), (300, "psi", "psi"), (20, None, "ks")],
)
def test_output_drift_is_the_drift_codes_answer(store, size, method, expected_test):
    rng = np.random.default_rng(size)
    champion = rng.beta(2, 5, size)
    shadow = np.clip(champion + rng.normal(0.08, 0.05, size), 0, 1)
    pair(store, list(champion), list(shadow), ids=[f"q{i:05d}" for i in range(size)])
    drift = shadow_report(store, "fraud", "3", "4", NOW, ShadowOptions(drift_method=method)).drift
    direct = column_drift("prediction", champion, shadow, NUM, method)
    frames = dataset_drift(
        pd.DataFrame({"prediction": champion}),
        pd.DataFrame({"prediction": shadow}),
        methods={"prediction": method} if method else None,
    )
    assert frames.columns[0] == direct
    # the same answer; the report's pairs come in another order, which moves a sum's last bit at most
    assert drift.score == pytest.approx(direct.score, rel=1e-13, abs=0)
    assert replace(drift, score=direct.score) == direct
    assert drift.method == expected_test and drift.reference_rows == size == drift.current_rows


def test_an_unknown_drift_test_and_one_version_twice_are_refused(store):
    pair(store, CHAMPION, SHADOW)
    with pytest.raises(DriftError, match="unknown drift test 'nope'"):
        shadow_report(store, "fraud", "3", "4", NOW, ShadowOptions(drift_method="nope"))
    with pytest.raises(ValueError, match="same version"):
        shadow_report(store, "fraud", "3", "3", NOW)


def hand_counts(scores, labels, threshold):
    tp = sum(1 for s, y in zip(scores, labels) if s >= threshold and y == 1)
    fp = sum(1 for s, y in zip(scores, labels) if s >= threshold and y == 0)
    tn = sum(1 for s, y in zip(scores, labels) if s < threshold and y == 0)
    fn = sum(1 for s, y in zip(scores, labels) if s < threshold and y == 1)
    return tp, fp, tn, fn


def test_performance_equals_hand_counts_and_scipys_rank_statistic(store):
    rng = np.random.default_rng(11)
    n = 400
    labels = (rng.uniform(size=n) < 0.3).astype(float)
    champion = np.round(np.clip(labels * 0.3 + rng.uniform(size=n) * 0.7, 0, 1), 2)  # rounded: ties
    shadow = np.round(np.clip(labels * 0.1 + rng.uniform(size=n) * 0.9, 0, 1), 2)
    ids = [f"q{i:03d}" for i in range(n)]
    pair(store, list(champion), list(shadow), ids=ids)
    labelled_ids = ids[: n - 50]  # the last 50 have no label yet
    put_labels(store, {i: float(y) for i, y in zip(labelled_ids, labels)})
    report = shadow_report(store, "fraud", "3", "4", NOW)
    performance = report.performance
    assert (performance.status, performance.labelled, performance.unlabelled) == ("ok", n - 50, 50)
    y = labels[: n - 50]
    for result, scores in (
        (performance.champion, champion[: n - 50]),
        (performance.shadow, shadow[: n - 50]),
    ):
        tp, fp, tn, fn = hand_counts(scores, y, 0.5)
        assert (
            result.true_positives,
            result.false_positives,
            result.true_negatives,
            result.false_negatives,
        ) == (
            tp,
            fp,
            tn,
            fn,
        )
        assert result.n == n - 50 and result.positives == int(y.sum())
        assert result.accuracy == (tp + tn) / (n - 50)
        assert result.precision == tp / (tp + fp) and result.recall == tp / (tp + fn)
        assert result.f1 == pytest.approx(
            2 * result.precision * result.recall / (result.precision + result.recall)
        )
        positives, negatives = scores[y == 1], scores[y == 0]
        u = mannwhitneyu(positives, negatives, alternative="two-sided").statistic
        assert abs(result.roc_auc - u / (len(positives) * len(negatives))) <= 1e-12
    assert performance.champion.version == "3" and performance.shadow.version == "4"


def test_undefined_figures_are_none_not_zero(store):
    pair(store, [0.1, 0.2, 0.3], [0.6, 0.7, 0.8])
    put_labels(store, {"r0": 0.0, "r1": 0.0, "r2": 0.0})  # one class only
    performance = shadow_report(store, "fraud", "3", "4", NOW).performance
    champion, shadow = performance.champion, performance.shadow
    assert champion.precision is None and champion.recall is None and champion.f1 is None  # nothing positive
    assert champion.accuracy == 1.0 and champion.roc_auc is None
    assert shadow.precision == 0.0 and shadow.recall is None and shadow.f1 == 0.0 and shadow.accuracy == 0.0


def test_unlabelled_is_no_labels_yet_and_writes_no_performance_series(store):
    pair(store, CHAMPION, SHADOW)
    put_labels(store, {"r0": 1.0}, ts=NOW + timedelta(minutes=5))  # arrives after the report's time
    report = shadow_report(store, "fraud", "3", "4", NOW)
    performance = report.performance
    assert performance.status == NO_LABELS == "no labels yet"
    assert performance.champion is None and performance.shadow is None
    assert (performance.labelled, performance.unlabelled) == (0, 8)
    assert report.as_dict()["performance"]["champion"] is None
    names = set(report_samples(report).column("name").to_pylist())
    assert "oncall_shadow_agreement" in names
    assert not names & {"oncall_shadow_accuracy", "oncall_shadow_roc_auc", "oncall_shadow_f1"}
    later = shadow_report(store, "fraud", "3", "4", NOW + timedelta(minutes=10))
    assert later.performance.status == "ok" and later.performance.labelled == 1


def test_labels_that_are_not_zero_or_one_are_said(store):
    pair(store, CHAMPION, SHADOW)
    put_labels(store, {"r0": 1.0, "r1": 0.7, "r2": 2.0})
    performance = shadow_report(store, "fraud", "3", "4", NOW).performance
    assert performance.status == NOT_BINARY and performance.champion is None
    assert performance.detail == "labels seen besides 0 and 1: 0.7, 2"


def test_requests_only_one_version_scored_are_counted_and_named(store):
    put(store, "predictions", "3", [0.1, 0.2, 0.9, 0.8], ids=["a", "b", "c", "d"])
    put(store, "shadow_predictions", "4", [0.2, 0.3, 0.4], ids=["c", "d", "e"])
    put(store, "predictions", "3", [None], ids=["f"])  # paired, but its champion has no score
    put(store, "shadow_predictions", "4", [0.5], ids=["f"])
    report = shadow_report(store, "fraud", "3", "4", NOW)
    c = report.coverage
    assert (c.champion_records, c.shadow_records, c.paired, c.unscored_pairs) == (5, 4, 3, 1)
    assert (c.champion_only, c.champion_only_ids, c.shadow_only, c.shadow_only_ids) == (
        2,
        ["a", "b"],
        1,
        ["e"],
    )
    assert report.agreement.pairs == 2 and report.agreement.agreed == 0  # c, d: 0.9/0.2, 0.8/0.3
    samples = {
        (name, json.loads(labels).get("side")): value
        for name, labels, value in zip(
            *(report_samples(report).column(k).to_pylist() for k in ("name", "labels", "value"))
        )
    }
    assert samples[("oncall_shadow_unpaired", "champion")] == 2.0
    assert samples[("oncall_shadow_unpaired", "shadow")] == 1.0
    assert samples[("oncall_shadow_pairs", None)] == 2.0


def test_a_request_belongs_to_the_window_of_its_first_record(store):
    start = NOW - timedelta(hours=1)
    # r0: champion just before the window, shadow just inside: an earlier window's request
    put(store, "predictions", "3", [0.1], ids=["r0"], ts=start - timedelta(seconds=1))
    put(store, "shadow_predictions", "4", [0.2], ids=["r0"], ts=start + timedelta(seconds=1))
    # r1: inside; its shadow record comes after NOW, so at NOW only the champion has scored it
    put(store, "predictions", "3", [0.3], ids=["r1"], ts=NOW)
    put(store, "shadow_predictions", "4", [0.4], ids=["r1"], ts=NOW + timedelta(seconds=1))
    report = shadow_report(store, "fraud", "3", "4", NOW)
    c = report.coverage
    assert (c.paired, c.champion_only_ids, c.shadow_only) == (0, ["r1"], 0)
    assert report.start == start and report.drift.status == "no data"
    assert report.agreement.rate is None and report.diffs.mean is None
    later = shadow_report(store, "fraud", "3", "4", NOW + timedelta(seconds=1))
    assert later.coverage.paired == 1 and later.diffs.mean == pytest.approx(0.1)


def test_either_table_holds_either_version_and_the_served_record_wins(store):
    put(store, "shadow_predictions", "5", [0.9, 0.8], ids=["r0", "r1"])
    put(store, "shadow_predictions", "4", [0.1, 0.2], ids=["r0", "r1"])
    put(store, "predictions", "4", [0.3], ids=["r0"])  # r0's version 4 record in both tables
    report = shadow_report(store, "fraud", "4", "5", NOW)
    assert report.coverage.paired == 2
    assert report.diffs.p50 == pytest.approx(0.6) and report.diffs.max_abs == pytest.approx(0.6)


def test_the_series_match_the_report_and_recording_twice_adds_nothing(store):
    pair(store, CHAMPION, SHADOW)
    put_labels(store, {f"r{i}": float(i % 2) for i in range(8)})
    report = shadow_report(store, "fraud", "3", "4", NOW)
    added = record_report(store, report)
    assert added == report_samples(report).num_rows > 0
    assert record_report(store, shadow_report(store, "fraud", "3", "4", NOW)) == 0
    _, rows = store.query(
        "SELECT s.name, s.labels, p.ts, p.value FROM samples p JOIN series s ON s.id = p.series_id"
    )
    assert len(rows) == added
    stored = {(name, labels): value for name, labels, _, value in rows}
    assert {ts for _, _, ts, _ in rows} == {NOW}
    base = {"champion": "3", "model": "fraud", "shadow": "4"}

    def key(name, **extra):
        return (name, canonical_labels({**base, **extra}))

    assert stored[key("oncall_shadow_agreement")] == 0.625
    assert stored[key("oncall_shadow_score_diff_mean")] == report.diffs.mean
    assert stored[key("oncall_shadow_score_diff", quantile="0.99")] == report.diffs.p99
    assert stored[key("oncall_shadow_score_diff", quantile="0.01")] == report.diffs.p1
    assert stored[key("oncall_shadow_output_drift", test="ks")] == report.drift.score
    assert stored[key("oncall_shadow_output_drift_detected")] == 0.0
    shadow_auc = key("oncall_shadow_roc_auc", side="shadow", version="4")[1]
    assert stored[("oncall_shadow_roc_auc", shadow_auc)] == report.performance.shadow.roc_auc
    assert (
        stored[key("oncall_shadow_accuracy", side="champion", version="3")]
        == report.performance.champion.accuracy
    )


def test_another_model_and_other_versions_are_not_read(store):
    pair(store, CHAMPION, SHADOW)
    put(store, "predictions", "3", [0.9] * 8, model="other")
    put(store, "shadow_predictions", "6", [0.9] * 8)
    report = shadow_report(store, "fraud", "3", "4", NOW)
    assert report.coverage.paired == 8 and report.coverage.champion_only == 0 == report.coverage.shadow_only
    assert report.agreement.rate == 0.625


def test_a_canary_spec_with_shadow_gets_the_report_and_its_series(store, tmp_path):
    from console.canary.model import load_canary_file
    from console.canary.shadow import spec_shadow

    text = (
        "canaries:\n"
        "  - {name: fraud-v4, model: fraud, baseline: champion, canary: challenger,\n"
        "     shadow: {threshold: 0.55, window: 2h, drift_method: psi}}\n"
        "  - {name: judged-only, model: fraud, baseline: '3', canary: '4',\n"
        "     metrics: [{name: p99, query: 'up'}]}\n"
    )
    with_shadow, without = load_canary_file(tmp_path / "c.yaml", text)
    pair(store, CHAMPION, SHADOW)
    report = spec_shadow(store, with_shadow, "3", "4", NOW)
    assert report == shadow_report(
        store, "fraud", "3", "4", NOW, ShadowOptions(threshold=0.55, window="2h", drift_method="psi")
    )
    assert report.agreement.rate == 0.75 and report.drift.method == "psi"
    assert report.start == NOW - timedelta(hours=2)
    assert store.count("samples") == report_samples(report).num_rows
    assert spec_shadow(store, without, "3", "4", NOW) is None
