"""The store's files: opening DuckDB with one-line errors, and a WAL that did not survive.

DuckDB 2.0 (measured): a read-only open replays a WAL in memory and changes no file; a
read-write open replays it, checkpoints and deletes it.  Garbage is ignored without an
error (and overwritten by the next commit), a WAL cut short is replayed up to its last
whole commit, and a WAL whose database file is gone is deleted when the file is created.
So before a read-write open, the WAL is compared (read-only) with the commit journal
and kept aside when the store would lose journaled batches.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from console.core.private import copy_private
from console.store.journal import Journal, lost_entries, wal_path
from console.store.rows import scalar

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}


class StoreError(Exception):
    """A store problem with a message fit to show a user on one line."""


class StoreMissing(StoreError):
    """A read found no store file (reads never create one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        wal = wal_path(path)
        left = (
            (
                f"; its WAL {wal} is left from a removed store: the next write sets it aside "
                "and reports what was lost"
            )
            if wal.exists()
            else ""
        )
        super().__init__(
            f"store {path} does not exist; `oncall collect`, `oncall import` or the console create it{left}"
        )


class StoreNeedsRepair(StoreError):
    """A store a `repair=False` open would have to set a WAL aside in, or record a loss in."""


class StoreLocked(StoreError):
    """Another process holds the store read-write."""

    def __init__(self, path: Path, pid: int | None, program: str | None) -> None:
        self.path, self.pid, self.program = path, pid, program
        holder = f"PID {pid}" if pid else "another process"
        if program:
            holder += f" ({Path(program).name})"
        super().__init__(f"store {path} is held by {holder}")


def connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=dict(_CONFIG))
    except duckdb.IOException as exc:
        raise _io_error(path, exc) from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def _io_error(path: Path, exc: duckdb.IOException) -> StoreError:
    """StoreLocked (with the holder DuckDB names) when another process has the file, else StoreError."""
    match = _LOCK_RE.search(str(exc))
    if match or "Could not set lock" in str(exc):
        return StoreLocked(path, int(match["pid"]) if match else None, match["program"] if match else None)
    return StoreError(f"cannot open store {path}: {exc}")


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def private_copy(source: Path, target: Path, *, move: bool = False) -> Path:
    """Copy (or move) `source` to `target` (0600, fsynced); a taken name gets a number."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    if move:
        os.replace(source, candidate)
        os.chmod(candidate, 0o600)
        return candidate
    return copy_private(source, candidate, fsync=True)


def damaged_name(path: Path) -> Path:
    return path.with_name(f"{path.stem}.wal.damaged-{stamp()}")


def read_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The store's commit sequence number (0 before the journal's migration)."""
    exists = scalar(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'store_commits'")
    )
    return int(scalar(con.execute("SELECT max(seq) FROM store_commits")) or 0) if exists else 0


class Finding:
    """A damaged, missing or orphaned WAL found before the writer opened the file."""

    def __init__(
        self,
        kind: str,
        wal_kept: Path | None = None,
        error: str | None = None,
        lost: list[dict[str, Any]] | None = None,
        copied: bool = False,
    ) -> None:
        self.kind, self.wal_kept, self.error, self.lost, self.copied = kind, wal_kept, error, lost, copied


def preflight(path: Path, journal: Journal, repair: bool) -> Finding | None:
    """Before DuckDB opens `path` read-write (and may drop its WAL): compare the journal
    with what a read-only open (which changes no file) recovers; keep a damaged WAL aside."""
    wal = wal_path(path)
    if not path.exists():
        return _without_store(path, wal, journal, repair)
    entries = journal.entries()
    if not wal.exists() or not entries:
        return None
    try:
        con = connect(path, read_only=True)
    except StoreLocked:
        raise
    except StoreError as exc:
        if not repair:
            raise StoreNeedsRepair(str(exc)) from None
        return Finding("wal unreadable", private_copy(wal, damaged_name(path)), error=str(exc), copied=True)
    try:
        seq = read_seq(con)
    finally:
        con.close()
    if not lost_entries(entries, seq):
        return None
    if not repair:
        raise StoreNeedsRepair(f"store {path} lost batches its journal has")
    return Finding("wal damaged", private_copy(wal, damaged_name(path)), copied=True)


def _without_store(path: Path, wal: Path, journal: Journal, repair: bool) -> Finding | None:
    """No store file: a new store, unless a WAL is left of one (kept aside, all of it lost)."""
    if not repair:
        raise StoreMissing(path)
    if not wal.exists():
        if journal.path.exists():
            journal.rewrite([])  # a new store: the old one was removed whole
        return None
    return Finding("orphaned wal", private_copy(wal, damaged_name(path), move=True), lost=journal.entries())


def connect_writable(
    path: Path, finding: Finding | None, repair: bool
) -> tuple[duckdb.DuckDBPyConnection, Finding | None]:
    """Connect read-write; a WAL DuckDB cannot replay is moved aside (when repairing) and becomes the finding."""
    try:
        return connect(path, read_only=False), finding
    except StoreLocked:
        raise
    except StoreError as exc:
        wal = wal_path(path)
        if not wal.exists() or not repair:
            raise
        kept = _move_wal_aside(path, wal, finding)
        return connect(path, read_only=False), Finding("wal unreadable", kept, error=str(exc))


def _move_wal_aside(path: Path, wal: Path, finding: Finding | None) -> Path:
    """Move the WAL to a private damaged copy; an earlier copy of it the preflight made goes."""
    kept = private_copy(wal, damaged_name(path), move=True)
    if finding is not None and finding.copied and finding.wal_kept:
        finding.wal_kept.unlink()
    return kept
