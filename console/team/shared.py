"""The shared tables in the team's Postgres database (`SharedTables` of kind "team").

The code that reads and writes incidents, timeline, alerts, silences, runs, marks and audit
sends the SQL it sends to the store; this module adapts it to Postgres:

- `?` placeholders become psycopg's `%s` (a literal `%` is doubled); quoted text is left alone;
- a statement that returns no rows answers `fetchone()` with its row count, as DuckDB does;
- `load(name, arrow_table)` copies the table into a temporary table dropped at commit.

Each thread has its own connection (psycopg connections serialise their statements), opened on
first use and opened again after a failure.  Every transaction that wrote sends
`NOTIFY oncall` with the tables it wrote, so other consoles can refresh (docs/team.md).

While the database is unreachable (`outage` is set), reads answer with the last answer to the
same SQL and parameters (console/team/outage.py), a read never answered before raises, and a
write raises TeamUnreachable saying it was not made and nothing is queued.  A failed connect
makes reads use those answers for `PROBE_SECONDS` before one of them tries the database again;
the first read that gets through clears the outage and calls `on_recovery`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.team.backend import TeamBackend, TeamError, TeamUnreachable, database_errors
from console.team.outage import Answer, LastAnswers, Outage, answer_key, why

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

CHANNEL = "oncall"
PROBE_SECONDS = 2.0  # after a failed connect, reads answer from the last answers this long
PROBE_CONNECT_TIMEOUT = 2  # seconds (libpq's minimum) for a connect while the database is down
_WRITES = ("INSERT", "UPDATE", "DELETE")
_PG_TYPES = {"string": "TEXT", "large_string": "TEXT", "double": "DOUBLE PRECISION", "int64": "BIGINT"}


def postgres_sql(sql: str) -> str:
    """`?` → `%s` and `%` → `%%` outside quoted text and identifiers."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _written_table(sql: str) -> str | None:
    words = sql.split(None, 4)
    if not words or words[0].upper() not in _WRITES:
        return None
    # INSERT INTO t / DELETE FROM t / UPDATE t
    name = words[1] if words[0].upper() == "UPDATE" else (words[2] if len(words) > 2 else "")
    return name.split("(", 1)[0].strip('"').lower() or None


def _column_type(kind: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    return _PG_TYPES.get(str(kind), "TEXT")


class _PgCursor:
    """A psycopg cursor in one transaction, speaking the store's SQL."""

    def __init__(self, cur: psycopg.Cursor[Any], store: Any, stack: ExitStack) -> None:
        self.cur = cur
        self.written: set[str] = set()
        self._count: list[tuple[Any, ...]] | None = None
        self._store, self._stack, self._local = store, stack, None

    @property
    def local(self) -> Any:
        if self._local is None:
            if self._store is None:
                raise TeamError("no local store beside the team database")
            self._local = self._stack.enter_context(self._store.transaction())
        return self._local

    def execute(self, sql: str, params: list[Any] | None = None) -> _PgCursor:
        table = _written_table(sql)
        if table is not None and not table.startswith("_"):
            self.written.add(table)
        if params:
            self.cur.execute(postgres_sql(sql), params)
        else:  # no parameters: psycopg sends the text as it is, `%` included
            self.cur.execute(sql.encode())
        self._count = None if self.cur.description is not None else [(self.cur.rowcount,)]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._count is not None:
            return self._count
        return self.cur.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._count is not None:
            return self._count[0]
        return self.cur.fetchone()

    @property
    def description(self) -> Any:
        return self.cur.description

    def load(self, name: str, table: pa.Table) -> None:
        from psycopg import sql

        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_column_type(f.type)))
            for f in table.schema
        )
        self.cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(name), columns)
        )
        if table.num_rows:
            names = table.column_names
            with self.cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
                for row in table.to_pylist():
                    copy.write_row([row[n] for n in names])


class PostgresShared:
    """The shared tables in the team's database: the same SQL as the store, on Postgres."""

    kind = "team"
    writable = True

    def __init__(self, backend: TeamBackend, store: Any = None) -> None:
        self.backend = backend
        self.store = store  # the console's own store: `cur.local` writes its tables
        self._local = threading.local()
        # each thread's connection, with its thread: one whose thread ended is closed (Textual's
        # thread workers are new threads, so a console would otherwise open one per refresh)
        self._all: list[tuple[threading.Thread, psycopg.Connection[Any]]] = []
        self._all_lock = threading.Lock()
        self.closed = False
        self.clock: Callable[[], datetime] = _utcnow  # when the outage started, the state's age
        self.answers = LastAnswers()
        self.outage: Outage | None = None  # set while the database is unreachable
        self.on_recovery: list[Callable[[], None]] = []  # called when it answers again
        self._state_lock = threading.Lock()
        self._last_answer: datetime | None = None
        self._probe_at = 0.0  # monotonic time before which reads do not try the database

    @property
    def where(self) -> str:
        return self.backend.where

    def _connection(self, connect_timeout: int | None = None) -> psycopg.Connection[Any]:
        con = getattr(self._local, "con", None)
        if con is not None and not con.closed and not con.broken:
            return con
        if self.closed:
            raise TeamError(f"team database {self.where}: this console closed its connections")
        import psycopg

        args = self.backend.connect_args()
        if connect_timeout is not None:
            args["connect_timeout"] = min(args["connect_timeout"], connect_timeout)
        try:
            con = psycopg.connect(**args)
        except psycopg.Error as exc:
            raise TeamUnreachable(
                f"team database {self.where} is unreachable: {self.backend.dsn.redact(exc)}"
            ) from None
        with database_errors(self.backend, "setting up the session"):
            self.backend.set_session(con)
        self._local.con = con
        with self._all_lock:
            for thread, old in self._all:
                if not thread.is_alive():
                    old.close()
            live = [(t, c) for t, c in self._all if t.is_alive() and not c.closed]
            self._all = [*live, (threading.current_thread(), con)]
        return con

    def query(self, sql: str, params: list[Any] | None = None) -> Answer:
        """The answer from the database; while it is unreachable, the last answer to this read
        (TeamUnreachable when there is none)."""
        key = answer_key(sql, params)
        if self.outage is not None and not self._probe_due():
            return self._last(key)
        try:
            answer = self._read(sql, params)
        except TeamUnreachable as exc:
            self._went_away(exc)
            return self._last(key)
        self.answers.put(key, answer)
        self._answered()
        return answer

    def _read(self, sql: str, params: list[Any] | None) -> Answer:
        """One read; a connection the server dropped is replaced once (a restart), then the
        database counts as unreachable."""
        dropped = ""
        for _ in range(2):
            con = self._connection(PROBE_CONNECT_TIMEOUT if self.outage is not None else None)
            try:
                with database_errors(self.backend, "query failed"), con.transaction(), con.cursor() as raw:
                    cur = _PgCursor(raw, None, ExitStack()).execute(sql, params)
                    return [d[0] for d in cur.description or []], cur.fetchall()
            except TeamError as exc:
                if not con.broken:
                    raise
                con.close()
                dropped = why(str(exc))
        raise TeamUnreachable(f"team database {self.where} is unreachable: {dropped}")

    def _probe_due(self) -> bool:
        """Whether this read tries the database (one read per PROBE_SECONDS while it is down)."""
        with self._state_lock:
            now = time.monotonic()
            if now < self._probe_at:
                return False
            self._probe_at = now + PROBE_SECONDS  # the other reads meanwhile use the last answers
            return True

    def _last(self, key: tuple[str, Any]) -> Answer:
        found = self.answers.get(key)
        if found is None:
            outage = self.outage
            raise TeamUnreachable(
                outage.unknown() if outage else f"team database {self.where} is unreachable"
            )
        return found

    def _went_away(self, exc: TeamError) -> Outage:
        with self._state_lock:
            self._probe_at = time.monotonic() + PROBE_SECONDS
            since = self.outage.since if self.outage is not None else self.clock()
            self.outage = Outage(self.where, since, why(str(exc)), self._last_answer)
            return self.outage

    def _answered(self) -> None:
        """The database answered: the outage (if any) is over, and whoever asked is told."""
        with self._state_lock:
            self._last_answer = self.clock()
            ended, self.outage = self.outage is not None, None
        if ended:
            for callback in list(self.on_recovery):
                callback()

    @contextmanager
    def _refused_while_down(self, con: psycopg.Connection[Any] | None = None) -> Iterator[None]:
        """A write that cannot reach the database raises TeamUnreachable: not made, not queued."""
        try:
            yield
        except TeamUnreachable as exc:
            raise TeamUnreachable(self._went_away(exc).refusal()) from None
        except TeamError as exc:
            if con is None or not con.closed or self.closed:
                raise
            raise TeamUnreachable(self._went_away(exc).refusal()) from None
        if con is not None:
            self._answered()

    @contextmanager
    def transaction(self) -> Iterator[_PgCursor]:
        with self._refused_while_down():
            con = self._connection(PROBE_CONNECT_TIMEOUT if self.outage is not None else None)
        # the local transaction (if the block opened one) commits after Postgres's, and rolls
        # back when Postgres's fails
        with (
            self._refused_while_down(con),
            ExitStack() as local,
            database_errors(self.backend, "query failed"),
        ):
            try:
                with con.transaction(), con.cursor() as raw:
                    cur = _PgCursor(raw, self.store, local)
                    fence = getattr(self._local, "fence", None)
                    if fence is not None:  # the evaluator lease's check (console/team/lease.py)
                        fence(cur)
                    yield cur
                    if cur.written:
                        raw.execute("SELECT pg_notify(%s, %s)", [CHANNEL, ",".join(sorted(cur.written))])
            finally:
                if con.broken:
                    con.close()

    @contextmanager
    def fenced(self, check: Callable[[_PgCursor], None]) -> Iterator[None]:
        """Run `check(cur)` first in every transaction this thread opens in the block."""
        self._local.fence = check
        try:
            yield
        finally:
            self._local.fence = None

    def close(self) -> None:
        self.closed = True
        with self._all_lock:
            for _, con in self._all:
                con.close()
            self._all.clear()


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def attach(store: Any, team: Any, base_dir: Any) -> PostgresShared | None:
    """Route `store`'s shared tables to the team database `team:` names; None without `team:`."""
    if team is None:
        return None
    if isinstance(store.shared, PostgresShared):  # attached already (a store handed to a Session)
        return store.shared
    shared = PostgresShared(TeamBackend.from_config(team, base_dir), store)
    store.shared = shared
    return shared
