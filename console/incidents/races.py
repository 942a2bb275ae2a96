"""Changes that race: the incident row read inside the change's transaction, a conditional
UPDATE on what was read (compare-and-set), and, for the one who lost, who won and when.

Both backends run the same SQL.  The embedded store serialises a console's transactions; a
write that still conflicts there (DuckDB's "Conflict on update") counts as a lost race.  On
Postgres (READ COMMITTED) the loser's UPDATE waits for the winner's row lock, re-checks its
WHERE and changes no row; a serialization failure or deadlock is tried once more, then reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from console.incidents.records import COLUMNS, Incident, IncidentError

T = TypeVar("T")
_RETRIED_STATES = ("40001", "40P01")  # serialization_failure, deadlock_detected
MILESTONE = {
    "acknowledged": "acked_at",
    "mitigated": "mitigated_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}


class AlreadyDone(IncidentError):
    """The same person asked for a change already made: nothing changed (the CLI exits 0)."""


class LostRace(Exception):
    """A conditional UPDATE matched no row: someone else changed it first."""


def conflicted(exc: BaseException) -> bool:
    """A write conflict: DuckDB's "Conflict on …", or Postgres's serialization failure or deadlock."""
    import duckdb

    if isinstance(exc, duckdb.TransactionException):
        return "onflict" in str(exc)
    return getattr(exc.__context__, "sqlstate", None) in _RETRIED_STATES


def settle(change: Callable[[], T], what: str, attempts: int = 2) -> T:
    """Run `change` (one transaction that reads what it changes); after a lost compare-and-set or a
    write conflict run it again: its fresh read either succeeds or says who won."""
    for attempt in range(1, attempts + 1):
        try:
            return change()
        except LostRace:
            pass
        except Exception as exc:
            if not conflicted(exc):
                raise
            if attempt == attempts:
                raise IncidentError(
                    f"{what} kept changing under you ({exc}); look at it and try again"
                ) from None
    raise IncidentError(f"{what} kept changing under you; look at it and try again")


def changed_one(cur: Any) -> None:
    """After a conditional UPDATE: exactly one row, or LostRace."""
    row = cur.fetchone()
    if not row or row[0] != 1:
        raise LostRace


def read_incident(cur: Any, incident_id: int) -> Incident:
    """The incident as this transaction sees it."""
    return read_with_text(cur, incident_id)[0]


def read_with_text(cur: Any, incident_id: int) -> tuple[Incident, str | None, str | None]:
    """The incident and the text of its alerts and detail columns, in one statement: what a
    compare-and-set compares (under READ COMMITTED each statement has its own snapshot)."""
    rows = cur.execute(f"SELECT {COLUMNS} FROM incidents WHERE id = ?", [int(incident_id)]).fetchall()
    if not rows:
        raise IncidentError(f"no incident {incident_id}; `oncall incident list` shows them")
    return Incident.from_row(rows[0]), rows[0][-2], rows[0][-1]


def utc(ts: datetime | None) -> str:
    return "an unknown time" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S} UTC"


def _mover(cur: Any, incident_id: int, status: str) -> str | None:
    """Who moved the incident to `status` (the latest such timeline entry), if anyone is named."""
    import json

    rows = cur.execute(
        "SELECT actor, detail FROM timeline WHERE incident_id = ? AND kind = 'status' ORDER BY id DESC",
        [incident_id],
    ).fetchall()
    for actor, detail in rows:
        if json.loads(detail or "{}").get("to") == status:
            return actor
    return None


def refuse_repeat(cur: Any, incident: Incident, to_status: str, actor: str | None) -> None:
    """Refuse a move to the status the incident is in, naming who moved it there and when."""
    status = incident.status
    if status != to_status or status not in MILESTONE:
        return
    when = utc(getattr(incident, MILESTONE[status]))
    who = _mover(cur, incident.id, status)
    if who is not None and actor is not None and who == str(actor):
        raise AlreadyDone(
            f"incident {incident.id} is already {status} (by you, {who}, at {when}); nothing changed"
        )
    by = f"by {who} at {when}" if who else f"at {when}"
    raise IncidentError(f"incident {incident.id} is already {status} ({by})")
