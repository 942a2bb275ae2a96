"""What a file rewrite needs below the store itself: the store's shape (a Protocol, since
console.store.db imports this module), the file's block usage, and the unfinished copy a
rewrite builds beside the store.

DuckDB never shrinks a file by itself: a checkpoint only marks deleted rows' blocks free.
`console.store.compact.reclaim_space` (after retention) and `compact` rewrite the file into
the unfinished copy and rename it over the store; a crash (kill -9) at any point leaves the
old store or the new one, each complete, and the copy is removed on the next writable open.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from console.store.journal import wal_path

if TYPE_CHECKING:
    import duckdb


class Store(Protocol):
    """What a rewrite and a compaction need of console.store.db.Store (which imports this module)."""

    con: duckdb.DuckDBPyConnection
    path: Path
    _lock: Any  # its threading.RLock

    def cursor(self) -> duckdb.DuckDBPyConnection: ...

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def _require_writable(self) -> None: ...


def block_usage(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The store file's (total, free) blocks, as DuckDB counts them."""
    total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchone() or (
        0,
        0,
    )
    return int(total), int(free)


def unfinished_path(path: Path) -> Path:
    """The new file a rewrite builds beside the store before renaming it over the store."""
    return path.with_name(path.name + ".compacting")


def discard_unfinished(path: Path) -> bool:
    """Remove what a rewrite that did not finish (killed) left beside the store; whether it did."""
    found = False
    for leftover in (unfinished_path(path), wal_path(unfinished_path(path))):
        if leftover.exists():
            leftover.unlink()
            found = True
    return found
