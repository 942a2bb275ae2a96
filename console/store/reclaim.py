"""Giving disk space back after rows are deleted (retention): DuckDB never shrinks a file by
itself, a checkpoint only marks the deleted rows' blocks free for later writes.

After a checkpoint, when a large share of the file's blocks is free, the file is rewritten:
every table, sequence and index is copied into a new file next to it, which then replaces the
store in one rename.  A crash (kill -9) at any point leaves the old store or the new one, each
complete; a half-written copy is only ever the side file, removed on the next writable open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from console.store.files import StoreError, connect
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
            rewrite_open_store(store)
        return {"bytes_before": before, "bytes_after": store.path.stat().st_size, "rewritten": rewritten}


def side_file(path: Path) -> Path:
    """Where a rewrite writes the new copy of the store at `path`."""
    return path.with_name(path.name + ".rewrite")


def remove_side_file(path: Path) -> None:
    """Remove the copy a rewrite of the store at `path` left (a crash before its rename)."""
    side = side_file(path)
    for leftover in (side, wal_path(side)):
        leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rewrite_open_store(store: Store) -> None:
    """Replace the writer's store file by a compact copy of itself, and reconnect to it.

    A minimal primitive of this module's own: `console/store/compact.py` is to hold the
    store's one file rewrite (`rewrite_store`), which this should then call.
    """
    path = store.path
    side = side_file(path)
    remove_side_file(path)  # a copy a crash left behind: the store itself is complete
    con = store.con
    con.execute("CHECKPOINT")
    database = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    con.execute(f"ATTACH '{_sql_text(side)}' AS _rewrite")
    try:
        con.execute(f'COPY FROM DATABASE "{database}" TO _rewrite')
    finally:
        con.execute("DETACH _rewrite")
    if wal_path(side).exists() or wal_path(path).exists():
        remove_side_file(path)
        raise StoreError(f"store {path}: a write-ahead log remained after a checkpoint; not rewritten")
    os.chmod(side, 0o600)
    _fsync(side)
    # Renamed while the old file is still open and locked, so no other process can open the
    # old file in between; the old connection then closes on its (now unlinked) file.
    os.replace(side, path)
    _fsync(path.parent)
    con.close()
    store.con = connect(path, read_only=False)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
