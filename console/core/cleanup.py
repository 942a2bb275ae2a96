"""What oncall removes when it exits, however it exits: normally, or on SIGTERM, SIGINT, SIGHUP.

Read-only snapshots and the control socket are registered here while they exist and removed
in the signal handler itself; what is registered with `at_signal=False` (the demo's temporary
workspace, which holds the open store) goes when the process exits right after.  The handler
then does what the signal did before oncall installed it: a handler of the program's own is
called (SIGINT's raises KeyboardInterrupt, exit 130), the default action becomes
`SystemExit(128 + signum)`, so `finally` blocks close the store and the console gives the
terminal back.  DuckDB turns an exception raised while it runs a query into its own
("Query interrupted"): `exit_code()` tells the CLI the process is exiting on a signal all
the same.  A signal that was ignored (`nohup`) stays ignored.  Should the exit not come
within GRACE seconds (a worker stuck in a query), what is left is removed and the process
ends with that code.

Loops that stop gently on a signal (`oncall collect`, `oncall demo --headless`) use
`stop_on_signals` instead: no exception is raised into their work.  The console runs inside
`exit_via(app.exit)`: the handler asks its event loop to close the app (which gives the
terminal back) rather than raising into whatever the loop was doing.

Callbacks must be idempotent: one interrupted by a signal runs again from the handler.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE = 20.0

# key -> (callback, what it removes, whether it runs in the signal handler); dict operations
# are atomic, so the handler may run between any two of them without a lock.
_pending: dict[int, tuple[Callable[[], None], str, bool]] = {}
_keys = itertools.count(1)
_previous: dict[int, Any] = {}
_installed = False
_watchdog: threading.Timer | None = None
_exit_code: int | None = None  # 128 + signum once a signal makes the process exit
_loop_exit: Callable[[int], Any] | None = None  # how the running event loop's app exits


def at_exit(callback: Callable[[], None], what: str, *, at_signal: bool = True) -> int:
    """Run `callback` (removing `what`) at exit, and in a signal handler if `at_signal`;
    returns the key for `now` and `forget`."""
    key = next(_keys)
    _pending[key] = (callback, what, at_signal)
    return key


def remove_at_exit(path: str | os.PathLike[str], *, at_signal: bool = True) -> int:
    """Remove the file or directory tree `path` at exit (see `at_exit`)."""
    target = Path(path)
    return at_exit(lambda: _remove(target), str(target), at_signal=at_signal)


def now(key: int | None) -> None:
    """Run one registered callback now, if it has not run yet, and forget it."""
    entry = _pending.get(key) if key is not None else None
    if key is not None and entry is not None:
        _run_one(key, entry)


def forget(key: int | None) -> None:
    """Nothing to do at exit for `key` any more (its owner removed it)."""
    if key is not None:
        _pending.pop(key, None)


def run(*, signal_only: bool = False) -> None:
    """Run what is registered, newest first (with `signal_only`, what runs in the handler)."""
    for key, entry in sorted(_pending.items(), reverse=True):
        if entry[2] or not signal_only:
            _run_one(key, entry)


def _run_one(key: int, entry: tuple[Callable[[], None], str, bool]) -> None:
    callback, what, _ = entry
    try:
        callback()
    except Exception as exc:  # noqa: BLE001 - one that fails must not keep the others: said, then the next
        from console.core.private import say

        say(f"could not remove {what} at exit: {exc}")
    _pending.pop(key, None)  # only once done: a signal in the middle runs it again


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass  # gone already (removed by whoever ran first)


def install() -> None:
    """Run `run()` at exit and install the signal handlers (main thread only; once)."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(run)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
            continue
        _previous[signum] = previous
        signal.signal(signum, _handle)


def exit_code() -> int | None:
    """128 + the signal's number once a signal is making the process exit, else None."""
    return _exit_code


def stop_on_signals(stop: Callable[[], None]) -> Callable[[], None]:
    """Make SIGTERM, SIGINT and SIGHUP (those not ignored) call `stop` instead; returns what
    puts the previous handlers back.  Outside the main thread (a forwarded command) signals
    are the owner's: nothing changes."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            signum: signal.signal(signum, lambda *_: stop())
            for signum in SIGNALS
            if signal.getsignal(signum) != signal.SIG_IGN
        }

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


@contextlib.contextmanager
def exit_via(exit_app: Callable[[int], Any]) -> Iterator[None]:
    """While the block runs an event loop (the console), a signal calls `exit_app(code)` in
    that loop instead of raising; the process then exits with the signal's code."""
    global _loop_exit
    previous, _loop_exit = _loop_exit, exit_app
    try:
        yield
    finally:
        _loop_exit = previous


def _handle(signum: int, frame: Any) -> None:
    global _exit_code
    run(signal_only=True)
    previous = _previous.get(signum)
    if callable(previous) and previous is not signal.default_int_handler:
        previous(signum, frame)  # the program's own handler
        return
    code = 128 + signum
    _exit_code = _exit_code or code
    _arm_watchdog(code)
    if _loop_exit is not None and _call_in_loop(_loop_exit, code):
        return
    if callable(previous):
        previous(signum, frame)  # SIGINT's default: KeyboardInterrupt
    raise SystemExit(code)


def _call_in_loop(exit_app: Callable[[int], Any], code: int) -> bool:
    """Schedule `exit_app(code)` in this thread's running event loop; False if none runs."""
    asyncio = sys.modules.get("asyncio")
    try:
        loop = asyncio.get_running_loop() if asyncio is not None else None
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        return False
    loop.call_soon_threadsafe(exit_app, code)
    return True


def _arm_watchdog(code: int) -> None:
    global _watchdog
    if _watchdog is None:
        _watchdog = threading.Timer(GRACE, _last_resort, (code,))
        _watchdog.daemon = True
        _watchdog.start()


def _last_resort(code: int) -> None:
    run()
    os._exit(code)
