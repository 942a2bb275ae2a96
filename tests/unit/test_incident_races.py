"""Engineers racing on one incident or one playbook step in one console (the embedded DuckDB
store): one wins, the others are told who did, and the timeline has each change once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from console.incidents.lifecycle import AlreadyDone, IncidentError, acknowledge, declare
from console.incidents.records import timeline
from console.store import Store
from tests.races import T0, assign_rounds, edit_rounds, incident_rounds, step_rounds


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


def test_racing_role_assignments_lose_none(store: Store) -> None:
    assign_rounds([store])


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
    assert (
        str(other.value)
        == f"incident {incident.id} is already acknowledged (by alice at 2026-11-20 09:32:00 UTC)"
    )
    assert [e.kind for e in timeline(store, incident.id)] == ["declared", "status"]


def _code(argv: list[str]) -> int:
    from console.cli.main import main

    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_the_cli_exits_0_on_a_repeat_and_2_with_the_winner_on_a_lost_ack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "oncall.yaml").write_text("store: oncall.duckdb\n")
    with Store.open(tmp_path / "oncall.duckdb") as s:
        incident = declare(s, "p99 over SLO", now=T0, actor="pager")
    monkeypatch.setenv("ONCALL_NOW", "2026-11-20T09:32:10Z")
    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    ack = ["-w", str(tmp_path / "oncall.yaml"), "incident", "ack", str(incident.id)]
    assert _code(ack) == 0
    first = capsys.readouterr()
    assert _code(ack) == 0
    again = capsys.readouterr()
    assert again.out == first.out  # the incident as it is
    assert again.err.strip().endswith("at 2026-11-20 09:32:10 UTC); nothing changed")
    assert "(by you, " in again.err and "alice" in again.err
    monkeypatch.setenv("ONCALL_ACTOR", "bob")
    assert _code(ack) == 2
    lost = capsys.readouterr().err.strip().splitlines()
    assert len(lost) == 1 and lost[0].startswith(
        f"oncall: incident {incident.id} is already acknowledged (by "
    )
    assert "alice" in lost[0] and lost[0].endswith(" at 2026-11-20 09:32:10 UTC)")


def test_a_claim_left_by_a_console_that_died_mid_step_is_taken_over_after_the_timeout(
    store: Store, tmp_path: Path
) -> None:
    from console.playbooks.context import RunContext, RunError
    from console.playbooks.runs import resume_run, start_run
    from tests.races import counting_playbook

    playbook, count = counting_playbook(tmp_path)
    incident = declare(store, "p99 over SLO", now=T0, actor="pager")
    run_id = start_run(RunContext(store, "pager", lambda: T0), playbook, incident=incident).run_id
    with store.transaction() as cur:  # bob's console claimed the step, then died before it ran
        state = cur.execute("SELECT state FROM playbook_runs WHERE id = ?", [run_id]).fetchone()[0]
        claimed = (
            state[:-1] + ', "claim": {"step": "restart", "actor": "bob", "since": "2026-11-20T09:30:00"}}'
        )
        cur.execute("UPDATE playbook_runs SET state = ? WHERE id = ?", [claimed, run_id])

    def runner(minutes: int):
        ctx = RunContext(store, "alice", lambda: T0 + timedelta(minutes=minutes))
        return resume_run(ctx, {"restart": playbook}, run_id)

    with pytest.raises(RunError) as held:
        runner(1).advance(confirm=True)  # within the step's 60 s timeout plus a minute: bob may be running it
    assert str(held.value) == (
        f"step restart of run {run_id} is already running (by bob since 2026-11-20 09:30:00 UTC)"
    )
    assert not count.exists()
    outcome = runner(3).advance(confirm=True)
    assert (outcome.outcome, outcome.actor) == ("passed", "alice")
    assert count.read_text() == "ran\n"
    assert "claim" not in runner(4).state
