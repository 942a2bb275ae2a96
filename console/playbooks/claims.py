"""Claiming a playbook step: of consoles running the same step of the same run, one runs it and
the others are told who ran it, or runs it now.  A command or action never runs twice.

The run's `state` text is its version: a runner remembers the text it last read or wrote, and
every write of the run is `UPDATE … WHERE id = ? AND state = ?` on it (a compare-and-set, the
same SQL on DuckDB and Postgres).  A step that changes the world (command, action) is claimed
that way before it runs — `state.claim` names who runs it since when — and its outcome is saved
the same way, which clears the claim.  Other steps only read, so they are not claimed: a runner
whose save finds the run changed records nothing and says who moved it.  A claim older than the
step's timeout plus STALE_AFTER is one whose console died mid-step; the next runner takes it over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.incidents.races import conflicted
from console.playbooks.context import RunError

if TYPE_CHECKING:
    from console.playbooks.model import Step

Runner = Any  # a console.playbooks.runner.Runner (which imports this module)

CLAIMED_KINDS = ("command", "action")
STALE_AFTER = timedelta(minutes=1)


class Taken(Exception):
    """The run changed since this runner read it."""


def _utc(text: str) -> str:
    return f"{datetime.fromisoformat(text):%Y-%m-%d %H:%M:%S} UTC"


def read_run(cur: Any, run_id: int) -> tuple[str, str | None, str | None]:
    """The run's status, current step and state text, as this transaction sees them."""
    row = cur.execute(
        "SELECT status, current_step, state FROM playbook_runs WHERE id = ?", [run_id]
    ).fetchone()
    if row is None:
        raise RunError(f"no playbook run {run_id}")
    return row[0], row[1], row[2]


def taken_message(run_id: int, step_id: str, current: str | None, state: dict[str, Any]) -> str:
    """Why this runner may not run `step_id`: who runs it, who ran it, or where the run went."""
    held = state.get("claim")
    if held and held.get("step") == step_id:
        return f"step {step_id} of run {run_id} is already running (by {held['actor']} since {_utc(held['since'])})"
    waiting = (state.get("waiting") or {}).get(step_id)
    if waiting and current == step_id:
        return f"step {step_id} of run {run_id} is already waiting in another console (since {_utc(waiting)})"
    history = state.get("history") or []
    ran = [h for h in history if h.get("step") == step_id]
    if ran:
        last = ran[-1]
        return f"step {step_id} of run {run_id} already ran (by {last['actor']} at {_utc(last['ts'])}: {last['outcome']})"
    by = f" (by {history[-1]['actor']} at {_utc(history[-1]['ts'])})" if history else ""
    return f"run {run_id} moved on to step {current}{by}; step {step_id} is no longer current"


def save(runner: Runner, cur: Any, finished: datetime | None) -> None:
    """Write the run's status, step and state if the run is as this runner last saw it."""
    text = json.dumps(runner.state, default=str)
    cur.execute(
        "UPDATE playbook_runs SET status = ?, current_step = ?, state = ?, "
        "finished_at = coalesce(?, finished_at) WHERE id = ? AND state = ?",
        [runner.status, runner.current_step, text, finished, runner.run_id, runner.seen],
    )
    row = cur.fetchone()
    if not row or row[0] != 1:
        raise Taken
    runner.seen = text


def _claim(runner: Runner, step: Step) -> None:
    with runner.ctx.store.shared.transaction() as cur:
        _, _, text = read_run(cur, runner.run_id)
        state = json.loads(text or "{}")
        now = runner.ctx.clock()
        held = state.get("claim")
        stale = held is not None and now - datetime.fromisoformat(held["since"]) > step.timeout + STALE_AFTER
        if text != runner.seen or (held is not None and not stale):
            raise Taken
        runner.state["claim"] = {"step": step.id, "actor": runner.ctx.actor, "since": now.isoformat()}
        save(runner, cur, None)


def _release(runner: Runner) -> None:
    """After a step that raised: its claim taken back, so the step can be tried again."""
    if runner.state.pop("claim", None) is not None:
        with runner.ctx.store.shared.transaction() as cur:
            save(runner, cur, None)


def _refusal(runner: Runner, step_id: str) -> RunError:
    """The loser's one line, from a fresh read of the run; the runner reloads it."""
    with runner.ctx.store.shared.transaction() as cur:
        _, current, text = read_run(cur, runner.run_id)
    runner._load()  # the run as it is now, for the next try
    return RunError(taken_message(runner.run_id, step_id, current, json.loads(text or "{}")))


@contextmanager
def held(runner: Runner, step: Step) -> Iterator[None]:
    """Run the block with `step` claimed when it changes the world; a lost race is a RunError."""
    try:
        if step.kind in CLAIMED_KINDS:
            _claim(runner, step)
        try:
            yield
        except (Taken, RunError):
            raise
        except BaseException:
            _release(runner)
            raise
    except Taken:
        raise _refusal(runner, step.id) from None
    except Exception as exc:
        if not conflicted(exc):
            raise
        raise _refusal(runner, step.id) from None
