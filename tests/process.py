"""Helpers of the file tests: `oncall` run for real in a sandbox of its own (its temp dir,
runtime dir and home), in a terminal of its own when it draws the console, and a walk over
everything it left."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.sock import remove, runtime_dir

NOW = "2026-11-20T12:00:00Z"
USER_UMASK = 0o022  # a usual one, whatever this run's: oncall must not rely on it


@dataclass
class Sandbox:
    """Where an `oncall` may create files: TMPDIR, XDG_RUNTIME_DIR, HOME and a work dir."""

    root: Path
    run: Path  # short: AF_UNIX paths are limited

    @classmethod
    def make(cls, root: Path) -> Sandbox:
        box = cls(root, runtime_dir())
        for name in ("tmp", "home", "work"):
            (root / name).mkdir(mode=0o700)
        return box

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "TMPDIR": str(self.tmp),
            "XDG_RUNTIME_DIR": str(self.run),
            "HOME": str(self.root / "home"),
            "XDG_STATE_HOME": str(self.root / "home" / "state"),
            "ONCALL_NOW": NOW,
            "PYTHONPATH": str(REPO),
            **extra,
        }
        env.pop("ONCALL_ACTOR", None)
        env.pop("ONCALL_WORKSPACE", None)
        return env

    def places(self) -> list[Path]:
        return [self.root, self.run]

    def sockets(self) -> list[Path]:
        return sorted(self.run.glob("oncall/*.sock"))

    def snapshots(self) -> list[Path]:
        return sorted(self.tmp.glob("oncall-snapshot-*"))

    def demo_dirs(self) -> list[Path]:
        return sorted(self.tmp.glob("oncall-demo-*"))

    def oncall(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        """Run `oncall ARGS` to its end, as a user with a usual umask would."""
        return subprocess.run(
            [sys.executable, "-m", "console", *args],
            capture_output=True,
            text=True,
            timeout=180,
            env=self.env(**env),
            cwd=cwd or self.work,
            umask=USER_UMASK,
        )

    def close(self) -> None:
        remove(self.run)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox under the test's tmp_path (import it into a test module to use it)."""
    box = Sandbox.make(tmp_path)
    yield box
    box.close()


def created(places: list[Path], before: set[Path] = frozenset()) -> dict[Path, int]:
    """Every file, socket and directory below `places` (not in `before`), with its mode."""
    found: dict[Path, int] = {}
    for place in places:
        for path in [place, *place.rglob("*")]:
            if path not in before and path not in places:
                found[path] = os.lstat(path).st_mode
    return found


def too_open(places: list[Path], before: set[Path] = frozenset()) -> list[str]:
    """What of `created(places)` others could read or enter: a file or socket with group or
    other bits, a directory that is not 0700."""
    wrong = []
    for path, mode in sorted(created(places, before).items()):
        perms = stat.S_IMODE(mode)
        if (stat.S_ISDIR(mode) and perms != 0o700) or (not stat.S_ISDIR(mode) and perms & 0o077):
            wrong.append(f"{perms:04o} {path}")
    return wrong


def wait_until(condition, timeout: float, what: str, proc: Oncall | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.proc.poll() is not None:
            break
        time.sleep(0.2)
    said = f"; it said:\n{proc.output()[-3000:]}" if proc is not None else ""
    raise AssertionError(f"{what} did not happen within {timeout:g}s{said}")


class Oncall:
    """`oncall ARGS` started as a user starts it; with `terminal`, in a pseudo-terminal of
    120x40 (the console needs one), its screen output drained and kept."""

    def __init__(
        self, *args: str, env: dict[str, str], cwd: Path, terminal: bool = False, nohup: bool = False
    ) -> None:
        argv = [sys.executable, "-m", "console", *args]
        ignore_hup = (lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if nohup else None
        self._chunks: list[bytes] = []
        self._done = threading.Event()
        if terminal:
            # The test keeps the terminal's other end open too: when the process exits, what
            # it wrote last (giving the terminal back) is still read, not lost to a hangup.
            self._master, self._child = pty.openpty()
            fcntl.ioctl(self._child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            self.proc = subprocess.Popen(
                argv,
                stdin=self._child,
                stdout=self._child,
                stderr=self._child,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=ignore_hup,
                umask=USER_UMASK,
            )
            self._drain = threading.Thread(target=self._drain_terminal, daemon=True)
        else:
            self._master = self._child = None
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                preexec_fn=ignore_hup,
                umask=USER_UMASK,
            )
            self._drain = threading.Thread(target=self._drain_pipe, daemon=True)
        self._drain.start()

    def _drain_terminal(self) -> None:
        """Read until the process has exited and nothing more came for half a second."""
        while True:
            ready, _, _ = select.select([self._master], [], [], 0.5)
            if ready:
                self._chunks.append(os.read(self._master, 65536))
            elif self._done.is_set():
                return

    def _drain_pipe(self) -> None:
        for data in iter(lambda: self.proc.stdout.read1(65536), b""):
            self._chunks.append(data)

    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def screen_text(self) -> str:
        """What it drew, without the escape sequences."""
        return re.sub(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])", "", self.output())

    def wait_for(self, text: str, timeout: float = 120) -> None:
        wait_until(
            lambda: text in self.output() or text in self.screen_text(), timeout, f"{text!r} shown", self
        )

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def exit_code(self, timeout: float) -> int:
        """The exit code, once it has exited (within `timeout` seconds, else AssertionError)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {timeout:g}s later; it said:\n{self.output()[-3000:]}"
            ) from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._done.set()
        self._drain.join(10)
        if self._master is not None and not self._drain.is_alive():
            os.close(self._master)
            os.close(self._child)
            self._master = self._child = None
