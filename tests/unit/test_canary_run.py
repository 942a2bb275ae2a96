"""One canary analysis on a real store and the local registry: stored, scored, rolled back on a fail."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from console.canary.run import APPLIED, DRY_RUN, NOT_ALLOWED, REFUSED, RunOptions, run_analysis
from console.canary.stored import SCORE_SERIES, latest_analyses
from console.store import Store
from tests.canary_data import MODEL, NOW, seed_registry, spec, two_versions


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "oncall.duckdb") as opened:
        yield opened


def _bad_canary(store):
    """v4 is twice as slow and errs five times as often as v3."""
    registry = seed_registry(store)
    two_versions(store, latency=(0.1, 0.2), errors=(0.01, 0.05))
    return registry


def _aliases(store) -> dict[str, str]:
    return dict(store.query("SELECT alias, version FROM registry_aliases WHERE model = ?", [MODEL])[1])


def _marks(store) -> list[tuple]:
    return store.query("SELECT version, reason FROM version_marks WHERE cleared_at IS NULL")[1]


def _audit(store) -> list[tuple]:
    return store.query("SELECT phase, reason, params FROM audit WHERE action = 'rollback' ORDER BY id")[1]


def _run(store, registry, **options):
    return run_analysis(store, spec(), registry, NOW, RunOptions(actor="alice", **options))


def test_a_failed_canary_is_stored_with_its_score_series(store):
    registry = _bad_canary(store)
    run = _run(store, registry)
    assert run.analysis.verdict == "fail" and run.analysis.score == 0
    [row] = store.query(
        "SELECT id, name, model, ts, baseline_version, canary_version, score, verdict, reason, result "
        "FROM canary_analyses"
    )[1]
    assert row[:8] == (run.analysis_id, "fraud-v4", MODEL, NOW, "3", "4", 0.0, "fail")
    assert row[8] == run.analysis.reason and "critical metric errors is High" in row[8]
    result = json.loads(row[9])
    assert [m["classification"] for m in result["metrics"]] == ["High", "High"]
    latest = latest_analyses(store)["fraud-v4"]
    assert (latest.verdict, latest.at, latest.rollback["state"]) == ("fail", NOW, NOT_ALLOWED)
    assert latest.analysis().metrics == run.analysis.metrics  # read back as the judge gave it
    samples = store.query(
        "SELECT s.labels, x.ts, x.value FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = ?",
        [SCORE_SERIES],
    )[1]
    assert samples == [('{"canary":"fraud-v4","model":"fraud-detector"}', NOW, 0.0)]


def test_nothing_judged_writes_a_nan_score_and_no_rollback(store):
    registry = seed_registry(store)  # no series at all
    run = _run(store, registry, allow_actions=True)
    assert run.analysis.verdict == "nodata" and run.rollback is None
    [(value,)] = store.query(
        "SELECT x.value FROM samples x JOIN series s ON s.id = x.series_id WHERE s.name = ?", [SCORE_SERIES]
    )[1]
    assert math.isnan(value)
    assert store.query("SELECT score FROM canary_analyses")[1] == [(None,)]
    assert _aliases(store)["canary"] == "4"


def test_a_fail_rolls_the_canary_alias_back_and_marks_the_canary_version(store):
    registry = _bad_canary(store)
    run = _run(store, registry, allow_actions=True)
    assert run.rollback is not None and run.rollback.state == APPLIED
    assert run.rollback.message.startswith("rolled back: rollback fraud-detector: canary v4 → v3")
    assert _aliases(store) == {"champion": "3", "canary": "3"}
    [(version, reason)] = _marks(store)
    assert version == "4" and reason.startswith(f"canary fraud-v4 failed (analysis #{run.analysis_id})")
    phases = _audit(store)
    assert [p for p, _, _ in phases] == ["before", "after"]
    params = json.loads(phases[1][2])
    assert params["analysis"]["verdict"] == "fail" and params["canary"]["analysis_id"] == run.analysis_id
    assert params["to_version"] == "3" and params["basis"].startswith("the baseline of canary fraud-v4")
    stored = latest_analyses(store)["fraud-v4"].rollback
    assert stored["state"] == APPLIED and stored["plan"]["params"]["to_version"] == "3"


def test_a_dry_run_shows_the_plan_and_changes_nothing(store):
    registry = _bad_canary(store)
    run = _run(store, registry, allow_actions=True, dry_run=True)
    assert run.rollback is not None and run.rollback.state == DRY_RUN
    assert run.rollback.message == "dry run: would roll back fraud-detector: canary v4 → v3; nothing changed"
    assert run.rollback.plan is not None and run.rollback.plan.params["to_version"] == "3"
    assert _aliases(store)["canary"] == "4" and _marks(store) == [] and _audit(store) == []
    assert run.analysis_id is not None  # the judgement itself is kept


def test_actions_not_allowed_apply_nothing_and_say_so(store):
    registry = _bad_canary(store)
    run = _run(store, registry, allow_actions=False, workspace_path="ws/oncall.yaml")
    assert run.rollback is not None and run.rollback.state == NOT_ALLOWED
    assert run.rollback.message.startswith("actions not allowed: ws/oncall.yaml: the workspace is read-only")
    assert run.rollback.plan is not None  # the plan is still shown
    assert _aliases(store)["canary"] == "4" and _marks(store) == []
    assert [p for p, _, _ in _audit(store)] == ["denied"]  # the refused attempt is audited


def test_a_canary_given_by_number_rolls_the_serving_alias_back(store):
    registry = _bad_canary(store)
    registry.set_alias(MODEL, "champion", "4")
    run = run_analysis(
        store, spec(baseline="3", canary="4"), registry, NOW, RunOptions(actor="alice", allow_actions=True)
    )
    assert run.rollback is not None and run.rollback.state == APPLIED
    assert _aliases(store)["champion"] == "3" and [v for v, _ in _marks(store)] == ["4"]


def test_an_alias_that_no_longer_holds_the_canary_is_not_rolled_back(store):
    registry = _bad_canary(store)  # champion is on v3: the canary v4 is not serving through it
    run = run_analysis(
        store, spec(baseline="3", canary="4"), registry, NOW, RunOptions(actor="alice", allow_actions=True)
    )
    assert run.rollback is not None and run.rollback.state == REFUSED
    assert run.rollback.message == "champion of fraud-detector is v3, not the canary v4: nothing to roll back"
    assert _marks(store) == [] and _audit(store) == []


def test_a_passing_canary_plans_no_rollback(store):
    registry = seed_registry(store)
    two_versions(store, latency=(0.1, 0.1), errors=(0.01, 0.01))
    run = _run(store, registry, allow_actions=True)
    assert run.analysis.verdict == "pass" and run.rollback is None
    assert _aliases(store)["canary"] == "4"


def test_on_fail_none_judges_without_planning(store):
    registry = _bad_canary(store)
    run = run_analysis(
        store, spec(on_fail="none"), registry, NOW, RunOptions(actor="alice", allow_actions=True)
    )
    assert run.analysis.verdict == "fail" and run.rollback is None and _marks(store) == []


def test_a_protected_model_needs_its_name_typed(store):
    registry = _bad_canary(store)
    run = _run(store, registry, allow_actions=True, protected_models=[MODEL])
    assert run.rollback is not None and run.rollback.state == REFUSED
    assert "is protected: type its name to confirm" in run.rollback.message
    assert _aliases(store)["canary"] == "4"
    run = _run(store, registry, allow_actions=True, protected_models=[MODEL], typed_name=MODEL)
    assert run.rollback is not None and run.rollback.state == APPLIED
    assert _aliases(store)["canary"] == "3"


def test_latest_analyses_gives_the_newest_of_each_canary(store):
    from datetime import timedelta

    registry = _bad_canary(store)
    earlier = NOW - timedelta(minutes=30)
    for at in (NOW, earlier):  # stored out of order: the newest judged time wins
        run_analysis(store, spec(), registry, at, RunOptions(actor="alice"))
    run_analysis(store, spec(name="other", on_fail="none"), registry, earlier, RunOptions(actor="alice"))
    latest = latest_analyses(store)
    assert {name: a.at for name, a in latest.items()} == {"fraud-v4": NOW, "other": earlier}
    assert store.query("SELECT count(*) FROM canary_analyses")[1] == [(3,)]


def test_a_spec_with_shadow_reports_the_canary_as_the_baselines_shadow(store):
    from console.canary.shadow import shadow_report
    from tests.unit.test_canary_shadow import put

    registry = _bad_canary(store)
    inside = NOW - timedelta(minutes=10)
    put(store, "predictions", "3", [0.1, 0.9, 0.8, 0.2], ts=inside, model=MODEL)
    put(store, "shadow_predictions", "4", [0.2, 0.3, 0.9, 0.7], ts=inside, model=MODEL)
    with_shadow = spec(shadow={"threshold": 0.5, "window": "1h"})
    run = run_analysis(store, with_shadow, registry, NOW, RunOptions(actor="alice"))
    assert run.analysis.verdict == "fail"  # the metrics decide; the shadow reports beside them
    assert run.shadow is not None and run.shadow.coverage.paired == 4
    assert run.shadow.as_dict() == shadow_report(store, MODEL, "3", "4", NOW, with_shadow.shadow).as_dict()
    assert run.as_dict()["shadow"]["agreement"] == run.shadow.as_dict()["agreement"]
    written = store.query("SELECT count(*) FROM series WHERE name = 'oncall_shadow_agreement'")[1]
    assert written == [(1,)]


def test_a_spec_without_shadow_reports_none(store):
    run = _run(store, _bad_canary(store))
    assert run.shadow is None and run.as_dict()["shadow"] is None
