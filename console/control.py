"""The store owner's control socket: writing commands from a second `oncall` run there.

Only one process may write the store.  The process that holds it (the console, `oncall
demo`, `oncall collect`) listens on a Unix socket only its user can open; a second
`oncall` whose writing command finds the store held sends its argv there and prints
what the owner answers, so `oncall rollback` works while the console runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import socketserver
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

# The owner's own prints and a forwarded command's captured output never interleave.
OUTPUT_LOCK = threading.RLock()

Runner = Callable[[list[str], dict[str, str]], int]


def socket_path(store_path: str | os.PathLike[str]) -> Path:
    """Where the owner of `store_path` listens (short enough for AF_UNIX)."""
    digest = hashlib.sha256(str(Path(store_path).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"oncall-{os.getuid()}-{digest}.sock"


def emit(text: str) -> None:
    """Print a line from the owner itself, never into a forwarded command's output."""
    with OUTPUT_LOCK:
        stream = sys_stdout()
        stream.write(text + "\n")
        stream.flush()


def sys_stdout() -> Any:
    from console.terminal_text import owner_stdout

    return owner_stdout()


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: ControlServer = self.server.owner  # type: ignore[attr-defined]
        line = self.rfile.readline(1 << 20)
        if not line.strip():
            return                       # a probe (`is_listening`): nothing to run
        try:
            request = json.loads(line)
            argv = [str(a) for a in request["argv"]]
            env = {str(k): str(v) for k, v in (request.get("env") or {}).items()}
            cwd = str(request.get("cwd") or os.getcwd())
        except (ValueError, KeyError, TypeError):
            self._reply({"code": 2, "stdout": "", "stderr": "oncall: bad control request\n"})
            return
        out, err = io.StringIO(), io.StringIO()
        with OUTPUT_LOCK, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                _environ(env), contextlib.chdir(cwd):
            try:
                code = server.runner(argv, env)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception as exc:  # the owner must survive any command
                print(f"oncall: {type(exc).__name__}: {exc}", file=err)
                code = 1
        self._reply({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})

    def _reply(self, payload: dict[str, Any]) -> None:
        try:
            self.wfile.write(json.dumps(payload).encode() + b"\n")
        except OSError:
            pass                         # the caller went away; nothing to tell it


@contextlib.contextmanager
def _environ(env: dict[str, str]):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class ControlServer:
    """Listen for forwarded commands and run them with `runner(argv, env) -> exit code`."""

    def __init__(self, store_path: str | os.PathLike[str], runner: Runner) -> None:
        self.path = socket_path(store_path)
        self.runner = runner
        self._server: _Server | None = None

    def start(self) -> "ControlServer":
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()           # a stale socket: we hold the store, so it is ours
        old_umask = os.umask(0o177)
        try:
            self._server = _Server(str(self.path), _Handler)
        finally:
            os.umask(old_umask)
        self._server.owner = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, name="oncall-control",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


FORWARDED_ENV = ("ONCALL_ACTOR", "USER", "LOGNAME")


def is_listening(store_path: str | os.PathLike[str]) -> bool:
    """Whether the store's owner accepts forwarded commands right now."""
    path = socket_path(store_path)
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def forward(store_path: str | os.PathLike[str], argv: list[str],
            timeout: float = 300) -> dict[str, Any] | None:
    """Run argv in the store's owner; None when no owner listens."""
    path = socket_path(store_path)
    if not path.exists():
        return None
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}).encode()
                         + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None
