"""Helpers of the control-socket security tests: a private runtime dir, a store holder,
squatters bound by (or chowned to) another uid, and processes run as `nobody`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by nobody (the venv's is not)
NOW = datetime(2026, 3, 1, 12, 0)

HOLD_SCRIPT = textwrap.dedent("""
    import sys, time
    from console.store import Store
    store = Store.open(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
""")

# Binds the socket as root (so the file is root's, 0600), then becomes nobody and listens:
# only SO_PEERCRED can tell the listener is not the user's.
NOBODY_LISTENER = textwrap.dedent("""
    import os, socket, sys
    os.umask(0o177)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sys.argv[1])
    os.setgid(65534); os.setuid(65534)
    sock.listen(4)
    print("listening", flush=True)
    sock.settimeout(30)
    received = b""
    try:
        conn, _ = sock.accept()
        conn.settimeout(5)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        pass
    print(f"received {len(received)} bytes: {received[:200]!r}", flush=True)
""")

# Connects as nobody, sends a command, prints the answer.
NOBODY_CLIENT = textwrap.dedent("""
    import json, os, socket, sys
    os.setgid(65534); os.setuid(65534)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(sys.argv[1])
    try:          # the server may refuse and hang up before the request is written
        sock.sendall(json.dumps({"argv": ["incident", "declare", "--title", "x"], "cwd": "/",
                                 "actor": "mallory"}).encode() + b"\\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    while not data.endswith(b"\\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.decode(), end="")
""")


def runtime_dir() -> Path:
    """A short private directory to stand for $XDG_RUNTIME_DIR (AF_UNIX paths are short)."""
    return Path(tempfile.mkdtemp(prefix="oc", dir="/tmp"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=False)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private $XDG_RUNTIME_DIR for one test, with no claimed actor in the environment."""
    path = runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    monkeypatch.delenv("ONCALL_ACTOR", raising=False)
    yield path
    remove(path)


def hold_store(store: Path) -> subprocess.Popen:
    """A process that holds the store's write lock and does not listen."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(store)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


class Squatter:
    """A socket bound at `path` by the test and chowned to nobody; records what arrives."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        os.chown(path, NOBODY, NOBODY)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.received: list[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(65536))
                    conn.sendall(b'{"code": 0, "stdout": "fake ok\\n", "stderr": ""}\n')
                except OSError as exc:
                    self.received.append(f"error {exc}".encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        if self.path.exists():
            self.path.unlink()


def as_nobody(script: str, *args: str, timeout: float = 30) -> subprocess.Popen:
    """Start `script` with the system Python; the script itself drops to nobody."""
    return subprocess.Popen(
        [SYSTEM_PYTHON, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def declare_while_held(workspace: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    """`oncall incident declare` (a title with a secret) typed while another process holds the store."""
    from tests.conftest import run_oncall

    holder = hold_store(workspace / "s.duckdb")
    try:
        return run_oncall(
            "incident",
            "declare",
            "--title",
            "db password is hunter2",
            cwd=workspace,
            env={"XDG_RUNTIME_DIR": str(runtime)},
        )
    finally:
        holder.kill()
        holder.wait()
