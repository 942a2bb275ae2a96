"""Consoles racing on one incident or one playbook run: threads released together, each with its
own actor, and what a user would check afterwards (one winner, losers told who won, a timeline
with each change exactly once)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from console.incidents.followups import followups_of
from console.incidents.lifecycle import IncidentError, add_followup, declare, set_severity, transition
from console.incidents.records import STATUSES, get_incident, timeline
from console.playbooks.context import RunContext, RunError
from console.playbooks.loading import load_playbook
from console.playbooks.runs import resume_run, start_run

T0 = datetime(2026, 11, 20, 9, 30, 0)
ROUNDS = 100
RACERS = 4


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(racers: int) -> ThreadPoolExecutor:
    """Long-lived threads, one a console (each keeps its own team database connection)."""
    if racers not in _POOLS:
        _POOLS[racers] = ThreadPoolExecutor(racers, thread_name_prefix="console")
    return _POOLS[racers]


def race(
    racers: int, attempt: Callable[[int], Any], refused: tuple[type[Exception], ...]
) -> list[tuple[str, Any]]:
    """Run attempt(i) in `racers` threads released at once: ("won", result) or ("lost", message)."""
    gate = threading.Barrier(racers, timeout=60)

    def one(i: int) -> tuple[str, Any]:
        gate.wait()
        try:
            return ("won", attempt(i))
        except refused as exc:
            return ("lost", str(exc))
        except Exception as exc:  # noqa: BLE001 - anything else is reported by the test as it is
            return ("crashed", f"{type(exc).__name__}: {exc}")

    futures = [_pool(racers).submit(one, i) for i in range(racers)]
    return [f.result(timeout=120) for f in futures]


def the_winner(results: list[tuple[str, Any]]) -> int:
    """The one racer that won; every other one lost (none crashed)."""
    assert not [r for r in results if r[0] in ("crashed", "missing")], results
    winners = [i for i, (kind, _) in enumerate(results) if kind == "won"]
    assert len(winners) == 1, results
    return winners[0]


def check_timeline_ids(stores: Sequence[Any], incident_id: int) -> list[Any]:
    """The incident's timeline, the same from every console, with no duplicate ids."""
    entries = timeline(stores[0], incident_id)
    for store in stores[1:]:
        assert timeline(store, incident_id) == entries
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids), ids
    return entries


def incident_rounds(stores: Sequence[Any], rounds: int = ROUNDS, racers: int = RACERS) -> None:
    """Each round: declare, `racers` engineers ack at once, then all of them resolve at once."""
    for round_ in range(rounds):
        incident = declare(stores[round_ % len(stores)], f"round {round_}", now=T0, actor="pager")
        for minutes, to_status in ((2, "acknowledged"), (9, "resolved")):
            at = T0 + timedelta(minutes=minutes)

            def move(
                i: int, to_status: str = to_status, at: datetime = at, incident_id: int = incident.id
            ) -> Any:
                return transition(
                    stores[i % len(stores)], incident_id, to_status, now=at, actor=f"engineer{i}"
                )

            results = race(racers, move, (IncidentError,))
            winner = f"engineer{the_winner(results)}"
            for kind, message in results:
                if kind == "lost":
                    assert message == (
                        f"incident {incident.id} is already {to_status} (by {winner} at {at:%Y-%m-%d %H:%M:%S} UTC)"
                    ), message
        entries = check_timeline_ids(stores, incident.id)
        moves = [(e.detail["from"], e.detail["to"]) for e in entries if e.kind == "status"]
        assert moves == [("triggered", "acknowledged"), ("acknowledged", "resolved")], entries
        assert [e.kind for e in entries] == ["declared", "status", "status"]
        final = get_incident(stores[0], incident.id)
        assert final.status == "resolved" and final.status in STATUSES
        acker = next(e.actor for e in entries if e.kind == "status")
        assert final.commander == acker  # the one who acked, not a loser


COUNTING = """\
id: restart
title: restart the scorer
steps:
  - id: restart
    kind: command
    title: restart the scorer
    argv: ["{script}"]
  - id: after
    kind: instruction
"""


def counting_playbook(root: Path) -> tuple[Any, Path]:
    """A playbook whose command step appends one line to a file each time it really runs."""
    script, count = root / "restart-scorer", root / "restart-scorer.count"
    script.write_text(f'#!/bin/sh\necho ran >> "{count}"\n')
    os.chmod(script, 0o700)
    path = root / "restart.yaml"
    path.write_text(COUNTING.format(script=script))
    return load_playbook(path), count


def step_rounds(stores: Sequence[Any], root: Path, rounds: int = ROUNDS, racers: int = RACERS) -> None:
    """Each round: a new run; `racers` consoles that all show its first step run it at once."""
    playbook, count = counting_playbook(root)
    at = T0 + timedelta(minutes=3)
    for round_ in range(rounds):
        store = stores[round_ % len(stores)]
        incident = declare(store, f"round {round_}", now=T0, actor="pager")
        run_id = start_run(RunContext(store, "pager", lambda: at), playbook, incident=incident).run_id
        runners = [
            resume_run(
                RunContext(stores[i % len(stores)], f"engineer{i}", lambda: at), {"restart": playbook}, run_id
            )
            for i in range(racers)
        ]
        results = race(racers, lambda i, runners=runners: runners[i].advance(confirm=True), (RunError,))
        winner = f"engineer{the_winner(results)}"
        for kind, message in results:
            if kind == "lost":
                assert message.startswith(f"step restart of run {run_id} ") and f"(by {winner} " in message, (
                    message
                )
        assert count.read_text().count("ran") == round_ + 1  # the command ran exactly once
        entries = check_timeline_ids(stores, incident.id)
        steps = [e for e in entries if e.kind == "step"]
        assert [(e.detail["step"], e.actor) for e in steps] == [("restart", winner)], entries
        fresh = resume_run(RunContext(store, "check", lambda: at), {"restart": playbook}, run_id)
        assert fresh.current_step == "after" and fresh.status == "running"
        assert [(h["step"], h["actor"]) for h in fresh.history] == [("restart", winner)]


def edit_rounds(stores: Sequence[Any], rounds: int = 20, racers: int = RACERS) -> None:
    """Each round: engineers add follow-ups and change the severity at once; none is lost."""
    severities = ("SEV1", "SEV2", "SEV4", "SEV1")
    at = T0 + timedelta(minutes=4)
    for round_ in range(rounds):
        incident = declare(stores[0], f"round {round_}", now=T0, actor="pager", severity="SEV3")

        def followup(i: int, incident_id: int = incident.id) -> Any:
            return add_followup(
                stores[i % len(stores)], incident_id, f"fix {i}", now=at, actor=f"engineer{i}"
            )

        def severity(i: int, incident_id: int = incident.id) -> Any:
            return set_severity(
                stores[i % len(stores)], incident_id, severities[i % 4], now=at, actor=f"engineer{i}"
            )

        for attempt in (followup, severity):
            results = race(racers, attempt, (IncidentError,))
            assert all(kind == "won" for kind, _ in results), results
        final = get_incident(stores[0], incident.id)
        assert sorted(f["text"] for f in followups_of(final.detail)) == [f"fix {i}" for i in range(racers)], (
            final
        )
        entries = check_timeline_ids(stores, incident.id)
        assert sorted(e.text for e in entries if e.kind == "followup") == [
            f"follow-up: fix {i}" for i in range(racers)
        ]
        edits = [e for e in entries if e.kind == "edit"]
        assert len(edits) == racers
        chain = "SEV3"
        for edit in sorted(edits, key=lambda e: e.id):  # each edit's "from" is what the one before set
            assert edit.text == f"severity {chain} → {edit.detail['severity']}", edits
            chain = edit.detail["severity"]
        assert final.severity == chain


def assign_rounds(stores: Sequence[Any], rounds: int = 20, racers: int = RACERS) -> None:
    """Each round: engineers add themselves as responders at once; none is lost."""
    from console.incidents.roles import assign

    at = T0 + timedelta(minutes=4)
    for round_ in range(rounds):
        incident = declare(stores[0], f"round {round_}", now=T0, actor="pager", severity="SEV3")

        def responder(i: int, incident_id: int = incident.id) -> Any:
            store = stores[i % len(stores)]
            return assign(store, incident_id, add_responders=[f"engineer{i}"], now=at, actor=f"engineer{i}")

        results = race(racers, responder, (IncidentError,))
        assert all(kind == "won" for kind, _ in results), results
        final = get_incident(stores[0], incident.id)
        assert sorted(final.detail["responders"]) == [f"engineer{i}" for i in range(racers)], final
        entries = check_timeline_ids(stores, incident.id)
        assert sorted(e.text for e in entries if e.kind == "role") == [
            f"responder engineer{i} added" for i in range(racers)
        ]
