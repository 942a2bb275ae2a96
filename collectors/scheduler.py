"""Running collectors: one guarded run, and APScheduler jobs with jitter and backoff."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from collectors.base import CollectResult, Collector, SourceError, keep_refused, record_health
from collectors.validate import Refusals

Clock = Callable[[], datetime]


@dataclass
class RunOutcome:
    """How one run of one collector went."""

    name: str
    ok: bool
    rows: int = 0
    error: str | None = None
    seconds: float = 0.0
    at: datetime | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)   # by reason, with `text`


def backoff_delay(interval: float, failures: int, cap: float) -> float:
    """Seconds before the next try after `failures` failures in a row: doubling, capped."""
    if failures <= 0:
        return interval
    return min(cap, interval * (2 ** failures))


def describe(exc: BaseException) -> str:
    """One line a user can read: a SourceError's own text, otherwise type and message."""
    if isinstance(exc, SourceError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def run_once(store: Any, collector: Collector, now: datetime) -> RunOutcome:
    """Run a collector; record its health, what it refused and `up` sample; never raise."""
    started = time.monotonic()
    collector.refused = Refusals()
    try:
        result: CollectResult = collector.collect(store, now)
    except Exception as exc:  # a collector fails soft: readable error, unhealthy, carry on
        outcome = RunOutcome(collector.name, False, error=describe(exc),
                             seconds=time.monotonic() - started, at=now)
    else:
        outcome = RunOutcome(collector.name, True, rows=result.rows,
                             seconds=time.monotonic() - started, at=now)
    try:
        outcome.refused = keep_refused(store, collector, now)
        record_health(store, collector.name, outcome.ok, now, outcome.error)
    except Exception as exc:  # the store itself failed: say so, still never raise
        outcome.ok, outcome.error = False, f"recording health failed: {describe(exc)}"
    return outcome


class CollectorScheduler:
    """APScheduler jobs, one per collector: one run at a time, coalesced, jittered, backing off."""

    def __init__(self, store: Any, collectors: list[tuple[Collector, float]], clock: Clock, *,
                 max_backoff: float = 600.0, on_run: Callable[[RunOutcome], None] | None = None,
                 jitter: float = 0.1) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.store = store
        self.clock = clock
        self.max_backoff = max_backoff
        self.on_run = on_run
        self.jitter = jitter
        self.failures: dict[str, int] = {}
        self.intervals: dict[str, float] = {}
        self._stopped = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                          "misfire_grace_time": None},
            executors={"default": {"type": "threadpool",
                                   "max_workers": max(1, min(4, len(collectors)))}})
        for collector, interval in collectors:
            self.intervals[collector.name] = interval
            self.scheduler.add_job(self._run, "interval", seconds=interval, args=[collector],
                                   id=collector.name, name=collector.name,
                                   jitter=max(0.0, interval * jitter) or None,
                                   next_run_time=datetime.now().astimezone())

    def _run(self, collector: Collector) -> None:
        if self._stopped.is_set():
            return
        outcome = run_once(self.store, collector, self.clock())
        name = collector.name
        self.failures[name] = 0 if outcome.ok else self.failures.get(name, 0) + 1
        if not outcome.ok and not self._stopped.is_set():
            delay = backoff_delay(self.intervals[name], self.failures[name], self.max_backoff)
            delay *= 1 + random.uniform(0, self.jitter)
            if self.scheduler.get_job(name) is not None:   # gone when shutting down
                self.scheduler.modify_job(name, next_run_time=datetime.now().astimezone()
                                          + timedelta(seconds=delay))
        if self.on_run is not None:
            self.on_run(outcome)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        """Let running collectors finish their batch, then stop."""
        self._stopped.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
