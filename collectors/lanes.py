"""Lanes: each source runs in its own thread, one run at a time, so a slow source delays
nobody else.  A run that would start while the source's previous run is still going is
skipped and counted in the source's health (`collector_state.runs_skipped`).

Lanes are per store and per process: the console's engine, `oncall collect` and a
forwarded `collect --once NAME` running inside the console share them, so one source
never runs twice at once over the same store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING

from collectors.run import RunOutcome, run_once

if TYPE_CHECKING:
    from collectors.base import Collector
    from console.store import Store

ONCE_PARALLEL = 8  # `collect --once` runs at most this many sources at a time
SKIPPED = "skipped: the previous run of this source is still going"

_RUNNING: dict[tuple[str, str], threading.Thread] = {}
_LOCK = threading.Lock()
_log = logging.getLogger("oncall.collectors")


def record_skipped(store: Store, name: str, now: datetime) -> None:
    """Count one skipped run of `name` (its previous run was still going)."""
    with store.transaction() as cur:
        cur.execute(
            """
            INSERT INTO collector_state (name, runs_skipped, last_skipped_at, updated_at)
            VALUES (?, 1, ?, ?)
            ON CONFLICT (name) DO UPDATE SET
                runs_skipped = coalesce(collector_state.runs_skipped, 0) + 1,
                last_skipped_at = excluded.last_skipped_at
            """,
            [name, now, now],
        )


def skipped_text(count: int | None) -> str:
    """How `collect --status` says a source's skipped runs (JSON adds when the last was)."""
    if not count:
        return ""
    return f"{count} run{'s' if count != 1 else ''} skipped: previous run still going"


class Lanes:
    """Start runs of a store's sources, each in its own thread, at most one per source."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._key = str(getattr(store, "path", id(store)))

    def busy(self, name: str) -> bool:
        with _LOCK:
            thread = _RUNNING.get((self._key, name))
            return thread is not None and thread.is_alive()

    def start(
        self,
        collector: Collector,
        now: datetime,
        *,
        after: Callable[[Collector, RunOutcome], None] | None = None,
        gate: threading.Semaphore | None = None,
    ) -> Future[RunOutcome] | None:
        """Run `collector` once in its lane; None (and the skip counted) if it is still running.

        The future has the outcome when the run ends, or earlier when it overruns its
        deadline (the lane stays busy until the run really ends).  `after(collector, outcome)`
        runs in the lane when the run ends; `gate` bounds how many runs go at once."""
        key = (self._key, collector.name)
        result: Future[RunOutcome] = Future()

        def settle(outcome: RunOutcome) -> None:
            if not result.done():
                result.set_result(outcome)

        def lane() -> None:
            try:
                if gate is not None:
                    gate.acquire()
                try:
                    outcome = run_once(self.store, collector, now, on_overdue=settle)
                finally:
                    if gate is not None:
                        gate.release()
                settle(outcome)
                if after is not None:
                    after(collector, outcome)
            except BaseException as exc:  # noqa: BLE001 - run_once never raises; `after` might: logged, the future settled
                _log.error("collector %s: after its run: %s: %s", collector.name, type(exc).__name__, exc)
                if not result.done():
                    result.set_exception(exc)
            finally:
                with _LOCK:
                    if _RUNNING.get(key) is threading.current_thread():
                        del _RUNNING[key]

        with _LOCK:
            running = _RUNNING.get(key)
            if running is None or not running.is_alive():
                thread = threading.Thread(target=lane, name=f"oncall-lane-{collector.name}", daemon=True)
                _RUNNING[key] = thread
                thread.start()
                return result
        self.skipped(collector.name, now)
        return None

    def skipped(self, name: str, now: datetime) -> None:
        """Count a skipped run; a store that cannot take the count is said, once a skip."""
        try:
            record_skipped(self.store, name, now)
        except Exception as exc:  # noqa: BLE001 - the lanes carry on; the line says what failed
            _log.warning(
                "collector %s: a skipped run could not be counted in the store: %s: %s",
                name,
                type(exc).__name__,
                exc,
            )

    def wait_idle(self, names: list[str], timeout: float) -> list[str]:
        """Wait up to `timeout` s for the named sources' runs to end; those still running."""
        ends = time.monotonic() + timeout
        for name in names:
            with _LOCK:
                thread = _RUNNING.get((self._key, name))
            if thread is not None:
                thread.join(max(0.0, ends - time.monotonic()))
        return [name for name in names if self.busy(name)]


def phases(collectors: Sequence[Collector]) -> list[list[Collector]]:
    """The sources, then the collectors that evaluate what the sources stored (drift)."""
    first = [c for c in collectors if not getattr(c, "evaluates", False)]
    then = [c for c in collectors if getattr(c, "evaluates", False)]
    return [phase for phase in (first, then) if phase]


def run_all(
    store: Store, collectors: Sequence[Collector], now: datetime, limit: int = ONCE_PARALLEL
) -> list[RunOutcome]:
    """Run each collector once, at most `limit` at a time, each in its lane; outcomes in order.

    Evaluating collectors start once the sources' runs have ended. A source whose previous
    run is still going (e.g. the console's) is skipped and says so."""
    lanes, gate = Lanes(store), threading.BoundedSemaphore(max(1, limit))
    outcomes: dict[str, RunOutcome] = {}
    for phase in phases(collectors):
        started = [(c, lanes.start(c, now, gate=gate)) for c in phase]
        for c, future in started:
            outcomes[c.name] = (
                future.result()
                if future is not None
                else RunOutcome(c.name, False, error=SKIPPED, skipped=True, at=now)
            )
    return [outcomes[c.name] for c in collectors]
