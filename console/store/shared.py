"""The shared tables' access: what the evaluators and screens read and write about incidents.

Incidents, timeline, alert state and history, silences, playbook runs, rollback marks and the
audit log are *shared* state: with a team backend (docs/team.md) they live in one Postgres
database, without one in the store's own file.  Code that touches them goes through
`store.shared` — a `SharedTables` — and never learns which backend answers: the same SQL
(`?` placeholders, `nextval('…_seq')`, standard SQL both engines run) is sent to either.

`LocalShared` is the embedded default: the store itself.  The Postgres implementation is in
`console.team.shared`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# parents first (the order `oncall team import` copies them in)
SHARED_TABLES: tuple[str, ...] = (
    "incidents",
    "timeline",
    "playbook_runs",
    "alerts",
    "alert_history",
    "silences",
    "version_marks",
    "audit",
)


class SharedCursor(Protocol):
    """A cursor inside one transaction on the shared tables."""

    def execute(self, sql: str, params: list[Any] | None = None) -> SharedCursor: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def load(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable as `name` until the transaction ends."""

    @property
    def local(self) -> Any:
        """A cursor on the store's own (local) tables, committed with this transaction: the
        same DuckDB transaction for the embedded default; for the team backend a store
        transaction committed right after Postgres's (rolled back if that fails)."""


class SharedTables(Protocol):
    """Where the shared tables live: `kind` is "local" (the store's file) or "team" (Postgres)."""

    kind: str

    @property
    def writable(self) -> bool: ...

    @property
    def where(self) -> str: ...

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def transaction(self) -> Any:  # a context manager yielding a SharedCursor
        ...

    def close(self) -> None: ...


class _LocalCursor:
    """A DuckDB cursor in the store's transaction; `load` registers an Arrow table."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur
        self.loaded: list[str] = []

    def execute(self, sql: str, params: list[Any] | None = None) -> _LocalCursor:
        self.cur.execute(sql, params or [])
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.cur.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.cur.fetchone()

    @property
    def description(self) -> Any:
        return self.cur.description

    def load(self, name: str, table: pa.Table) -> None:
        self.cur.register(name, table)
        self.loaded.append(name)

    @property
    def local(self) -> duckdb.DuckDBPyConnection:
        return self.cur


class LocalShared:
    """The embedded default: the shared tables are tables of the store itself."""

    kind = "local"

    def __init__(self, store: Any) -> None:  # a console.store.Store (below it: no import cycle)
        self.store = store

    @property
    def writable(self) -> bool:
        return not self.store.read_only

    @property
    def where(self) -> str:
        return str(self.store.snapshot_of or self.store.path)

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self.store.query(sql, params)

    def close(self) -> None:
        """Nothing of its own to close: the store closes its file."""

    @contextmanager
    def transaction(self) -> Iterator[_LocalCursor]:
        with self.store.transaction() as cur:
            wrapped = _LocalCursor(cur)
            try:
                yield wrapped
            finally:
                for name in wrapped.loaded:
                    cur.unregister(name)


def close_shared(store: Any) -> None:
    """Close the team backend `store` opened (one a console moved to a fresh store is not its)."""
    shared = store.shared
    if getattr(shared, "store", None) is store:
        shared.close()
