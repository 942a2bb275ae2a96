"""What changed: the burn around an incident, its onset, changes and data drift ranked as suspects."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from console.drift.stats import DRIFT_DETECTED, DRIFT_SCORE
from console.incidents import lifecycle as incidents
from console.incidents.suspects import BurnSeries, Change, burn_onset, rank_suspects, what_changed
from console.registry.history import record_alias_move
from console.slo.model import load_slo_file
from console.store import Store, canonical_labels, ingest_samples

T0 = datetime(2026, 11, 20, 12, 0, 0)  # the incident is declared here
ONSET = T0 - timedelta(minutes=20)  # errors start here

SLO_YAML = """
slos:
  - name: scoring-availability
    service: scoring
    objective: 99
    window: 30d
    sli:
      ratio:
        bad: requests_total{service="scoring",code="500"}
        total: requests_total{service="scoring"}
    labels: {model: m1}
"""


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as opened:
        rows, ok, bad = [], 0.0, 0.0
        t = T0 - timedelta(hours=8)
        while t <= T0 + timedelta(minutes=30):
            ok += 1000
            bad += 200 if ONSET <= t < T0 + timedelta(minutes=10) else 1
            rows.append(("requests_total", canonical_labels({"service": "scoring", "code": "200"}), t, ok))
            rows.append(("requests_total", canonical_labels({"service": "scoring", "code": "500"}), t, bad))
            t += timedelta(minutes=1)
        ingest_samples(opened, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
        with opened.transaction() as cur:
            for at, model, version, actor in (
                (ONSET - timedelta(hours=30), "m1", "6", "ci"),  # long ago
                (ONSET - timedelta(minutes=8), "m2", "4", "bob"),  # close, other model
                (ONSET - timedelta(minutes=12), "m1", "7", "ci"),  # close, same model
                (T0 + timedelta(minutes=9), "m1", "6", "alice"),
            ):  # the rollback, after
                record_alias_move(
                    cur,
                    ts=at,
                    model=model,
                    alias="champion",
                    from_version=None,
                    to_version=version,
                    actor=actor,
                    source="test",
                )
        yield opened


@pytest.fixture
def slos(tmp_path: Path):
    path = tmp_path / "slo.yaml"
    path.write_text(SLO_YAML)
    return load_slo_file(path)


def declare(store) -> incidents.Incident:
    return incidents.declare(
        store,
        "scoring errors",
        now=T0,
        actor="t",
        severity="SEV2",
        detail={"alert": {"labels": {"slo": "scoring-availability"}}},
    )


def test_burn_series_shows_the_onset_and_the_recovery(store, slos) -> None:
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    burn = found.burning
    assert burn is not None and burn.slo == "scoring-availability"
    assert found.start == T0 - timedelta(hours=3) and found.end == T0 + timedelta(minutes=30)
    assert burn.at(T0 - timedelta(hours=1)) < 1  # quiet before
    assert burn.at(T0) > 14  # ~20% errors / 1% budget
    assert burn.at(T0 + timedelta(minutes=30)) < 1  # healed after the rollback
    # the 5m window sees the errors within one 5m step of their start
    assert ONSET <= found.onset <= ONSET + timedelta(minutes=5)


def test_suspects_ranked_by_closeness_and_model_match(store, slos) -> None:
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    # all four changes are on the chart; the rollback after the incident is no suspect
    assert [c.actor for c in found.changes] == ["ci", "ci", "bob", "alice"]
    ranked = [(s.change.model, s.change.version) for s in found.suspects]
    assert ranked == [("m1", "7"), ("m2", "4"), ("m1", "6")]
    best = found.suspects[0]
    assert "before the burn began" in best.explanation
    assert "changes m1, the model scoring-availability measures (match 1.0)" in best.explanation
    assert "changes m2, not m1 (match 0.0)" in found.suspects[1].explanation
    assert best.score > found.suspects[1].score > found.suspects[2].score


def test_a_change_after_the_onset_cannot_have_started_it() -> None:
    times = [T0 + timedelta(minutes=5 * i) for i in range(6)]
    series = BurnSeries("s", {"model": "m1"}, times, [0.2, 0.5, 3.0, 20.0, 25.0, 30.0])
    onset = burn_onset(series, times[-1])
    assert onset == times[2]
    late = Change(times[4], "deploy", "m1", "9", "ci", "test")
    early = Change(times[1], "deploy", "m1", "8", "ci", "test")
    ranked = rank_suspects([late, early], onset, series)
    assert [s.change.version for s in ranked] == ["8"]  # the late one is not a candidate
    scored = rank_suspects([late], onset - timedelta(minutes=20), series)
    assert scored == []


def test_no_slos_still_lists_changes(store) -> None:
    found = what_changed(store, [], declare(store), T0)
    assert found.burning is None and found.onset is None
    # no SLO to match against: the closest change before the incident leads
    assert [s.change.version for s in found.suspects] == ["4", "7", "6"]
    assert "match 0.5" in found.suspects[0].explanation
    assert "28m before the incident was declared" in found.suspects[0].explanation


def record_drift(store, model: str, column: str, test: str, verdicts: list[tuple[datetime, float]]) -> None:
    """Drift series as the drift collector writes them: a score and a 0/1 verdict per evaluation."""
    rows = []
    for ts, score in verdicts:
        drifted = score <= 0.05 if test == "ks" else score >= 0.1
        rows.append(
            (DRIFT_SCORE, canonical_labels({"model": model, "column": column, "test": test}), ts, score)
        )
        rows.append(
            (
                DRIFT_DETECTED,
                canonical_labels({"model": model, "column": column}),
                ts,
                1.0 if drifted else 0.0,
            )
        )
    ingest_samples(store, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))


def minutes(start: datetime, end: datetime, score) -> list[tuple[datetime, float]]:
    out, t = [], start
    while t <= end:
        out.append((t, score(t)))
        t += timedelta(minutes=1)
    return out


def amount_drifts_from(store, since: datetime) -> None:
    """m1's `amount` drifts from `since` (Wasserstein rising to 0.84 at T0 + 30m); `country` never does."""
    top = T0 + timedelta(minutes=30)
    record_drift(
        store,
        "m1",
        "amount",
        "wasserstein",
        minutes(
            T0 - timedelta(hours=2),
            top,
            lambda t: 0.04 if t < since else 0.14 + 0.7 * (t - since) / (top - since),
        ),
    )
    record_drift(
        store, "m1", "country", "jensenshannon", minutes(T0 - timedelta(hours=2), top, lambda t: 0.03)
    )
    record_drift(
        store,
        "m1",
        "prediction",
        "wasserstein",  # the output moves after the input
        minutes(T0 - timedelta(hours=2), top, lambda t: 0.5 if t >= since else 0.02),
    )
    record_drift(
        store,
        "m2",
        "amount",
        "wasserstein",  # another model's drift: not this incident's
        minutes(T0 - timedelta(hours=2), top, lambda t: 0.9),
    )


def test_drifted_columns_of_the_incident_model_with_score_test_threshold_and_onset(store, slos) -> None:
    amount_drifts_from(store, ONSET - timedelta(minutes=3))
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    assert found.model == "m1"  # the SLO's model label
    shift, output = found.drift  # not country (never drifted), not m2
    assert output.describe() == "output drift: prediction (wasserstein 0.50 ≥ 0.1) since 11:37"
    assert (shift.column, shift.test, shift.threshold) == ("amount", "wasserstein", 0.1)
    assert shift.since == ONSET - timedelta(minutes=3) and shift.ended is None
    assert shift.score == pytest.approx(0.84)
    assert shift.describe() == "data drift: amount (wasserstein 0.84 ≥ 0.1) since 11:37"


def test_a_drift_onset_just_before_the_burn_follows_the_deploy_of_its_model(store, slos) -> None:
    amount_drifts_from(store, ONSET - timedelta(minutes=10))  # 2 minutes after the v7 deploy
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    deploy, drift = found.suspects[:2]
    assert (deploy.change.model, deploy.change.version) == ("m1", "7")
    # alone the shift scores higher; it ranks right after the m1 deploy it may be the effect of
    assert (
        drift.shift is not None and drift.change.describe() == "data drift: amount (wasserstein 0.84 ≥ 0.1)"
    )
    assert drift.score > deploy.score
    assert "first detected 1" in drift.explanation and "m before the burn began" in drift.explanation
    assert "inputs of m1, the model scoring-availability measures, shifted (match 1.0)" in drift.explanation
    assert (
        "first seen 2m after alias_move m1 v7" in drift.explanation
        and "may have caused it" in drift.explanation
    )
    assert [(s.change.model, s.change.version) for s in found.suspects[2:]] == [("m2", "4"), ("m1", "6")]
    # the prediction drifted as well: a symptom, listed in found.drift but not ranked as a cause
    assert "prediction" in [d.column for d in found.drift]
    assert [s.shift.column for s in found.suspects if s.shift] == ["amount"]


def test_drift_first_detected_late_ranks_below_a_close_deploy(store, slos) -> None:
    amount_drifts_from(store, ONSET + timedelta(minutes=15))  # after the burn began, before declared
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    ranked = [s.shift.column if s.shift else s.change.version for s in found.suspects]
    assert ranked[:2] == ["7", "amount"]
    late = found.suspects[1]
    assert "after the burn began; a drift test's rolling window notices a shift late" in late.explanation
    assert late.closeness < 0.5


def test_drift_that_began_after_the_incident_is_listed_but_no_suspect(store, slos) -> None:
    amount_drifts_from(store, T0 + timedelta(minutes=5))
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    assert [d.describe() for d in found.drift] == [
        "data drift: amount (wasserstein 0.84 ≥ 0.1) since 12:05",
        "output drift: prediction (wasserstein 0.50 ≥ 0.1) since 12:05",
    ]
    assert all(s.shift is None for s in found.suspects)


def test_p_value_tests_a_threshold_override_and_an_ended_run(store) -> None:
    # `hour` drifted 10:00-10:20 (ks p-values), a quiet 10:21, and an old run two hours before
    record_drift(
        store,
        "m1",
        "hour",
        "ks",
        minutes(
            T0 - timedelta(hours=4),
            T0,
            lambda t: (
                0.001
                if (
                    T0 - timedelta(hours=4) <= t < T0 - timedelta(hours=3, minutes=50)
                    or T0 - timedelta(hours=2) <= t < T0 - timedelta(hours=1, minutes=40)
                )
                else 0.4
            ),
        ),
    )
    workspace = SimpleNamespace(
        config=SimpleNamespace(
            sources=[
                SimpleNamespace(
                    kind="drift",
                    name="drift",
                    options={
                        "windows": [
                            {
                                "model": "m1",
                                "reference": {"span": "6h", "ago": "1d"},
                                "thresholds": {"hour": 0.01},
                            }
                        ]
                    },
                )
            ]
        )
    )
    incident = incidents.declare(
        store,
        "scoring errors",
        now=T0,
        actor="t",
        severity="SEV2",
        detail={"alert": {"labels": {"model": "m1"}}},
    )
    found = what_changed(store, [], incident, T0, workspace=workspace)
    assert found.model == "m1"  # from the alert's label, no SLO
    [shift] = found.drift  # the run in the chart's 3 h, not the older one
    assert shift.describe() == "data drift: hour (ks p 0.001 ≤ 0.01) 10:00–10:20"
    [suspect] = [s for s in found.suspects if s.shift]
    assert "the model the incident's alert names" in suspect.explanation
    assert "no drift since 10:20" in suspect.explanation


def test_verdicts_further_apart_than_the_run_gap_are_two_runs(store, slos) -> None:
    # drift 10:30-10:40, then the source stops for 40 minutes and drift is seen again from 11:20
    record_drift(
        store,
        "m1",
        "amount",
        "wasserstein",
        minutes(T0 - timedelta(minutes=90), T0 - timedelta(minutes=80), lambda t: 0.3)
        + minutes(T0 - timedelta(minutes=40), T0, lambda t: 0.5),
    )
    found = what_changed(store, slos, declare(store), T0)
    [shift] = found.drift  # the run nearest the declaration
    assert shift.describe() == "data drift: amount (wasserstein 0.50 ≥ 0.1) since 11:20"
