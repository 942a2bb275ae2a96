"""SIGTERM, SIGINT and SIGHUP leave nothing behind: the control socket, read-only snapshots
and the demo's temporary workspace are removed, the exit is prompt and says which signal
(128 + signum), and the console gives the terminal back (issue 14, point 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from console.store import Store
from tests.process import REPO, Oncall, wait_until
from tests.sock import hold_store

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
NAMES = [s.name for s in SIGNALS]
PROMPT = 30  # seconds: generous on a loaded 2-core box; it takes under one
LEFT_ALTERNATE_SCREEN = "\x1b[?1049l"


@pytest.fixture
def held(sandbox):
    """A workspace whose store another process holds without listening: readers snapshot."""
    (sandbox.work / "oncall.yaml").write_text("store: s.duckdb\n")
    with Store.open(sandbox.work / "s.duckdb"):
        pass
    holder = hold_store(sandbox.work / "s.duckdb")
    yield sandbox
    holder.kill()
    holder.wait()


def drawn(console: Oncall) -> None:
    """Wait until the console has drawn its footer: the signal comes to a running app."""
    console.wait_for("Quit")


def signalled_console(sandbox, args: list[str], made, what: str, signum: int) -> Oncall:
    """Start the console in a terminal, wait for `made()` (what it creates) and its first
    frame, send `signum`; it must exit promptly with 128 + signum."""
    console = Oncall(*args, env=sandbox.env(), cwd=sandbox.work, terminal=True)
    try:
        wait_until(made, 120, what, console)
        drawn(console)
        console.signal(signum)
        assert console.exit_code(PROMPT) == 128 + signum, console.output()[-3000:]
    finally:
        console.stop()
    assert LEFT_ALTERNATE_SCREEN in console.output()  # the terminal is the shell's again
    return console


@pytest.mark.parametrize("signum", SIGNALS, ids=NAMES)
def test_the_demo_console_removes_its_socket_and_temp_workspace(sandbox, signum):
    def made():
        return sandbox.sockets() and sandbox.demo_dirs()

    signalled_console(sandbox, ["demo", "--days", "0.2"], made, "the demo's socket", signum)
    assert sandbox.sockets() == []
    assert sandbox.demo_dirs() == []


@pytest.mark.parametrize("signum", SIGNALS, ids=NAMES)
def test_a_console_reading_snapshots_removes_them(held, sandbox, signum):
    signalled_console(sandbox, ["console"], sandbox.snapshots, "a read-only snapshot", signum)
    assert sandbox.snapshots() == []


@pytest.mark.parametrize("signum", SIGNALS, ids=NAMES)
def test_the_headless_demo_removes_its_socket_and_temp_workspace(sandbox, signum):
    """SIGTERM and SIGINT stop the headless demo after its tick as they always did (exit 0);
    SIGHUP now does the same instead of leaving its socket and workspace behind."""
    demo = Oncall("demo", "--headless", "--days", "0.2", env=sandbox.env(), cwd=sandbox.work)
    try:
        demo.wait_for("demo workspace")
        assert len(sandbox.sockets()) == 1 and len(sandbox.demo_dirs()) == 1
        demo.signal(signum)
        assert demo.exit_code(PROMPT) == 0, demo.output()[-3000:]
    finally:
        demo.stop()
    assert sandbox.sockets() == []
    assert sandbox.demo_dirs() == []
    assert "Traceback" not in demo.output()


def test_a_hangup_ignored_by_nohup_stays_ignored(sandbox):
    demo = Oncall("demo", "--headless", "--days", "0.2", env=sandbox.env(), cwd=sandbox.work, nohup=True)
    try:
        demo.wait_for("demo workspace")
        demo.signal(signal.SIGHUP)
        time.sleep(3)
        assert demo.proc.poll() is None  # still running, socket and all
        assert len(sandbox.sockets()) == 1 and len(sandbox.demo_dirs()) == 1
        demo.signal(signal.SIGTERM)
        assert demo.exit_code(PROMPT) == 0
    finally:
        demo.stop()
    assert sandbox.sockets() == [] and sandbox.demo_dirs() == []


def test_ctrl_c_and_q_in_the_console_behave_as_before(sandbox):
    """In the console Ctrl-C is a key (it says how to quit) and `q` quits, exit 0; the
    socket is removed on that normal exit too."""
    (sandbox.work / "oncall.yaml").write_text("store: s.duckdb\n")
    console = Oncall("console", env=sandbox.env(), cwd=sandbox.work, terminal=True)
    try:
        wait_until(sandbox.sockets, 120, "the console's control socket", console)
        drawn(console)
        console.type(b"\x03")
        console.wait_for("to quit the app")
        assert console.proc.poll() is None and len(sandbox.sockets()) == 1
        console.type(b"q")
        assert console.exit_code(PROMPT) == 0
    finally:
        console.stop()
    assert sandbox.sockets() == []


def test_a_normal_exit_removes_the_temp_workspace_and_keeps_a_given_one(sandbox):
    done = sandbox.oncall("demo", "--headless", "--days", "0.1", "--duration", "1")
    assert done.returncode == 0, done.stderr
    assert sandbox.demo_dirs() == [] and sandbox.sockets() == []
    kept = sandbox.work / "kept"
    done = sandbox.oncall("demo", "--headless", "--days", "0.1", "--duration", "1", "--dir", str(kept))
    assert done.returncode == 0, done.stderr
    assert (kept / "oncall.yaml").is_file() and (kept / "oncall.duckdb").is_file()
    assert sandbox.sockets() == []


# An exit that does not come after the signal (here a `finally` that sleeps; in the console,
# say, a worker stuck in a query): the rest is removed and the process ends anyway.
STUCK = textwrap.dedent("""
    import pathlib, sys, time
    from console.core import cleanup
    cleanup.GRACE = 1
    workspace = pathlib.Path(sys.argv[1])
    workspace.mkdir()
    cleanup.remove_at_exit(workspace, at_signal=False)
    cleanup.install()
    print("ready", flush=True)
    try:
        time.sleep(120)
    finally:
        time.sleep(120)
""")


def test_an_exit_that_does_not_come_is_forced_after_the_grace(tmp_path):
    workspace = tmp_path / "ws"
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(workspace)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(PROMPT) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert not workspace.exists()


def test_a_cleanup_that_fails_is_said_and_the_others_still_run(tmp_path, capsys):
    from console.core import cleanup

    def fails() -> None:
        raise OSError(30, "Read-only file system")

    kept = tmp_path / "kept"
    kept.mkdir()
    first = cleanup.remove_at_exit(kept)
    second = cleanup.at_exit(fails, "the socket /run/x.sock")
    try:
        cleanup.run()
    finally:
        cleanup.forget(first)
        cleanup.forget(second)
    assert not kept.exists()
    assert capsys.readouterr().err == (
        "oncall: could not remove the socket /run/x.sock at exit: [Errno 30] Read-only file system\n"
    )


@pytest.mark.parametrize("signum", SIGNALS, ids=NAMES)
def test_a_signal_during_a_query_on_a_snapshot_exits_with_its_code(held, sandbox, signum):
    """DuckDB turns what the handler raises into "Query interrupted"; the exit still says
    which signal it was, without a traceback, and the snapshot is gone."""
    query = Oncall(
        "query",
        "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b",
        env=sandbox.env(),
        cwd=sandbox.work,
    )
    try:
        wait_until(sandbox.snapshots, 120, "the query's snapshot", query)
        time.sleep(1)  # into the query
        query.signal(signum)
        assert query.exit_code(PROMPT) == 128 + signum, query.output()[-3000:]
    finally:
        query.stop()
    assert sandbox.snapshots() == []
    assert "Traceback" not in query.output()
