"""A long forwarded command (a playbook waiting for latency to drop) never freezes the store's
owner, and a second terminal is told the console is busy instead of waiting in silence."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from console.runtime import control
from console.runtime.control import ControlServer, emit, forward


@pytest.fixture
def owner(runtime: Path, tmp_path: Path):
    """A control server whose first command blocks until released (a playbook's wait_for)."""
    started, release = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def runner(argv: list[str], caller: object) -> int:
        calls.append(argv)
        print(f"ran {argv[0]}")
        if argv[:2] == ["playbook", "run"]:
            started.set()
            release.wait(60)
        return 0

    server = ControlServer(tmp_path / "s.duckdb", runner).start()
    answers: list[dict | None] = []
    first = threading.Thread(
        target=lambda: answers.append(forward(tmp_path / "s.duckdb", ["playbook", "run", "latency-x"]))
    )
    first.start()
    assert started.wait(30), "the forwarded command never started"
    try:
        yield tmp_path / "s.duckdb", calls, answers, (release, first)
    finally:
        release.set()
        first.join(60)
        server.stop()


def test_the_owner_prints_while_a_forwarded_command_runs(owner, capfd) -> None:
    done = threading.Event()

    def print_line() -> None:
        emit("2026-11-20 12:05:00 heartbeat fraud-scoring-latency ok")
        done.set()

    threading.Thread(target=print_line, daemon=True).start()
    # Before: emit waited for the forwarded command's lock, so the demo's loop stood still.
    assert done.wait(10), "the owner's own line waited for the forwarded command"
    assert "heartbeat fraud-scoring-latency ok" in capfd.readouterr().out


def test_a_second_terminal_is_told_the_console_is_busy_and_nothing_runs(owner, monkeypatch) -> None:
    store, calls, _, _ = owner
    monkeypatch.setattr(control, "BUSY_WAIT", 0.2)
    answer = forward(store, ["incident", "ack", "1"])
    assert answer is not None and answer["code"] == control.EX_TEMPFAIL
    assert "busy running `oncall playbook run latency-x`" in answer["stderr"]
    assert "nothing was run" in answer["stderr"]
    assert calls == [["playbook", "run", "latency-x"]]  # the ack did not run


def test_the_long_command_answers_its_terminal_when_it_ends(owner) -> None:
    store, _calls, answers, (release, first) = owner
    release.set()
    first.join(30)
    assert answers == [{"code": 0, "stdout": "ran playbook\n", "stderr": ""}]
    answer = forward(store, ["incident", "ack", "1"])  # the console is free again
    assert answer is not None and answer["code"] == 0 and answer["stdout"] == "ran incident\n"
