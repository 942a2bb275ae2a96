"""A source's `timeout` as a deadline for one whole run: connect, headers, body and parse.

`run_once` puts a `Deadline` in force for the run (a context variable of the run's thread);
HTTP reads and writes are cut at it (`collectors.deadline_net`), and other collectors call
`check_deadline()` between batches.  Past it the run raises `DeadlineExceeded`, whose text
says how many bytes had arrived.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Any

from collectors.base import SourceError

_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "oncall_collector_deadline", default=None
)


class DeadlineExceeded(SourceError):
    """A run went past its source's deadline; the message says after how many bytes."""

    def __init__(self, deadline: Deadline, where: str | None = None) -> None:
        self.deadline = deadline
        text = f"deadline {deadline.seconds:g}s exceeded after {deadline.bytes_read} bytes"
        super().__init__(f"{where}: {text}" if where else text)

    def at(self, where: str) -> DeadlineExceeded:
        """The same error, naming where it happened (the source's URL)."""
        return DeadlineExceeded(self.deadline, where)


class Deadline:
    """`seconds` from now; counts the bytes a run has read so far."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self.ends = monotonic() + seconds
        self.bytes_read = 0

    def left(self) -> float:
        return self.ends - self._monotonic()

    def check(self, more_bytes: int = 0) -> None:
        """Count `more_bytes` read; raise DeadlineExceeded when no time is left."""
        self.bytes_read += more_bytes
        if self.left() <= 0:
            raise DeadlineExceeded(self)

    def timeout(self, op_timeout: float | None) -> float:
        """The timeout for one network operation: its own, cut to the time left."""
        left = self.left()
        if left <= 0:
            raise DeadlineExceeded(self)
        return left if op_timeout is None else min(op_timeout, left)


def current_deadline() -> Deadline | None:
    """The deadline of the run going on in this thread, if any."""
    return _CURRENT.get()


def check_deadline(more_bytes: int = 0, where: str | None = None) -> None:
    """Between batches: count what was read and stop the run if its deadline has passed
    (DeadlineExceeded, naming `where`: the URL or file)."""
    deadline = _CURRENT.get()
    if deadline is not None:
        try:
            deadline.check(more_bytes)
        except DeadlineExceeded as exc:
            raise exc.at(where) if where else exc from None


@contextlib.contextmanager
def in_force(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make `deadline` the current one for the block (None: no deadline)."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def deadline_seconds(collector: Any) -> float | None:
    """A collector's deadline: its source's `timeout` option, if it has one."""
    seconds = getattr(collector.options, "timeout", None)
    return float(seconds) if seconds else None
