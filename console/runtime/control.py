"""The store owner's control socket: writing commands from a second `oncall` run there.

Only one process may write the store.  The process that holds it (the console, `oncall
demo`) listens on a Unix socket in a private directory of its user; a second `oncall`
whose writing command finds the store held sends its argv there and prints what the
owner answers, so `oncall rollback` works while the console runs.

Who may talk to a console: only processes of the console's own uid.  The directory is
`$XDG_RUNTIME_DIR/oncall` (else `oncall/run` under the state home), 0700 and ours; the
socket is 0600 and ours.  Both ends ask the kernel who is at the other end (SO_PEERCRED):
the client sends nothing to a listener of another uid, the server answers a client of
another uid with a refusal and runs nothing.  Only argv, the cwd and the claimed actor
($ONCALL_ACTOR) are sent, never the environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import socketserver
import stat
import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.core import cleanup
from console.core.identity import Caller, account_name, clean_claim

if TYPE_CHECKING:
    from console.core.terminal import SafeStream

# The owner's own lines (`emit`) are written whole, one at a time.  They go to the process's
# real stdout, which a forwarded command's capture does not touch, so they never wait for one.
OUTPUT_LOCK = threading.RLock()
# Forwarded commands run one at a time: their capture and working directory are process-wide.
FORWARD_LOCK = threading.Lock()
BUSY_WAIT = 5.0  # seconds a forwarded command waits for the one running before it is told "busy"
EX_TEMPFAIL = 75
_running: dict[str, str] = {}  # what the forwarded command running now is, for the "busy" answer

Runner = Callable[[list[str], Caller], int]

REQUEST_LIMIT = 1 << 20
CONNECT_TIMEOUT = 5.0
SUN_PATH_MAX = 107  # sockaddr_un.sun_path less its terminating NUL
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
REFUSAL = {
    "code": 2,
    "stdout": "",
    "stderr": "oncall: refused: this console takes commands only from its own user\n",
}


class ControlError(Exception):
    """The control socket cannot be used safely; the message is one line saying what to do."""


class ControlTimeout(ControlError):
    """The owner took a forwarded command and did not answer in time."""


def socket_dir() -> Path:
    """This user's private directory of control sockets (not created here)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and _is_own_dir(runtime):
        return Path(runtime) / "oncall"
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "oncall" / "run"


def _is_own_dir(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def socket_path(store_path: str | os.PathLike[str]) -> Path:
    """Where the owner of `store_path` listens."""
    digest = hashlib.sha256(str(Path(store_path).resolve()).encode()).hexdigest()[:16]
    path = socket_dir() / f"{digest}.sock"
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise ControlError(
            f"control socket path {path} is too long for a Unix socket; set "
            "XDG_RUNTIME_DIR to a shorter directory of yours"
        )
    return path


def _not_ours(path: Path, st: os.stat_result, what: str) -> str | None:
    """Why `path` is unsafe to use (another owner, group/other bits), or None."""
    me = os.getuid()
    if st.st_uid != me:
        return (
            f"{what} {path} belongs to {account_name(st.st_uid)} (uid {st.st_uid}), "
            f"not you ({account_name(me)})"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return f"{what} {path} has mode {mode:o}: others may use it"
    return None


def check_dir(path: Path) -> None:
    """Refuse a socket directory that is not a real directory of ours with mode 0700."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise ControlError(f"control socket directory {path} is not a directory; not using it (remove it)")
    problem = _not_ours(path, st, "control socket directory")
    if problem:
        raise ControlError(f"{problem}; not using it (remove it, or `chmod 700` it if it is yours)")


def check_socket(path: Path) -> None:
    """Refuse a socket file that is not a socket of ours with mode 0600."""
    st = os.lstat(path)
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError(f"control socket {path} is not a socket; not using it (remove it)")
    problem = _not_ours(path, st, "control socket")
    if problem:
        raise ControlError(f"{problem}; not using it (remove it if no console of yours runs)")


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket, from the kernel."""
    pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return pid, uid


def emit(text: str) -> None:
    """Print a line from the owner itself, never into a forwarded command's output."""
    with OUTPUT_LOCK:
        stream = sys_stdout()
        stream.write(text + "\n")
        stream.flush()


def sys_stdout() -> SafeStream:
    from console.core.terminal import owner_stdout

    return owner_stdout()


def _parse_request(line: bytes) -> tuple[list[str], str, str | None]:
    """argv, cwd and the claimed actor of a forwarded command; ValueError when malformed."""
    try:
        request = json.loads(line)
        argv, cwd, claim = request["argv"], request["cwd"], request.get("actor")
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a control request") from None
    _check_request(argv, cwd, claim)
    return argv, cwd, clean_claim(claim)


def _check_request(argv: Any, cwd: Any, claim: Any) -> None:
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv is not a list of strings")
    if not (isinstance(cwd, str) and os.path.isabs(cwd)):
        raise ValueError("cwd is not an absolute path")
    if claim is not None and not isinstance(claim, str):
        raise ValueError("actor is not a string")


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: ControlServer = self.server.owner  # type: ignore[attr-defined]
        pid, uid = peer_credentials(self.request)
        if uid != os.getuid():
            self._reply(REFUSAL)  # nothing read, nothing run
            return
        line = self.rfile.readline(REQUEST_LIMIT)
        if not line.strip():
            return  # a probe (`is_listening`): nothing to run
        try:
            argv, cwd, claim = _parse_request(line)
        except ValueError as exc:
            self._reply({"code": 2, "stdout": "", "stderr": f"oncall: bad control request: {exc}\n"})
            return
        self._reply(_run(server.runner, argv, cwd, Caller(uid=uid, pid=pid, claim=claim)))

    def _reply(self, payload: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(json.dumps(payload).encode() + b"\n")  # else the caller is gone


def _run(runner: Runner, argv: list[str], cwd: str, caller: Caller) -> dict[str, Any]:
    """Run one forwarded command with its output captured (one at a time; a command that
    finds another running for longer than BUSY_WAIT is told so, and nothing runs)."""
    if not FORWARD_LOCK.acquire(timeout=BUSY_WAIT):
        return _busy()
    try:
        _running.update(command=_command_text(argv), since=f"{datetime.now(UTC):%H:%M:%S} UTC")
        return _captured(runner, argv, cwd, caller)
    finally:
        _running.clear()
        FORWARD_LOCK.release()


def _command_text(argv: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")][:3]  # the verb, not its values
    return " ".join(["oncall", *words])


def _busy() -> dict[str, Any]:
    running = dict(_running)
    doing = f"`{running['command']}` (since {running['since']})" if running else "another command"
    return {
        "code": EX_TEMPFAIL,
        "stdout": "",
        "stderr": f"oncall: the console is busy running {doing} for another terminal; nothing was "
        "run: try again when it finishes, or run this in that console\n",
    }


def _captured(runner: Runner, argv: list[str], cwd: str, caller: Caller) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with contextlib.chdir(cwd):
                code = runner(argv, caller)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - the owner must survive any command; the caller is told
            print(f"oncall: {type(exc).__name__}: {exc}", file=err)
            code = 1
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _ensure_dir(path: Path) -> None:
    """Create the private socket directory (0700) if needed; refuse it if it is not ours."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ControlError(
            f"cannot create control socket directory {path}: {exc.strerror}; not listening"
        ) from None
    check_dir(path)


def _clear_stale(path: Path) -> None:
    """Remove a socket of ours left by an owner that died; refuse anything else in the way."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not (stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()):
        check_socket(path)  # raises: says whose it is or what it is
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # we hold the store: no owner of ours listens there


class ControlServer:
    """Listen for forwarded commands and run them with `runner(argv, caller) -> exit code`."""

    def __init__(self, store_path: str | os.PathLike[str], runner: Runner) -> None:
        self.path = socket_path(store_path)
        self.runner = runner
        self._server: _Server | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket we made
        self._cleanup: int | None = None

    def start(self) -> ControlServer:
        """Listen; ControlError (one line) when the directory or the path is not safely ours."""
        _ensure_dir(self.path.parent)
        _clear_stale(self.path)
        old_umask = os.umask(0o177)  # the socket is created 0600
        try:
            server = _Server(str(self.path), _Handler)
        except OSError as exc:
            raise ControlError(f"control socket {self.path}: {exc.strerror}; not listening") from None
        finally:
            os.umask(old_umask)
        st = os.lstat(self.path)
        self._bound = (st.st_dev, st.st_ino)
        self._cleanup = cleanup.at_exit(self.stop, f"control socket {self.path}")  # and on SIGTERM…
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, name="oncall-control", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and remove our socket; idempotent, and safe from a signal handler."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        bound = self._bound
        if bound is not None:
            self._unlink(bound)
            self._bound = None  # only once removed: a signal in between unlinks too
        cleanup.forget(self._cleanup)  # last: a signal before this point runs stop again

    def _unlink(self, bound: tuple[int, int]) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == bound:  # never remove what someone else put there
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _find(store_path: str | os.PathLike[str]) -> Path | None:
    """The owner's socket if there is one; ControlError when its directory or file is unsafe."""
    path = socket_path(store_path)
    try:
        check_dir(path.parent)
        check_socket(path)
    except FileNotFoundError:
        return None
    return path


def _connect(path: Path, timeout: float) -> socket.socket:
    """Connect to `path` and make sure the listener runs as us; ControlError if not."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        _pid, uid = peer_credentials(sock)
    except OSError:
        sock.close()
        raise
    if uid != os.getuid():
        sock.close()
        raise ControlError(
            f"the process listening on {path} runs as {account_name(uid)} "
            f"(uid {uid}), not you ({account_name(os.getuid())}); not using it"
        )
    return sock


def is_listening(store_path: str | os.PathLike[str]) -> bool:
    """Whether the store's owner accepts forwarded commands right now (ControlError: unsafe)."""
    path = _find(store_path)
    if path is None:
        return False
    try:
        _connect(path, 2).close()
    except OSError:
        return False
    return True


def forward(
    store_path: str | os.PathLike[str], argv: list[str], timeout: float | None = None
) -> dict[str, Any] | None:
    """Run argv in the store's owner; None when no owner listens, ControlError when unsafe or
    when the owner took the command and did not answer within `timeout` seconds (default: as
    long as the command runs there, as if it ran here)."""
    path = _find(store_path)
    if path is None:
        return None
    request = {"argv": argv, "cwd": os.getcwd(), "actor": clean_claim(os.environ.get("ONCALL_ACTOR"))}
    try:
        sock = _connect(path, CONNECT_TIMEOUT)
    except OSError:
        return None
    with sock:
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.settimeout(timeout)
            data = _read_line(sock)
        except TimeoutError:
            raise ControlTimeout(
                f"the console took the command but gave no answer within {timeout:g} s; it may still "
                "be running there (see its audit log)"
            ) from None
        except OSError:
            return None
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
