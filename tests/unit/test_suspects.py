"""What changed: the burn around an incident, its onset, and changes ranked as suspects."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from console import incidents
from console.registry.history import record_alias_move
from console.slo import load_slo_file
from console.store import Store, canonical_labels, ingest_samples
from console.suspects import Change, BurnSeries, burn_onset, rank_suspects, what_changed

T0 = datetime(2026, 11, 20, 12, 0, 0)          # the incident is declared here
ONSET = T0 - timedelta(minutes=20)             # errors start here

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
            rows.append(("requests_total", canonical_labels({"service": "scoring", "code": "200"}),
                         t, ok))
            rows.append(("requests_total", canonical_labels({"service": "scoring", "code": "500"}),
                         t, bad))
            t += timedelta(minutes=1)
        ingest_samples(opened, pd.DataFrame(rows, columns=["name", "labels", "ts", "value"]))
        with opened.transaction() as cur:
            for at, model, version, actor in (
                    (ONSET - timedelta(hours=30), "m1", "6", "ci"),      # long ago
                    (ONSET - timedelta(minutes=8), "m2", "4", "bob"),    # close, other model
                    (ONSET - timedelta(minutes=12), "m1", "7", "ci"),    # close, same model
                    (T0 + timedelta(minutes=9), "m1", "6", "alice")):    # the rollback, after
                record_alias_move(cur, ts=at, model=model, alias="champion", from_version=None,
                                  to_version=version, actor=actor, source="test")
        yield opened


@pytest.fixture
def slos(tmp_path: Path):
    path = tmp_path / "slo.yaml"
    path.write_text(SLO_YAML)
    return load_slo_file(path)


def declare(store) -> incidents.Incident:
    return incidents.declare(store, "scoring errors", now=T0, actor="t", severity="SEV2",
                             detail={"alert": {"labels": {"slo": "scoring-availability"}}})


def test_burn_series_shows_the_onset_and_the_recovery(store, slos) -> None:
    found = what_changed(store, slos, declare(store), T0 + timedelta(minutes=30))
    burn = found.burning
    assert burn is not None and burn.slo == "scoring-availability"
    assert found.start == T0 - timedelta(hours=3) and found.end == T0 + timedelta(minutes=30)
    assert burn.at(T0 - timedelta(hours=1)) < 1            # quiet before
    assert burn.at(T0) > 14                                  # ~20% errors / 1% budget
    assert burn.at(T0 + timedelta(minutes=30)) < 1           # healed after the rollback
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
    assert [s.change.version for s in ranked] == ["8"]      # the late one is not a candidate
    scored = rank_suspects([late], onset - timedelta(minutes=20), series)
    assert scored == []


def test_no_slos_still_lists_changes(store) -> None:
    found = what_changed(store, [], declare(store), T0)
    assert found.burning is None and found.onset is None
    # no SLO to match against: the closest change before the incident leads
    assert [s.change.version for s in found.suspects] == ["4", "7", "6"]
    assert "match 0.5" in found.suspects[0].explanation
    assert "28m before the incident was declared" in found.suspects[0].explanation
