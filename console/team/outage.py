"""While the team database is unreachable: the last good answers, and what the console says.

`LastAnswers` keeps the last answer of each read (an LRU, bounded in entries and rows);
`Outage` is the state while the database cannot be reached: since when, why (masked), and the
time of the last answer it gave, which is how old the state the console shows is.
Nothing is queued: a write during an outage is refused with `Outage.refusal`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
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
                self._answers.pop(key, None)  # an older, smaller answer would be wrong now
                return
            self._answers[key] = (list(columns), list(rows))
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_answers:
                self._answers.popitem(last=False)

    def get(self, key: tuple[str, Any]) -> Answer | None:
        """A copy of the last answer, or None."""
        with self._lock:
            found = self._answers.get(key)
            if found is None:
                return None
            self._answers.move_to_end(key)
            return list(found[0]), list(found[1])
