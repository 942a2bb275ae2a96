"""One guarded run of a collector: within its deadline, its health recorded, never raising.

The scheduler (`collectors.scheduler`) and the lanes (`collectors.lanes`) both start runs here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from collectors.base import Collector, CollectResult, SourceError, keep_refused, record_health
from collectors.deadline import Deadline, DeadlineExceeded, deadline_seconds, in_force
from collectors.validate import Refusals
from console.core.secrets import redact

if TYPE_CHECKING:
    from console.store import Store

GRACE = 1.0  # seconds past its deadline before a run that ignores it is marked down


@dataclass
class RunOutcome:
    """How one run of one collector went."""

    name: str
    ok: bool
    rows: int = 0
    error: str | None = None
    seconds: float = 0.0
    at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False  # not run: the source's previous run was still going
    refused: list[dict[str, Any]] = field(default_factory=list)  # by reason, with `text`


def describe(exc: BaseException) -> str:
    """One line a user can read: a SourceError's own text, otherwise type and message.

    Secrets are taken out (URLs masked, configured secret values redacted)."""
    if isinstance(exc, SourceError):
        return redact(str(exc))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__)


def _record(store: Store, outcome: RunOutcome, now: datetime, collector: Collector | None = None) -> None:
    try:
        if collector is not None:  # what the run refused, kept with its health
            outcome.refused = keep_refused(store, collector, now)
        record_health(store, outcome.name, outcome.ok, now, outcome.error)
    except Exception as exc:  # noqa: BLE001 - the store itself failed: say so, still never raise
        outcome.ok, outcome.error = False, f"recording health failed: {describe(exc)}"


class _Watchdog:
    """Marks a run down when it is still going `GRACE` s past its deadline (a collector that
    blocks outside the network, where the deadline cannot cut it)."""

    def __init__(
        self,
        store: Store,
        name: str,
        deadline: Deadline,
        now: datetime,
        on_overdue: Callable[[RunOutcome], None] | None,
    ) -> None:
        self.store, self.name, self.deadline, self.now = store, name, deadline, now
        self.on_overdue = on_overdue
        self.overdue: RunOutcome | None = None
        self._lock = threading.Lock()
        self._ended = False
        self._timer = threading.Timer(deadline.seconds + GRACE, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._ended:
                return
            self.overdue = RunOutcome(
                self.name,
                False,
                error=f"{DeadlineExceeded(self.deadline)}; the run is still "
                "going and later runs are skipped until it ends",
                seconds=self.deadline.seconds + GRACE,
                at=self.now,
            )
        _record(self.store, self.overdue, self.now)
        if self.on_overdue is not None:
            self.on_overdue(self.overdue)

    def end(self) -> RunOutcome | None:
        """Stop watching; the outcome already recorded if the run was overdue."""
        self._timer.cancel()
        with self._lock:
            self._ended = True
            return self.overdue


def run_once(
    store: Store,
    collector: Collector,
    now: datetime,
    *,
    on_overdue: Callable[[RunOutcome], None] | None = None,
) -> RunOutcome:
    """Run a collector within its deadline; record its health and `up` sample; never raise.

    A run still going `GRACE` s past its deadline is recorded down at once and handed to
    `on_overdue`; when it ends at last, that outcome is the one returned."""
    seconds = deadline_seconds(collector)
    deadline = Deadline(seconds) if seconds else None
    watchdog = _Watchdog(store, collector.name, deadline, now, on_overdue) if deadline else None
    started = time.monotonic()
    collector.refused = Refusals()
    try:
        with in_force(deadline):
            result: CollectResult = collector.collect(store, now)
    except Exception as exc:  # noqa: BLE001 - a collector fails soft: readable error, unhealthy, carry on
        outcome = RunOutcome(
            collector.name, False, error=describe(exc), seconds=time.monotonic() - started, at=now
        )
    else:
        outcome = RunOutcome(
            collector.name,
            True,
            rows=result.rows,
            seconds=time.monotonic() - started,
            at=now,
            detail=dict(getattr(result, "detail", None) or {}),
        )
    overdue = watchdog.end() if watchdog is not None else None
    if overdue is not None:  # already recorded down when it overran
        overdue.seconds = time.monotonic() - started
        return overdue
    _record(store, outcome, now, collector)
    return outcome
