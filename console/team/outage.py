"""While the team database is unreachable: the last good answers, and what the console says.

`LastAnswers` keeps the last answer of each read (an LRU, bounded in entries and rows), also
under the read with its time parameters left out, so a screen that reads "as of now" still gets
the state as of the last contact.  `Outage` is the state while the database cannot be reached: since when, why (masked), and the
time of the last answer it gave, which is how old the state the console shows is.
Nothing is queued: a write during an outage is refused with `Outage.refusal`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Answer = tuple[list[str], list[tuple[Any, ...]]]

MAX_ANSWERS = 300  # reads remembered (least recently used dropped first)
MAX_ROWS = 5000  # a bigger answer is not remembered: read during an outage, it raises


def why(message: str) -> str:
    """The reason in a TeamError's one line (`… is unreachable: WHY`, `…: query failed: WHY`), first line only."""
    for marker in (" is unreachable: ", ": query failed: "):
        if marker in message:
            message = message.split(marker, 1)[1]
            break
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "no answer"


@dataclass(frozen=True)
class Outage:
    """The team database is unreachable: since when (UTC), why (masked), state as of when."""

    where: str  # the masked DSN
    since: datetime
    error: str
    as_of: datetime | None  # the last answer the database gave this console; None: never

    def _head(self) -> str:
        return f"team database {self.where} unreachable since {self.since:%H:%M:%S} UTC ({self.error})"

    def line(self) -> str:
        """The banner's line."""
        state = (
            f"shared state as of {self.as_of:%H:%M:%S} UTC"
            if self.as_of is not None
            else "no shared state read yet"
        )
        return f"{self._head()}: {state}, read-only; metrics still live"

    def refusal(self) -> str:
        """Why a write was refused: it was not made, and nothing waits to be sent later."""
        return f"{self._head()}: the change was not recorded; nothing is queued — retry when it is back"

    def unknown(self) -> str:
        """Why a read with no last known answer fails (in a command that writes, before it wrote)."""
        return f"{self._head()}: there is no last known answer to show, and nothing was changed or queued"


def answer_key(sql: str, params: list[Any] | None) -> tuple[str, Any]:
    """A read's identity: its SQL and parameters (by repr when one is unhashable)."""
    values = tuple(params or ())
    try:
        hash(values)
    except TypeError:
        return sql, repr(values)
    return sql, values


def _timeless(key: tuple[str, Any]) -> tuple[str, Any] | None:
    """The key with its times left out (`ends_at > ?` at the clock's now), or None without any:
    while the database is down a read at a later `now` gets the answer as of the last contact."""
    sql, values = key
    if not isinstance(values, tuple) or not any(isinstance(v, (datetime, date)) for v in values):
        return None
    return "\0timeless\0" + sql, tuple(None if isinstance(v, (datetime, date)) else v for v in values)


class LastAnswers:
    """The last answer of each read, least recently used dropped first; safe across threads."""

    def __init__(self, max_answers: int = MAX_ANSWERS, max_rows: int = MAX_ROWS) -> None:
        self.max_answers, self.max_rows = max_answers, max_rows
        self._answers: OrderedDict[tuple[str, Any], Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def put(self, key: tuple[str, Any], answer: Answer) -> None:
        columns, rows = answer
        with self._lock:
            if len(rows) > self.max_rows:
                for each in filter(None, (key, _timeless(key))):
                    self._answers.pop(each, None)  # an older, smaller answer would be wrong now
                return
            for each in filter(None, (key, _timeless(key))):
                self._answers[each] = (list(columns), list(rows))
                self._answers.move_to_end(each)
            while len(self._answers) > self.max_answers:
                self._answers.popitem(last=False)

    def get(self, key: tuple[str, Any]) -> Answer | None:
        """A copy of the last answer to this read (or to it at another time), or None."""
        with self._lock:
            for each in filter(None, (key, _timeless(key))):
                found = self._answers.get(each)
                if found is not None:
                    self._answers.move_to_end(each)
                    return list(found[0]), list(found[1])
            return None
