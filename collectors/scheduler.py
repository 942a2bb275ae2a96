"""Running collectors: one guarded run within its deadline, and APScheduler jobs with jitter
and backoff, each source in its own lane."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collectors.base import Collector, CollectResult, SourceError, keep_refused, record_health
from collectors.deadline import Deadline, DeadlineExceeded, deadline_seconds, in_force
from collectors.validate import Refusals
from console.core.secrets import redact

Clock = Callable[[], datetime]
STOP_WAIT = 30.0  # how long stopping waits for a run of a source without a deadline
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


def backoff_delay(interval: float, failures: int, cap: float) -> float:
    """Seconds before the next try after `failures` failures in a row: doubling, capped."""
    if failures <= 0:
        return interval
    return min(cap, interval * (2**failures))


def describe(exc: BaseException) -> str:
    """One line a user can read: a SourceError's own text, otherwise type and message.

    Secrets are taken out (URLs masked, configured secret values redacted)."""
    if isinstance(exc, SourceError):
        return redact(str(exc))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__)


def _record(store: Any, outcome: RunOutcome, now: datetime, collector: Collector | None = None) -> None:
    try:
        if collector is not None:  # what the run refused, kept with its health
            outcome.refused = keep_refused(store, collector, now)
        record_health(store, outcome.name, outcome.ok, now, outcome.error)
    except Exception as exc:  # the store itself failed: say so, still never raise
        outcome.ok, outcome.error = False, f"recording health failed: {describe(exc)}"


class _Watchdog:
    """Marks a run down when it is still going `GRACE` s past its deadline (a collector that
    blocks outside the network, where the deadline cannot cut it)."""

    def __init__(
        self,
        store: Any,
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
    store: Any, collector: Collector, now: datetime, *, on_overdue: Callable[[RunOutcome], None] | None = None
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
    except Exception as exc:  # a collector fails soft: readable error, unhealthy, carry on
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


class _NoSkipLines(logging.Filter):
    """APScheduler's one warning line per skipped run: skips are counted in health instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith('Execution of job "%s" skipped')


def _scheduler_logger() -> logging.Logger:
    logger = logging.getLogger("oncall.collectors.apscheduler")
    if not any(isinstance(f, _NoSkipLines) for f in logger.filters):
        logger.addFilter(_NoSkipLines())
    return logger


class CollectorScheduler:
    """APScheduler jobs, one per collector, each run in the collector's own lane
    (`collectors.lanes`): one run at a time, coalesced, jittered, backing off; a run due
    while the previous one still goes is skipped and counted."""

    def __init__(
        self,
        store: Any,
        collectors: list[tuple[Collector, float]],
        clock: Clock,
        *,
        max_backoff: float = 600.0,
        on_run: Callable[[RunOutcome], None] | None = None,
        jitter: float = 0.1,
    ) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler

        from collectors.lanes import Lanes

        self.store = store
        self.clock = clock
        self.max_backoff = max_backoff
        self.on_run = on_run
        self.jitter = jitter
        self.failures: dict[str, int] = {}
        self.intervals: dict[str, float] = {}
        self.collectors = [collector for collector, _ in collectors]
        self.lanes = Lanes(store)
        self._stopped = threading.Event()
        # A job only starts its source's lane and returns, so two workers never run short.
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            logger=_scheduler_logger(),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            executors={"default": {"type": "threadpool", "max_workers": 2}},
        )
        self.scheduler.add_listener(self._job_skipped, EVENT_JOB_MAX_INSTANCES)
        for collector, interval in collectors:
            self.intervals[collector.name] = interval
            self.scheduler.add_job(
                self._start,
                "interval",
                seconds=interval,
                args=[collector],
                id=collector.name,
                name=collector.name,
                jitter=max(0.0, interval * jitter) or None,
                next_run_time=datetime.now().astimezone(),
            )

    def _start(self, collector: Collector) -> None:
        if not self._stopped.is_set():
            self.lanes.start(collector, self.clock(), after=self._finished)

    def _job_skipped(self, event: Any) -> None:
        self.lanes.skipped(event.job_id, self.clock())

    def _finished(self, collector: Collector, outcome: RunOutcome) -> None:
        name = collector.name
        self.failures[name] = 0 if outcome.ok else self.failures.get(name, 0) + 1
        if not outcome.ok and not self._stopped.is_set():
            delay = backoff_delay(self.intervals[name], self.failures[name], self.max_backoff)
            delay *= 1 + random.uniform(0, self.jitter)
            if self.scheduler.get_job(name) is not None:  # gone when shutting down
                self.scheduler.modify_job(
                    name, next_run_time=datetime.now().astimezone() + timedelta(seconds=delay)
                )
        if self.on_run is not None:
            self.on_run(outcome)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, wait: float | None = None) -> list[str]:
        """Start no more runs; let running ones finish, up to their deadline (or `wait` s).

        Returns the sources still running then (their threads are left to end alone)."""
        self._stopped.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if wait is None:
            deadlines = [deadline_seconds(c) for c in self.collectors]
            wait = max([d + GRACE for d in deadlines if d] + [STOP_WAIT])
        return self.lanes.wait_idle([c.name for c in self.collectors], wait)
