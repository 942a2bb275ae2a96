"""Live: the console hears the other consoles' writes (`LISTEN oncall`) and says what changed.

Every writing transaction on the team database sends `NOTIFY oncall, 'table1,table2'`
(console/team/shared.py).  `Listener` keeps one dedicated autocommit connection listening on
that channel in a daemon thread; each notification bumps `generation` and calls the subscribed
callbacks with the set of tables it names.  A lost connection is opened again with a bounded
backoff; since notifications sent while it was down are gone, every (re)connection is reported
as `EVERYTHING` changed: a missed NOTIFY never leaves a screen stale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console.store.shared import SHARED_TABLES
from console.team.shared import CHANNEL

if TYPE_CHECKING:
    import psycopg

    from console.team.backend import TeamBackend

Callback = Callable[[frozenset[str]], None]
EVERYTHING = frozenset(SHARED_TABLES)  # after a (re)connection: anything may have changed
WAIT = 0.5  # seconds one `notifies()` waits: how soon `stop()` is noticed
BACKOFF = (0.1, 5.0)  # the first retry after a failure, and the longest wait between retries


class Listener:
    """`LISTEN oncall` on its own connection in a daemon thread; callbacks run in that thread."""

    def __init__(self, backend: TeamBackend, *, wait: float = WAIT, backoff: tuple[float, float] = BACKOFF):
        self.backend = backend
        self.wait, self.backoff = wait, backoff
        self.generation = 0  # bumped on each notification and each (re)connection
        self.connections = 0  # how many times LISTEN was set up
        self.problem: str | None = None  # why it does not listen right now (one line, DSN masked)
        self.callback_errors: list[BaseException] = []  # the last few, kept for whoever shows them
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._con: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None

    # -- the console's side -------------------------------------------------------------

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(tables)` on each change; returns the function that unsubscribes it."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def start(self) -> Listener:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="oncall-team-listen", daemon=True)
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_listening(self, timeout: float) -> bool:
        """Whether LISTEN is in place within `timeout` seconds."""
        return self._listening.wait(timeout)

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (None while disconnected)."""
        con = self._con
        return con.info.backend_pid if con is not None and not con.closed else None

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening and wait for the thread (at most `timeout`: a connection attempt in
        progress ends within libpq's connect_timeout)."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return
        if timeout is None:
            timeout = self.wait + self.backend.config.connect_timeout.total_seconds() + 5
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the team listener did not stop within {timeout:.0f} s")

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            listened = self.connections
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - kept in `problem`, retried after a pause
                self.problem = self._line(exc)
            finally:
                self._listening.clear()
                self._close()
            if self.connections != listened:
                delay = self.backoff[0]  # it had worked: the first retry comes soon
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff[1])

    def _listen(self) -> None:
        """Connect, LISTEN, report everything changed, then deliver notifications until stopped
        or the connection fails (raises)."""
        import psycopg

        con = psycopg.connect(**self.backend.connect_args(autocommit=True))
        self._con = con
        if self._stop.is_set():
            return
        con.execute(f"LISTEN {CHANNEL}")
        self.connections += 1
        self.problem = None
        self._listening.set()
        self._deliver(EVERYTHING)  # what was sent while nobody listened is lost
        while not self._stop.is_set():
            for note in con.notifies(timeout=self.wait):
                self._deliver(frozenset(t for t in note.payload.split(",") if t) or EVERYTHING)
                if self._stop.is_set():
                    return

    def _deliver(self, tables: frozenset[str]) -> None:
        with self._lock:
            self.generation += 1
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(tables)
            except Exception as exc:  # noqa: BLE001 - one subscriber's failure must not stop the others
                self.callback_errors = [*self.callback_errors[-9:], exc]

    def _close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            con.close()

    def _line(self, exc: BaseException) -> str:
        text = self.backend.dsn.redact(exc) or type(exc).__name__
        return f"team database {self.backend.where}: not listening for changes: {text}"


def start_listener(shared: Any) -> Listener | None:
    """A started listener when `shared` is the team database (kind "team"); None otherwise."""
    if getattr(shared, "kind", None) != "team":
        return None
    return Listener(shared.backend).start()
