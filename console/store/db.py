"""Opening the DuckDB store: one writer per file, migrations, transactions, cursors."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import duckdb

from console.store.journal import Journal, journal_path, lost_entries, wal_path
from console.store.schema import MIGRATIONS, RETENTION_KINDS, SCHEMA_VERSION

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}


class StoreError(Exception):
    """A store problem with a message fit to show a user on one line."""


class StoreMissing(StoreError):
    """A read found no store file (reads never create one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        wal = wal_path(path)
        left = (f"; its WAL {wal} is left from a removed store: the next write sets it aside "
                "and reports what was lost") if wal.exists() else ""
        super().__init__(f"store {path} does not exist; `oncall collect`, `oncall import` or "
                         f"the console create it{left}")


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


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=dict(_CONFIG))
    except duckdb.IOException as exc:
        match = _LOCK_RE.search(str(exc))
        if match or "Could not set lock" in str(exc):
            raise StoreLocked(
                path,
                int(match["pid"]) if match else None,
                match["program"] if match else None,
            ) from None
        raise StoreError(f"cannot open store {path}: {exc}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


class SampleWrites:
    """The sample times this process has written to one store file since it opened it for
    writing: caches of finished time blocks (the SLO rollups) check only blocks a write
    could have touched.  A store opened again gets a new log, so nothing is trusted across
    opens (another process may have written in between)."""

    KEPT = 4096

    def __init__(self) -> None:
        self.generation = 0
        self.verified: dict[Any, int] = {}   # what a cache checked -> the generation it did
        self._log: deque[tuple[int, int]] = deque(maxlen=self.KEPT)   # (generation, oldest ms)
        self._lock = threading.Lock()

    def note(self, oldest_ms: int) -> None:
        """Samples at or after `oldest_ms` (epoch ms) were written or deleted."""
        with self._lock:
            self.generation += 1
            self._log.append((self.generation, oldest_ms))

    def oldest_since(self, generation: int | None) -> int | None:
        """The oldest sample time written after `generation`; None if nothing was; 0 (all)
        when `generation` is unknown or older than the log."""
        with self._lock:
            if generation is None or (self._log and self._log[0][0] > generation + 1):
                return 0
            newer = [ms for gen, ms in self._log if gen > generation]
            return min(newer) if newer else None


_SAMPLE_WRITES: dict[Path, SampleWrites] = {}

# The journal entry a transaction is building, by id of the transaction's cursor.
_PENDING: dict[int, dict[str, Any]] = {}


def note_commit(cur: duckdb.DuckDBPyConnection, *, table: str | None = None, rows: int = 0,
                cursor: tuple[str, Any] | None = None, now: datetime | None = None) -> None:
    """Journal what this transaction commits (rows into `table`, a cursor moved); bumps the
    store's commit sequence number in the same transaction.  Outside `Store.transaction`
    (a bare cursor) nothing is journaled."""
    entry = _PENDING.get(id(cur))
    if entry is None or (not rows and cursor is None):
        return
    if "seq" not in entry:
        entry["seq"] = cur.execute(
            "UPDATE store_commits SET seq = seq + 1 RETURNING seq").fetchone()[0]
    if now is not None:
        entry["at"] = now.isoformat(timespec="seconds")
    if table is not None:
        entry["rows"][table] = entry["rows"].get(table, 0) + int(rows)
    if cursor is not None:
        entry["cursors"][cursor[0]] = cursor[1]


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _private_copy(source: Path, target: Path, *, move: bool = False) -> Path:
    """Copy (or move) `source` to `target` (0600, fsynced); a taken name gets a number."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    if move:
        os.replace(source, candidate)
        os.chmod(candidate, 0o600)
        return candidate
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    return candidate


def _damaged_name(path: Path) -> Path:
    return path.with_name(f"{path.stem}.wal.damaged-{_stamp()}")


def _read_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The store's commit sequence number (0 before the journal's migration)."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'store_commits'").fetchone()[0]
    return int(con.execute("SELECT max(seq) FROM store_commits").fetchone()[0] or 0) if exists else 0


class _Finding:
    """A damaged, missing or orphaned WAL found before the writer opened the file."""

    def __init__(self, kind: str, wal_kept: Path | None = None, error: str | None = None,
                 lost: list[dict[str, Any]] | None = None, copied: bool = False) -> None:
        self.kind, self.wal_kept, self.error, self.lost, self.copied = kind, wal_kept, error, lost, copied


def _preflight(path: Path, journal: Journal, repair: bool) -> _Finding | None:
    """Before DuckDB opens `path` read-write (and may drop its WAL): compare the journal
    with what a read-only open (which changes no file) recovers; keep a damaged WAL aside."""
    wal = wal_path(path)
    if not path.exists():
        if not repair:
            raise StoreMissing(path)
        if not wal.exists():
            if journal.path.exists():
                journal.rewrite([])        # a new store: the old one was removed whole
            return None
        return _Finding("orphaned wal", _private_copy(wal, _damaged_name(path), move=True),
                        lost=journal.entries())
    entries = journal.entries()
    if not wal.exists() or not entries:
        return None
    try:
        con = _connect(path, read_only=True)
    except StoreLocked:
        raise
    except StoreError as exc:
        if not repair:
            raise StoreNeedsRepair(str(exc)) from None
        return _Finding("wal unreadable", _private_copy(wal, _damaged_name(path)),
                        error=str(exc), copied=True)
    try:
        seq = _read_seq(con)
    finally:
        con.close()
    if not lost_entries(entries, seq):
        return None
    if not repair:
        raise StoreNeedsRepair(f"store {path} lost batches its journal has")
    return _Finding("wal damaged", _private_copy(wal, _damaged_name(path)), copied=True)


class Store:
    """One DuckDB file.  Use `Store.open` (writer) or `Store.open_read` (reader)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool,
                 snapshot_of: Path | None = None, holder: StoreLocked | None = None) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self.snapshot_of = snapshot_of
        self.holder = holder
        self._lock = threading.RLock()
        self._snapshot_dir: str | None = None
        self.journal = Journal(journal_path(snapshot_of or path))
        self.unrecorded: list[dict[str, Any]] = []   # lost batches a reader saw, not yet recorded

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, repair: bool = True) -> "Store":
        """Open read-write, creating and migrating the file; raise StoreLocked if held.

        A WAL that did not survive is kept aside and what was lost recorded (see
        `_settle`); with `repair=False`, raise StoreNeedsRepair (or StoreMissing) instead.
        """
        path = Path(path).expanduser().resolve()
        finding = _preflight(path, Journal(journal_path(path)), repair)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = _connect(path, read_only=False)
        except StoreLocked:
            raise
        except StoreError as exc:
            wal = wal_path(path)
            if not wal.exists() or not repair:
                raise
            kept = _private_copy(wal, _damaged_name(path), move=True)
            if finding is not None and finding.copied and finding.wal_kept:
                finding.wal_kept.unlink()
            finding = _Finding("wal unreadable", kept, error=str(exc))
            con = _connect(path, read_only=False)
        store = cls(con, path, read_only=False)
        if not repair and lost_entries(store.journal.entries(), store.commit_seq()):
            store.close()
            raise StoreNeedsRepair(f"store {path} lost batches its journal has")
        store.migrate()
        _SAMPLE_WRITES[path] = SampleWrites()
        store._settle(finding)
        return store

    def _settle(self, finding: _Finding | None) -> None:
        """Record batches the journal has and the store lacks, and drop them from the journal."""
        from console.store.integrity import record_loss

        entries = self.journal.entries()
        lost = finding.lost if finding is not None and finding.lost is not None else \
            lost_entries(entries, self.commit_seq())
        if finding is None and not lost:
            return
        wal = wal_path(self.path)
        if finding is not None and finding.copied:
            self.con.execute("CHECKPOINT")
            if wal.exists():          # DuckDB ignored it (garbage): our copy is the one kept
                wal.unlink()
        record_loss(self, finding.kind if finding else "wal missing", lost,
                    wal_kept=finding.wal_kept if finding else None,
                    error=finding.error if finding else None)
        self.con.execute("CHECKPOINT")
        self.journal.rewrite([e for e in entries if e["seq"] <= self.commit_seq()])

    @property
    def sample_writes(self) -> SampleWrites | None:
        """This process's log of sample writes to a store it opened for writing, else None."""
        return None if self.read_only else _SAMPLE_WRITES.get(self.path)

    @classmethod
    def open_read(cls, path: str | os.PathLike[str], *, snapshot: bool = True) -> "Store":
        """Open for reading.  If a writer holds the file, read a consistent snapshot of it
        (or, with `snapshot=False`, raise StoreLocked).

        The returned store's `holder` is set when a snapshot was taken, so the caller
        can say who holds the file.
        """
        path = Path(path).expanduser().resolve()
        if not path.exists():
            raise StoreMissing(path)
        entries = Journal(journal_path(path)).entries()   # before opening: all committed
        try:
            con = _connect(path, read_only=True)
        except StoreLocked as locked:
            if not snapshot:
                raise
            store = cls._snapshot(path, locked)
        else:
            store = cls(con, path, read_only=True)
            if store.schema_version() < SCHEMA_VERSION:
                store.close()
                store = cls._private_copy_of(path, None)
        store.unrecorded = lost_entries(entries, store.commit_seq())
        return store

    @classmethod
    def _snapshot(cls, path: Path, locked: StoreLocked) -> "Store":
        last_error: Exception = locked
        for _ in range(5):
            try:
                return cls._private_copy_of(path, locked)
            except (OSError, StoreError, duckdb.Error) as exc:
                last_error = exc
        raise StoreError(f"{locked}; and a read-only snapshot failed: {last_error}")

    @classmethod
    def _private_copy_of(cls, path: Path, locked: StoreLocked | None) -> "Store":
        """A read-only view of a temporary copy of the file and its WAL, migrated if older:
        the original is never written."""
        tmp = tempfile.mkdtemp(prefix="oncall-snapshot-")
        copy = Path(tmp) / path.name
        try:
            before = path.stat().st_mtime_ns
            shutil.copy2(path, copy)
            wal = wal_path(path)
            if wal.exists():
                shutil.copy2(wal, wal_path(copy))
            if path.stat().st_mtime_ns != before:
                raise StoreError("store changed while copying")
            # Replaying a copied WAL needs a writable open; the copy is ours alone.
            con = _connect(copy, read_only=False)
            con.execute("CHECKPOINT")
            store = cls(con, copy, read_only=True, snapshot_of=path, holder=locked)
            store._snapshot_dir = tmp
            if store.schema_version() > SCHEMA_VERSION:
                version = store.schema_version()
                store.close()
                raise StoreError(f"store {path} has schema version {version}, newer than "
                                 f"this oncall ({SCHEMA_VERSION}); upgrade oncall")
            store.read_only = False
            try:
                store.migrate()
            finally:
                store.read_only = True
            return store
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            if self._snapshot_dir:
                shutil.rmtree(self._snapshot_dir, ignore_errors=True)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def commit_seq(self) -> int:
        """The sequence number of the last journaled commit the store holds."""
        return _read_seq(self.con)

    def migrate(self) -> int:
        """Apply every migration the file lacks, each in its own transaction."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)"
        )
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {current}, newer than this oncall "
                f"({SCHEMA_VERSION}); upgrade oncall"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as cur:
                cur.execute(MIGRATIONS[version - 1])
                cur.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
        return SCHEMA_VERSION - current

    # -- access ---------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread; DuckDB cursors are not shared across threads."""
        return self.con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction on a fresh cursor; roll back on any error."""
        self._require_writable()
        with self._lock:
            cur = self.con.cursor()
            entry: dict[str, Any] = {"rows": {}, "cursors": {}}
            _PENDING[id(cur)] = entry
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
                if "seq" in entry:
                    entry.setdefault("at", datetime.now(timezone.utc).replace(tzinfo=None)
                                     .isoformat(timespec="seconds"))
                    self.journal.append({"seq": entry["seq"], "at": entry["at"],
                                         "rows": entry["rows"], "cursors": entry["cursors"]})
            finally:
                _PENDING.pop(id(cur), None)
                cur.close()

    def _require_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.snapshot_of or self.path} is open read-only")

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cur = self.cursor()
        try:
            cur.execute(sql, params or [])
            columns = [d[0] for d in cur.description or []]
            return columns, cur.fetchall()
        finally:
            cur.close()

    def count(self, table: str) -> int:
        return self.query(f'SELECT count(*) FROM "{table}"')[1][0][0]

    # -- collector state ------------------------------------------------------------

    def get_cursor(self, name: str) -> dict[str, Any] | None:
        rows = self.query("SELECT cursor FROM collector_state WHERE name = ?", [name])[1]
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    @staticmethod
    def set_cursor(cur: duckdb.DuckDBPyConnection, name: str, cursor: dict[str, Any],
                   rows: int, now: datetime) -> None:
        """Record a collector's cursor inside the caller's transaction (and journal it)."""
        note_commit(cur, cursor=(name, cursor), now=now)
        cur.execute(
            """
            INSERT INTO collector_state (name, cursor, healthy, last_success, rows_ingested, updated_at)
            VALUES (?, ?, true, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, healthy = true,
                last_success = excluded.last_success, updated_at = excluded.updated_at,
                rows_ingested = collector_state.rows_ingested + excluded.rows_ingested
            """,
            [name, json.dumps(cursor), now, rows, now],
        )

    def record_failure(self, name: str, error: str, now: datetime) -> None:
        with self.transaction() as cur:
            cur.execute(
                """
                INSERT INTO collector_state (name, healthy, last_error, last_error_at, updated_at)
                VALUES (?, false, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET healthy = false, last_error = excluded.last_error,
                    last_error_at = excluded.last_error_at, updated_at = excluded.updated_at
                """,
                [name, error[:2000], now, now],
            )

    # -- retention ------------------------------------------------------------------

    def apply_retention(self, now: datetime, days: dict[str, float]) -> dict[str, int]:
        """Delete rows older than `days[kind]` days before `now`; return rows removed per kind."""
        removed: dict[str, int] = {}
        with self.transaction() as cur:
            for kind, keep_days in days.items():
                if kind not in RETENTION_KINDS:
                    raise StoreError(
                        f"unknown retention kind {kind!r}; known: {', '.join(RETENTION_KINDS)}"
                    )
                table, column = RETENTION_KINDS[kind]
                cutoff = now - timedelta(days=keep_days)
                cur.execute(f'DELETE FROM "{table}" WHERE "{column}" < ?', [cutoff])
                removed[kind] = cur.fetchone()[0]
            if "samples" in days:
                cutoff_ms = int((now - timedelta(days=days["samples"]) - datetime(1970, 1, 1))
                                .total_seconds() * 1000)
                cur.execute("DELETE FROM slo_rollups WHERE start_ms + length_ms <= ?", [cutoff_ms])
                if self.sample_writes is not None and removed["samples"]:
                    self.sample_writes.note(0)
                cur.execute(
                    "DELETE FROM series WHERE id NOT IN (SELECT DISTINCT series_id FROM samples)"
                )
        return removed
