"""Opening the DuckDB store: one writer per file, migrations, transactions, cursors."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from console.core import cleanup
from console.core.private import copy_private, private_dir, tighten, warn_if_shared_dir
from console.store.compact import reclaim_space
from console.store.files import (
    Finding,
    StoreError,
    StoreLocked,
    StoreMissing,
    StoreNeedsRepair,
    connect,
    connect_writable,
    preflight,
    read_seq,
)
from console.store.journal import (
    _PENDING,
    Journal,
    journal_path,
    lost_entries,
    note_commit,
    summarize,
    wal_path,
)
from console.store.reclaim import discard_unfinished
from console.store.rows import scalar
from console.store.schema import MIGRATIONS, RETENTION_KINDS, SCHEMA_VERSION
from console.store.shared import LocalShared, SharedTables, close_shared


class SampleWrites:
    """The sample times this process has written to one store file since it opened it for
    writing: caches of finished time blocks (the SLO rollups) check only blocks a write
    could have touched.  A store opened again gets a new log, so nothing is trusted across
    opens (another process may have written in between)."""

    KEPT = 4096

    def __init__(self) -> None:
        self.generation = 0
        self.verified: dict[Any, int] = {}  # what a cache checked -> the generation it did
        self._log: deque[tuple[int, int]] = deque(maxlen=self.KEPT)  # (generation, oldest ms)
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


def _secure(path: Path) -> bool:
    """Whether the store exists; a warning if others can write its directory, and its files
    of ours that others could read are made 0600 (one note)."""
    warn_if_shared_dir(path.parent, "store")
    tighten([path, wal_path(path), journal_path(path)], "store")
    return path.exists()


class Store:
    """One DuckDB file.  Use `Store.open` (writer) or `Store.open_read` (reader)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        *,
        read_only: bool,
        snapshot_of: Path | None = None,
        holder: StoreLocked | None = None,
    ) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self.snapshot_of = snapshot_of
        self.holder = holder
        self._lock = threading.RLock()
        self._snapshot_key: int | None = None  # the cleanup of our snapshot's directory
        self.journal = Journal(journal_path(snapshot_of or path))
        self.unrecorded: list[dict[str, Any]] = []  # lost batches a reader saw, not yet recorded
        self.shared: SharedTables = LocalShared(self)  # or the team's database (console/team/shared.py)

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, repair: bool = True) -> Store:
        """Open read-write, creating and migrating the file; raise StoreLocked if held.

        A WAL that did not survive is kept aside and what was lost recorded (see
        `_settle`); with `repair=False`, raise StoreNeedsRepair (or StoreMissing) instead.
        """
        path = Path(path).expanduser().resolve()
        new = not _secure(path)
        finding = preflight(path, Journal(journal_path(path)), repair)
        private_dir(path.parent)
        con, finding = connect_writable(path, finding, repair)
        if new:
            os.chmod(path, 0o600)  # ours, whatever the umask of whoever called
        store = cls(con, path, read_only=False)
        if not repair and lost_entries(store.journal.entries(), store.commit_seq()):
            store.close()
            raise StoreNeedsRepair(f"store {path} lost batches its journal has")
        store.migrate()
        discard_unfinished(path)  # a rewrite a crash cut short: the store itself is complete
        _SAMPLE_WRITES[path] = SampleWrites()
        store._settle(finding)
        return store

    def _settle(self, finding: Finding | None) -> None:
        """Record batches the journal has and the store lacks, and drop them from the journal."""
        entries = self.journal.entries()
        if finding is not None and finding.lost is not None:
            lost = finding.lost
        else:
            lost = lost_entries(entries, self.commit_seq())
        if finding is None and not lost:
            return
        if finding is None:
            _record_loss(self, "wal missing", lost, wal_kept=None, error=None)
        else:
            self._drop_ignored_wal(finding)
            _record_loss(self, finding.kind, lost, wal_kept=finding.wal_kept, error=finding.error)
        self.con.execute("CHECKPOINT")
        self.journal.rewrite([e for e in entries if e["seq"] <= self.commit_seq()])

    def _drop_ignored_wal(self, finding: Finding) -> None:
        """When the WAL was copied aside: checkpoint, and a WAL DuckDB ignored (garbage) goes; our copy stays."""
        if not finding.copied:
            return
        wal = wal_path(self.path)
        self.con.execute("CHECKPOINT")
        if wal.exists():
            wal.unlink()

    @property
    def sample_writes(self) -> SampleWrites | None:
        """This process's log of sample writes to a store it opened for writing, else None."""
        return None if self.read_only else _SAMPLE_WRITES.get(self.path)

    @classmethod
    def open_read(cls, path: str | os.PathLike[str], *, snapshot: bool = True) -> Store:
        """Open for reading.  If a writer holds the file, read a consistent snapshot of it
        (or, with `snapshot=False`, raise StoreLocked).

        The returned store's `holder` is set when a snapshot was taken, so the caller
        can say who holds the file.
        """
        path = Path(path).expanduser().resolve()
        if not _secure(path):
            raise StoreMissing(path)
        entries = Journal(journal_path(path)).entries()  # before opening: all committed
        try:
            con = connect(path, read_only=True)
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
    def _snapshot(cls, path: Path, locked: StoreLocked) -> Store:
        last_error: Exception = locked
        for _ in range(5):
            try:
                return cls._private_copy_of(path, locked)
            except (OSError, StoreError, duckdb.Error) as exc:
                last_error = exc
        raise StoreError(f"{locked}; and a read-only snapshot failed: {last_error}")

    @classmethod
    def _private_copy_of(cls, path: Path, locked: StoreLocked | None) -> Store:
        """A read-only view of a temporary copy of the file and its WAL, migrated if older:
        the original is never written."""
        tmp = tempfile.mkdtemp(prefix="oncall-snapshot-")  # 0700
        key = cleanup.remove_at_exit(tmp)  # also on SIGTERM, SIGINT, SIGHUP
        copy = Path(tmp) / path.name
        try:
            before = path.stat().st_mtime_ns
            copy_private(path, copy)
            wal = wal_path(path)
            if wal.exists():
                copy_private(wal, wal_path(copy))
            if path.stat().st_mtime_ns != before:
                raise StoreError("store changed while copying")
            # Replaying a copied WAL needs a writable open; the copy is ours alone.
            con = connect(copy, read_only=False)
            con.execute("CHECKPOINT")
            store = cls(con, copy, read_only=True, snapshot_of=path, holder=locked)
            store._snapshot_key = key
            if store.schema_version() > SCHEMA_VERSION:
                version = store.schema_version()
                store.close()
                raise StoreError(
                    f"store {path} has schema version {version}, newer than "
                    f"this oncall ({SCHEMA_VERSION}); upgrade oncall"
                )
            store.read_only = False
            try:
                store.migrate()
            finally:
                store.read_only = True
            return store
        except BaseException:
            cleanup.now(key)
            raise

    def close(self) -> None:
        try:
            close_shared(self)
            self.con.close()
        finally:
            cleanup.now(self._snapshot_key)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = scalar(
            self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
            )
        )
        if not exists:
            return 0
        return int(scalar(self.con.execute("SELECT max(version) FROM schema_version")) or 0)

    def commit_seq(self) -> int:
        """The sequence number of the last journaled commit the store holds."""
        return read_seq(self.con)

    def migrate(self) -> int:
        """Apply every migration the file lacks, each in its own transaction."""
        self.con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
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
                self._keep_wal_private()
                if "seq" in entry:
                    entry.setdefault(
                        "at", datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
                    )
                    self.journal.append(
                        {
                            "seq": entry["seq"],
                            "at": entry["at"],
                            "rows": entry["rows"],
                            "cursors": entry["cursors"],
                        }
                    )
            finally:
                _PENDING.pop(id(cur), None)
                cur.close()

    def _keep_wal_private(self) -> None:
        """DuckDB makes a new WAL after each checkpoint with the process's umask; the CLI's
        is 077, and a library caller's WAL is made 0600 here, after the commit that made it."""
        wal = wal_path(self.path)
        try:
            if os.stat(wal).st_mode & 0o077:
                os.chmod(wal, 0o600)
        except FileNotFoundError:
            pass  # checkpointed meanwhile: no WAL to keep private

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
    def set_cursor(
        cur: duckdb.DuckDBPyConnection, name: str, cursor: dict[str, Any], rows: int, now: datetime
    ) -> None:
        """Record a collector's cursor inside the caller's transaction (and journal it, with
        `rows` unless the transaction already journaled its rows, as `ingest_*` do)."""
        noted = _PENDING.get(id(cur), {}).get("rows")
        note_commit(
            cur, table=None if noted else name, rows=0 if noted else rows, cursor=(name, cursor), now=now
        )
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
        """Mark a collector unhealthy with its last error, secrets taken out of the text."""
        from console.core.secrets import redact

        error = redact(error)
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

    def apply_retention(
        self, now: datetime, days: dict[str, float], *, reclaim: bool = True
    ) -> dict[str, int]:
        """Delete rows older than `days[kind]` days before `now`; return rows removed per kind.

        With `reclaim`, the space the rows held goes back to the disk (compact.reclaim_space:
        a checkpoint, and a file rewrite when much is free).  A process whose other threads
        hold cursors (the console) passes False: DuckDB reuses the freed blocks, and
        `oncall compact` gives the space back when the file is free to rewrite."""
        removed: dict[str, int] = {}
        with self.transaction() as cur:
            for kind, keep_days in days.items():
                if kind not in RETENTION_KINDS:
                    raise StoreError(f"unknown retention kind {kind!r}; known: {', '.join(RETENTION_KINDS)}")
                table, column = RETENTION_KINDS[kind]
                cutoff = now - timedelta(days=keep_days)
                cur.execute(f'DELETE FROM "{table}" WHERE "{column}" < ?', [cutoff])
                removed[kind] = scalar(cur)
            if "samples" in days:
                cutoff_ms = int(
                    (now - timedelta(days=days["samples"]) - datetime(1970, 1, 1)).total_seconds() * 1000
                )
                cur.execute("DELETE FROM slo_rollups WHERE start_ms + length_ms <= ?", [cutoff_ms])
                if self.sample_writes is not None and removed["samples"]:
                    self.sample_writes.note(0)
                cur.execute("DELETE FROM series WHERE id NOT IN (SELECT DISTINCT series_id FROM samples)")
        if reclaim and any(removed.values()):
            reclaim_space(self)
        return removed


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _record_loss(
    store: Store, kind: str, lost: list[dict[str, Any]], *, wal_kept: Path | None, error: str | None
) -> None:
    """Record a finding in `store_integrity`, so it stays visible after the next open
    (console/store/integrity.py reads it)."""
    summary = summarize(lost)
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO store_integrity VALUES (nextval('integrity_id_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None),
                kind,
                summary["batches"],
                summary["rows"],
                _time(summary["first_at"]),
                _time(summary["last_at"]),
                str(wal_kept) if wal_kept else None,
                error,
                json.dumps(lost),
            ],
        )
