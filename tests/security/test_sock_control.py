"""Nothing outside can act as the console: the control socket's directory, file and both
peers are checked (issue 14, point 1). Runs as root; `nobody` plays the other local user."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from console.runtime.control import ControlError, ControlServer, forward, is_listening, socket_path
from console.runtime.session import Session
from console.store import Store
from tests.conftest import run_oncall
from tests.sock import (
    NOBODY,
    NOBODY_CLIENT,
    NOBODY_LISTENER,
    NOW,
    Squatter,
    as_nobody,
    declare_while_held,
    hold_store,
)

# Outside CI a non-root developer may skip these; in CI (run as root) they always run, and
# would fail rather than skip if CI ever ran as another user.
pytestmark = pytest.mark.skipif(
    os.getuid() != 0 and not os.environ.get("CI"), reason="needs root to play another uid"
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    with Store.open(tmp_path / "s.duckdb"):
        pass
    return tmp_path


def _env(runtime: Path) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(runtime)}


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_socket_lives_in_a_private_directory_and_is_0600(runtime, workspace):
    session = Session(_load(workspace), clock=lambda: NOW, run_engine=False)
    try:
        path = session.control.path
        assert path.parent == runtime / "oncall"
        assert stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        assert os.lstat(path).st_uid == os.getuid()
        assert is_listening(workspace / "s.duckdb")
    finally:
        session.close()
    assert not path.exists()
    session.control.stop()  # a second stop is harmless


def test_without_xdg_runtime_dir_the_socket_is_under_the_state_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert socket_path(tmp_path / "s.duckdb").parent == tmp_path / "state" / "oncall" / "run"
    theirs = tmp_path / "theirs"  # e.g. `sudo` kept another user's runtime dir
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(theirs))
    assert socket_path(tmp_path / "s.duckdb").parent == tmp_path / "state" / "oncall" / "run"


def test_client_refuses_a_socket_of_another_uid_and_sends_nothing(runtime, workspace):
    squatter = Squatter(socket_path(workspace / "s.duckdb"))
    try:
        result = declare_while_held(workspace, runtime)
    finally:
        squatter.close()
    assert result.returncode == 2 and result.stdout == ""
    line = _one_line(result)
    assert "not forwarding" in line and f"belongs to nobody (uid {NOBODY})" in line
    assert squatter.connections == 0 and squatter.received == []


def test_client_refuses_a_listener_of_another_uid_behind_a_socket_file_of_ours(runtime, workspace):
    path = socket_path(workspace / "s.duckdb")
    path.parent.mkdir(mode=0o700)
    listener = as_nobody(NOBODY_LISTENER, str(path))
    assert listener.stdout.readline().strip() == "listening"
    assert os.lstat(path).st_uid == os.getuid()  # the file looks like ours
    result = declare_while_held(workspace, runtime)
    out, _ = listener.communicate(timeout=30)
    path.unlink()
    assert result.returncode == 2 and result.stdout == ""
    line = _one_line(result)
    assert f"runs as nobody (uid {NOBODY}), not you" in line
    assert "received 0 bytes" in out  # connected, checked, hung up: nothing sent


def test_the_console_starts_without_the_socket_when_its_path_is_squatted(runtime, workspace):
    squatter = Squatter(socket_path(workspace / "s.duckdb"))
    try:
        session = Session(_load(workspace), clock=lambda: NOW, run_engine=False)
        try:
            assert session.owner and session.control is None
            [line] = [b for b in session.banner_lines() if "control socket" in b]
            assert "belongs to nobody" in line and "cannot run in this console" in line
        finally:
            session.close()
        assert squatter.path.exists()  # not ours: left where it is
    finally:
        squatter.close()


def test_oncall_demo_still_runs_when_its_socket_path_is_squatted(runtime, tmp_path):
    demo = tmp_path / "demo"
    store = demo / "oncall.duckdb"
    squatter = Squatter(socket_path(store))
    try:
        result = run_oncall(
            "demo",
            "--headless",
            "--dir",
            str(demo),
            "--days",
            "0.05",
            "--duration",
            "2",
            "--speed",
            "60",
            env=_env(runtime),
            timeout=180,
        )
    finally:
        squatter.close()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [out for out in result.stderr.splitlines() if "control socket" in out]
    assert "belongs to nobody" in line
    assert squatter.connections == 0


@pytest.mark.parametrize("how", ["mode 755", "owned by nobody"])
def test_an_unsafe_socket_directory_is_refused_by_client_and_server(runtime, workspace, how):
    directory = runtime / "oncall"
    directory.mkdir(mode=0o700)
    if how == "mode 755":
        directory.chmod(0o755)
        expected = "has mode 755"
    else:
        os.chown(directory, NOBODY, NOBODY)
        expected = "belongs to nobody"
    with pytest.raises(ControlError, match=expected):
        forward(workspace / "s.duckdb", ["incident", "list"])
    session = Session(_load(workspace), clock=lambda: NOW, run_engine=False)
    try:
        assert session.control is None
        assert any(expected in line for line in session.banner_lines())
    finally:
        session.close()
    holder = hold_store(workspace / "s.duckdb")
    try:
        write = run_oncall("incident", "declare", "--title", "t", cwd=workspace, env=_env(runtime))
        read = run_oncall("incident", "list", cwd=workspace, env=_env(runtime))
    finally:
        holder.kill()
        holder.wait()
    assert write.returncode == 2 and expected in _one_line(write)
    assert read.returncode == 0  # reads go on from a snapshot
    assert any(expected in line for line in read.stderr.splitlines())
    assert "Traceback" not in read.stderr


def test_the_server_refuses_a_client_of_another_uid_and_runs_nothing(runtime, workspace):
    calls: list[tuple[list[str], object]] = []

    def runner(argv, caller):
        calls.append((argv, caller))
        print("ran")
        return 0

    server = ControlServer(workspace / "s.duckdb", runner).start()
    try:
        runtime.chmod(0o711)  # for this test only: let nobody reach the socket
        server.path.parent.chmod(0o711)
        server.path.chmod(0o666)
        client = as_nobody(NOBODY_CLIENT, str(server.path))
        out, err = client.communicate(timeout=30)
        assert client.returncode == 0, err
        assert "refused" in out and "ran" not in out
        assert calls == []
        server.path.parent.chmod(0o700)
        server.path.chmod(0o600)
        answer = forward(workspace / "s.duckdb", ["incident", "list"])  # our own uid: runs
        assert answer["stdout"] == "ran\n" and calls[0][1].uid == os.getuid()
    finally:
        server.stop()


def test_only_argv_cwd_and_the_claimed_actor_are_forwarded(runtime, workspace, monkeypatch):
    seen: list[tuple[list[str], object, dict[str, str]]] = []

    def runner(argv, caller):
        seen.append((argv, caller, dict(os.environ)))
        return 0

    monkeypatch.setenv("ONCALL_ACTOR", "alice")
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t")
    server = ControlServer(workspace / "s.duckdb", runner).start()
    try:
        monkeypatch.delenv("ONCALL_ACTOR")
        monkeypatch.delenv("SECRET_TOKEN")
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from console.runtime.control import forward; import sys; "
                f"print(forward({str(workspace / 's.duckdb')!r}, ['incident', 'list']))",
            ],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "ONCALL_ACTOR": "alice", "SECRET_TOKEN": "s3cr3t"},
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    [(argv, caller, environ)] = seen
    assert argv == ["incident", "list"] and caller.claim == "alice" and caller.uid == os.getuid()
    assert "SECRET_TOKEN" not in environ and "ONCALL_ACTOR" not in environ


def _load(root: Path):
    from console.config.workspace import load_workspace

    return load_workspace(root / "oncall.yaml")
