"""Running collectors on a schedule: APScheduler jobs with jitter and backoff, each source in
its own lane (`collectors.lanes`); one run is `collectors.run.run_once`."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from collectors.base import Collector
from collectors.deadline import deadline_seconds
from collectors.lanes import Lanes
from collectors.run import GRACE, RunOutcome

if TYPE_CHECKING:
    from console.store import Store

Clock = Callable[[], datetime]
STOP_WAIT = 30.0  # how long stopping waits for a run of a source without a deadline


def backoff_delay(interval: float, failures: int, cap: float) -> float:
    """Seconds before the next try after `failures` failures in a row: doubling, capped."""
    if failures <= 0:
        return interval
    return min(cap, interval * (2**failures))


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
        store: Store,
        collectors: list[tuple[Collector, float]],
        clock: Clock,
        *,
        max_backoff: float = 600.0,
        on_run: Callable[[RunOutcome], None] | None = None,
        jitter: float = 0.1,
    ) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler

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
