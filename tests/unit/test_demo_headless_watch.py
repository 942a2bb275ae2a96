"""The headless demo's heartbeat and what people did from any terminal (issue #17, item 10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from console.actions import Rollback
from console.cli.commands.demo import prepare
from console.cli.commands.demo_watch import HeadlessWatch
from console.config.workspace import load_workspace
from console.incidents import lifecycle
from console.runtime.session import Session

START = datetime(2026, 11, 20, 12, 1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _session(tmp_path: Path, clock: Clock) -> Session:
    prepare(tmp_path, now=START, days=0.2, seed=7)
    text = (tmp_path / "oncall.yaml").read_text()
    if "allow_actions: true" not in text:
        (tmp_path / "oncall.yaml").write_text(text + "\nallow_actions: true\n")
    return Session(load_workspace(tmp_path / "oncall.yaml"), clock=clock, run_engine=False, listen=False)


def test_a_heartbeat_every_five_simulated_minutes_with_each_slo_state(tmp_path):
    clock = Clock()
    session = _session(tmp_path, clock)
    try:
        watch = HeadlessWatch(session)
        [beat] = watch.lines()
        assert beat.startswith("2026-11-20 12:01:00 heartbeat ")
        assert "fraud-scoring-latency ok (5m " in beat and "fraud-scoring-availability " in beat
        clock.now = START + timedelta(minutes=3)
        assert watch.lines() == []  # 12:04: not yet
        clock.now = START + timedelta(minutes=4)
        assert [line[:29] for line in watch.lines()] == ["2026-11-20 12:05:00 heartbeat"]
    finally:
        session.close()


def test_what_another_terminal_did_is_printed_once(tmp_path):
    clock = Clock()
    session = _session(tmp_path, clock)
    try:
        watch = HeadlessWatch(session)
        watch.lines()
        # what a command from another terminal does, forwarded to the store's owner
        incident = lifecycle.declare(session.store, "latency\x1b[2J burn", now=START, actor="bob")
        lifecycle.acknowledge(session.store, incident.id, now=START, actor="bob")
        env = session.action_env()
        action = Rollback(env, "fraud-detector")
        action.apply(action.plan(), reason="v3 p99 tripled", typed_name="fraud-detector")
        lines = watch.lines()
        assert any("incident 1: triggered → acknowledged (by bob)" in line for line in lines), lines
        assert any("rollback after on" in line and "— v3 p99 tripled" in line for line in lines), lines
        assert all("\x1b" not in line for line in lines)  # a title's control characters stay inert
        assert watch.lines() == []  # each once
    finally:
        session.close()
