"""Engineers racing on one incident or one playbook step in one console (the embedded DuckDB
store): one wins, the others are told who did, and the timeline has each change once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from console.incidents.lifecycle import AlreadyDone, IncidentError, acknowledge, declare
from console.incidents.records import timeline
from console.store import Store
from tests.races import T0, edit_rounds, incident_rounds, step_rounds


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "s.duckdb") as s:
        yield s


def test_racing_acks_and_resolves_have_one_winner_each(store: Store) -> None:
    incident_rounds([store])


def test_racing_runs_of_one_step_run_its_command_once(store: Store, tmp_path: Path) -> None:
    step_rounds([store], tmp_path)


def test_racing_follow_ups_and_severity_edits_lose_nothing(store: Store) -> None:
    edit_rounds([store])


def test_acking_again_is_a_no_op_that_says_so(store: Store) -> None:
    incident = declare(store, "p99 over SLO", now=T0, actor="pager")
    acknowledge(store, incident.id, now=T0 + timedelta(minutes=2), actor="alice")
    with pytest.raises(AlreadyDone) as again:
        acknowledge(store, incident.id, now=T0 + timedelta(minutes=3), actor="alice")
    assert str(again.value) == (
        f"incident {incident.id} is already acknowledged (by you, alice, at 2026-11-20 09:32:00 UTC); nothing changed"
    )
    with pytest.raises(IncidentError) as other:
        acknowledge(store, incident.id, now=T0 + timedelta(minutes=3), actor="bob")
    assert not isinstance(other.value, AlreadyDone)
    assert str(other.value) == f"incident {incident.id} is already acknowledged (by alice at 2026-11-20 09:32:00 UTC)"
    assert [e.kind for e in timeline(store, incident.id)] == ["declared", "status"]
