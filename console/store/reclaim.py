"""Giving disk space back after rows are deleted (retention): DuckDB never shrinks a file by
itself, a checkpoint only marks the deleted rows' blocks free for later writes.

After a checkpoint, when a large share of the file's blocks is free, the file is rewritten by
`console.store.compact.rewrite_store`: everything is copied into a new file next to it, which
then replaces the store in one rename.  A crash (kill -9) at any point leaves the old store or
the new one, each complete; a half-written copy is only ever the unfinished file beside it,
removed on the next writable open.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from console.store.journal import wal_path

if TYPE_CHECKING:
    import duckdb


class Store(Protocol):
    """What a rewrite needs of console.store.db.Store (which imports this module)."""

    con: duckdb.DuckDBPyConnection
    path: Path
    _lock: Any  # its threading.RLock


# Rewrite when at least this share of the file's blocks is free after a checkpoint.
REWRITE_SHARE = 0.2


def block_usage(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The store file's (total, free) blocks, as DuckDB counts them."""
    total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchone() or (
        0,
        0,
    )
    return int(total), int(free)


def reclaim_space(store: Store, *, rewrite_share: float = REWRITE_SHARE) -> dict[str, Any]:
    """Checkpoint the store, and rewrite its file when `rewrite_share` of its blocks are free.

    Returns the file's size before and after (bytes) and whether it was rewritten.  Cursors
    taken from the store before a rewrite belong to the old file: call this between uses.
    """
    with store._lock:
        before = store.path.stat().st_size
        store.con.execute("CHECKPOINT")
        total, free = block_usage(store.con)
        rewritten = bool(total) and free / total >= rewrite_share
        if rewritten:
            from console.store.compact import rewrite_store  # it imports the store's module

            rewrite_store(store)  # type: ignore[arg-type]
        return {"bytes_before": before, "bytes_after": store.path.stat().st_size, "rewritten": rewritten}


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
