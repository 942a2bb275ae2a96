"""Who evaluates for the team: a lease row in the team database, with a fencing token.

One console at a time holds the lease `evaluator` and runs the rules; the others read.  The
holder renews it at each engine tick; a lease not renewed for `ttl` is free, and the next
console to tick takes it over, raising its `token`.  Expiry is judged on the database's clock
(`clock_timestamp()`), never a console's, so two machines whose clocks disagree cannot both
hold it.  A write made on the holder's behalf runs `check` first in its own transaction: the
lease row, read FOR SHARE, must still carry our token, or nothing is written (`LeaseLost`).
The share lock also makes a takeover wait until that write has committed.  docs/team.md,
"Who evaluates", states the handover bound.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.team.backend import TeamError

if TYPE_CHECKING:
    from console.team.shared import PostgresShared

EVALUATOR = "evaluator"
DEFAULT_TTL = timedelta(seconds=90)  # 1.5 × the default rule interval (1m)
_DB_NOW = "(clock_timestamp() AT TIME ZONE 'UTC')"  # the database's clock, as our UTC TIMESTAMPs


def _row(raw: Any) -> tuple[Any, ...]:
    row = raw.fetchone()
    assert row is not None  # the row exists: inserted first, in this transaction
    return tuple(row)


class LeaseLost(TeamError):
    """Another console took the lease over: this one's write was refused, nothing written."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease (None: nobody), its token, until when (UTC, database clock), and if it is us."""

    holder: str | None
    token: int
    expires_at: datetime | None
    ours: bool = False

    def line(self) -> str:
        """One line for a status bar: who evaluates."""
        if self.ours:
            return "evaluating for the team"
        if self.holder is None:
            return "nobody evaluates for the team yet"
        return f"{self.holder} evaluates; this console reads"


def holder_name(store_path: Any, user: str | None) -> str:
    """This console's name in the lease: the team identity (or the OS account), host, pid, store."""
    return f"{user or getpass.getuser()} on {socket.gethostname()} (pid {os.getpid()}, {store_path})"


class Lease:
    """The named lease in the team database, held (or not) by this console."""

    def __init__(
        self,
        shared: PostgresShared,
        name: str = EVALUATOR,
        *,
        holder: str,
        ttl: timedelta | None = None,
    ) -> None:
        """`ttl`: how long a renewal holds; None lets the engine set it from its rules' intervals."""
        self.shared, self.name, self.holder = shared, name, holder
        self.fixed_ttl = ttl is not None
        self.ttl = ttl or DEFAULT_TTL
        self.token: int | None = None  # ours while we hold the lease
        self.last: Holder | None = None  # what the last acquire_or_renew saw

    def acquire_or_renew(self) -> bool:
        """Renew the lease if we hold it, take it if it is free, expired or in our name; else
        note who holds it.  One transaction, the row locked FOR UPDATE.  True if we hold it."""
        seconds = self.ttl.total_seconds()
        with self.shared.transaction() as cur:
            raw = cur.cur  # psycopg's own cursor: a renewal is no change to announce (NOTIFY)
            raw.execute("INSERT INTO leases (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", [self.name])
            raw.execute(
                f"SELECT holder, token, expires_at, expires_at IS NULL OR expires_at <= {_DB_NOW} "
                "FROM leases WHERE name = %s FOR UPDATE",
                [self.name],
            )
            holder, token, expires_at, free = _row(raw)
            if holder == self.holder and token == self.token:
                raw.execute(
                    f"UPDATE leases SET renewed_at = {_DB_NOW}, "
                    f"expires_at = {_DB_NOW} + %s * interval '1 second' WHERE name = %s RETURNING expires_at",
                    [seconds, self.name],
                )
            elif holder is None or free or holder == self.holder:
                token += 1  # a takeover: every write of the previous holder is refused from now on
                raw.execute(
                    f"UPDATE leases SET holder = %s, token = %s, acquired_at = {_DB_NOW}, "
                    f"renewed_at = {_DB_NOW}, expires_at = {_DB_NOW} + %s * interval '1 second' "
                    "WHERE name = %s RETURNING expires_at",
                    [self.holder, token, seconds, self.name],
                )
            else:
                self.token = None
                self.last = Holder(holder, token, expires_at)
                return False
            (expires_at,) = _row(raw)
        self.token = token
        self.last = Holder(self.holder, token, expires_at, ours=True)
        return True

    def release(self) -> None:
        """Give the lease up (the token stays: the next holder raises it); a no-op unless ours."""
        if self.token is None:
            return
        with self.shared.transaction() as cur:
            cur.cur.execute(
                "UPDATE leases SET holder = NULL, expires_at = NULL WHERE name = %s AND token = %s",
                [self.name, self.token],
            )
        self.token = None
        self.last = None

    def holder_info(self) -> Holder:
        """Who holds the lease now and until when (an expired lease is held by nobody)."""
        with self.shared.transaction() as cur:
            cur.cur.execute(
                f"SELECT holder, token, expires_at, expires_at IS NULL OR expires_at <= {_DB_NOW} "
                "FROM leases WHERE name = %s",
                [self.name],
            )
            row = cur.cur.fetchone()
        if row is None or row[3]:
            return Holder(None, row[1] if row else 0, None)
        holder, token, expires_at, _ = row
        return Holder(holder, token, expires_at, ours=holder == self.holder and token == self.token)

    def check(self, cur: Any) -> None:
        """In the writing transaction `cur`: the lease still carries our token (row share-locked
        until commit), else LeaseLost and the transaction rolls back."""
        cur.cur.execute("SELECT holder, token FROM leases WHERE name = %s FOR SHARE", [self.name])
        row = cur.cur.fetchone()
        if self.token is None or row is None or row[1] != self.token:
            by = f"{row[0]} took it over (token {row[1]})" if row and row[0] else "it was released"
            raise LeaseLost(
                f"this console no longer evaluates for the team: {by}; its alert and incident "
                "writes were refused, nothing written"
            )

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """Every shared transaction this thread opens in the block is checked against our token."""
        with self.shared.fenced(self.check):
            yield
