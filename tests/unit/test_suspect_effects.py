"""A data shift that starts right after a new version of its model went live ranks after that
version (issue 17, item 2): in the demo, v4's deploy leads "What changed" even in the minute
the drift collector first sees `amount` move, as the burn begins."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.incidents.shifts import DataShift
from console.incidents.suspects import Change, rank, score_change, score_shift

ONSET = datetime(2026, 12, 3, 8, 35)


def deploy(at: datetime, model: str = "fraud-detector") -> Change:
    detail = {"alias": "champion", "from_version": "3", "to_version": "4"}
    return Change(at, "alias_move", model, "4", "ci-deployer", "demo", detail)


def shift(at: datetime, model: str = "fraud-detector") -> DataShift:
    return DataShift(model, "amount", "wasserstein", 0.15, 0.1, ">=", at, at)


def ranked(changes: list[Change], shifts: list[DataShift]):
    suspects = [score_change(c, ONSET, None) for c in changes]
    suspects += [score_shift(d, ONSET, None, "the model the SLO measures") for d in shifts]
    return rank(suspects, ONSET)


def test_a_shift_seen_as_the_burn_began_follows_the_deploy_two_minutes_before_it() -> None:
    new_version, drifted = deploy(ONSET - timedelta(minutes=2)), shift(ONSET + timedelta(minutes=1))
    first, second = ranked([new_version], [drifted])
    assert second.score > first.score  # alone, the shift scores higher: it is nearer the onset
    assert first.change is new_version and second.shift is drifted
    assert (
        "first seen 3m after alias_move fraud-detector v3 → v4 by ci-deployer, which may have caused it"
        in second.explanation
    )


def test_a_shift_of_another_model_or_long_after_the_deploy_keeps_its_rank() -> None:
    new_version = deploy(ONSET - timedelta(hours=3))
    other = shift(ONSET, model="churn")
    own = shift(ONSET + timedelta(minutes=1))
    order = ranked([new_version], [other, own])
    assert [s.shift for s in order[:2]] == [own, other] or [s.shift for s in order[:2]] == [other, own]
    assert order[-1].change is new_version
    assert not any("may have caused it" in s.explanation for s in order)
