"""The team backend: one Postgres database holding the team's shared tables (psycopg 3).

`TeamBackend` connects with bounded timeouts (libpq's `connect_timeout`, the server's
`statement_timeout`), creates and migrates the schema (`migrate`, idempotent, serialised by an
advisory lock) and reports its health in one line.  Every error it raises is a `TeamError` whose
text has the DSN masked and its password taken out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.config.team import TeamConfig
from console.team.dsn import Dsn, resolve_dsn
from console.team.schema import MIGRATIONS, NAMESPACE, SCHEMA_VERSION

if TYPE_CHECKING:
    import psycopg

# pg_advisory_xact_lock keys: migrations and imports run one at a time across the team
MIGRATE_LOCK = 0x6F6E_6361_6C6C_0001
IMPORT_LOCK = 0x6F6E_6361_6C6C_0002


class TeamError(Exception):
    """The team database failed us; the message (one line, DSN masked) says how."""


class TeamUnreachable(TeamError):
    """The team database could not be connected to."""


@dataclass
class Health:
    """What `oncall check` and `oncall team status` say about the team database."""

    where: str  # the masked DSN
    reachable: bool
    schema_version: int | None = None  # None: not initialised (or not reachable)
    latest: int = SCHEMA_VERSION  # what this oncall knows
    connect_ms: float | None = None
    latency_ms: float | None = None  # one round trip on the open connection
    server_version: str | None = None
    user: str | None = None  # the configured team identity
    error: str | None = None

    @property
    def problem(self) -> str | None:
        """What is wrong, one line, or None."""
        if not self.reachable:
            return f"team database {self.where} is unreachable: {self.error}"
        if self.error is not None:
            return self.error
        hint = self._hint()
        return f"team database {self.where}: {hint}" if hint else None

    def _hint(self) -> str | None:
        if self.schema_version is None:
            return "no oncall schema yet; run `oncall team init`"
        if self.schema_version < self.latest:
            return f"schema v{self.schema_version}, this oncall needs v{self.latest}; run `oncall team init`"
        if self.schema_version > self.latest:
            return (
                f"schema v{self.schema_version} is newer than this oncall's (v{self.latest}); upgrade oncall"
            )
        return None

    def line(self) -> str:
        """One line: where, reachable or not (and why), schema version, latency."""
        if not self.reachable or self.error is not None:
            return self.problem or ""
        schema = "no schema" if self.schema_version is None else f"schema v{self.schema_version}"
        latency = "" if self.latency_ms is None else f", {self.latency_ms:.1f} ms"
        text = f"team database {self.where}: reachable (PostgreSQL {self.server_version}), {schema}{latency}"
        hint = self._hint()
        return f"{text}; {hint}" if hint else text

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problem": self.problem}


class TeamBackend:
    """The team's Postgres database, reached through a resolved (secret) DSN."""

    def __init__(self, dsn: Dsn, config: TeamConfig) -> None:
        self.dsn = dsn
        self.config = config

    @classmethod
    def from_config(cls, config: TeamConfig, base_dir: str | Path) -> TeamBackend:
        """The backend `team:` names (its dsn_file relative to `base_dir`); TeamConfigError if unusable."""
        return cls(resolve_dsn(config, base_dir), config)

    @property
    def where(self) -> str:
        return self.dsn.shown

    def _error(self, exc: BaseException, doing: str) -> TeamError:
        return TeamError(f"team database {self.where}: {doing}: {self.dsn.redact(exc)}")

    def connect_args(self, *, autocommit: bool = False) -> dict[str, Any]:
        """psycopg.connect's arguments: the DSN, libpq's connect_timeout, our application name."""
        return {
            "conninfo": self.dsn.conninfo,
            "connect_timeout": max(1, math.ceil(self.config.connect_timeout.total_seconds())),
            "application_name": "oncall",
            "autocommit": autocommit,
            # a database that stops answering without refusing (a partition) fails an open
            # connection within ~15 s instead of hanging it: TCP keepalives and a send timeout
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 15_000,
        }

    def set_session(self, con: psycopg.Connection[Any]) -> None:
        """`search_path` at the oncall schema and the configured `statement_timeout`."""
        timeout_ms = int(self.config.statement_timeout.total_seconds() * 1000)
        con.execute(
            "SELECT set_config('search_path', %s, false), set_config('statement_timeout', %s, false)",
            [NAMESPACE, str(timeout_ms)],
        )
        if not con.autocommit:
            con.commit()

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A connection with `search_path` at the oncall schema; closed after the block.

        A failure to connect is TeamUnreachable, any later database error TeamError."""
        import psycopg

        try:
            con = psycopg.connect(**self.connect_args(autocommit=autocommit))
        except psycopg.Error as exc:
            raise TeamUnreachable(
                f"team database {self.where} is unreachable: {self.dsn.redact(exc)}"
            ) from None
        try:
            with database_errors(self, "query failed"):
                self.set_session(con)
                yield con
        finally:
            con.close()

    def schema_version(self, con: psycopg.Connection[Any]) -> int | None:
        """The schema's version in this database; None when `oncall team init` never ran."""
        with database_errors(self, "reading the schema version"):
            row = con.execute("SELECT to_regclass(%s)", [f"{NAMESPACE}.schema_version"]).fetchone()
            if row is None or row[0] is None:
                return None
            found = con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(found[0]) if found and found[0] is not None else 0

    def migrate(self, now: datetime) -> tuple[int, int]:
        """Create the schema or bring it up to date, all in one transaction: (from, to) versions."""
        from psycopg import sql

        with self.connect() as con, database_errors(self, "migrating the schema"), con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
            con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(NAMESPACE)))
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            current = self.schema_version(con) or 0
            if current > SCHEMA_VERSION:
                raise TeamError(
                    f"team database {self.where} has schema v{current}, newer than this oncall "
                    f"(v{SCHEMA_VERSION}); upgrade oncall"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                con.execute(MIGRATIONS[version - 1])  # no parameters: several statements in one
                con.execute("INSERT INTO schema_version VALUES (%s, %s)", [version, now])
        return current, SCHEMA_VERSION

    def health(self) -> Health:
        """Reachable or not (with why), the schema's version and one round trip's latency."""
        health = Health(where=self.where, reachable=False, user=self.config.user)
        started = time.perf_counter()
        try:
            with self.connect(autocommit=True) as con:
                health.connect_ms = (time.perf_counter() - started) * 1000
                before = time.perf_counter()
                con.execute("SELECT 1").fetchone()
                health.latency_ms = (time.perf_counter() - before) * 1000
                health.reachable = True
                row = con.execute("SELECT current_setting('server_version')").fetchone()
                health.server_version = str(row[0]).split(" ")[0] if row else None
                health.schema_version = self.schema_version(con)
        except TeamUnreachable as exc:
            health.error = str(exc).split(" is unreachable: ", 1)[-1]
        except TeamError as exc:  # reached, but a query failed
            health.error = str(exc)
        return health


@contextmanager
def database_errors(backend: TeamBackend, doing: str) -> Iterator[None]:
    """psycopg's errors as TeamError, masked (TeamErrors pass as they are)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise backend._error(exc, doing) from None
