"""The commit journal beside a store: what each committed batch was, to tell a lost WAL.

Every transaction that ingests rows or moves a collector's cursor also bumps a commit
sequence number inside the store (`store_commits.seq`).  After it commits, one JSON line
is appended to `STORE.journal` (0600, fsynced): the sequence number, the time, the rows
per table and the cursors it moved.  On open, journal entries newer than the store's
sequence number are batches whose WAL did not survive.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

KEEP = 1000  # entries kept when the journal is compacted (it is compacted at twice that)

# The journal entry a transaction is building, by id of the transaction's cursor.
_PENDING: dict[int, dict[str, Any]] = {}


def note_commit(
    cur: Any,
    *,
    table: str | None = None,
    rows: int = 0,
    cursor: tuple[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Journal what this transaction commits (rows into `table`, a cursor moved); bumps the
    store's commit sequence number in the same transaction.  Outside `Store.transaction`
    (a bare cursor) nothing is journaled."""
    entry = _PENDING.get(id(cur))
    if entry is None or (not rows and cursor is None):
        return
    if "seq" not in entry:
        entry["seq"] = cur.execute("UPDATE store_commits SET seq = seq + 1 RETURNING seq").fetchone()[0]
    _add_to(entry, table, rows, cursor, now)


def _add_to(
    entry: dict[str, Any], table: str | None, rows: int, cursor: tuple[str, Any] | None, now: datetime | None
) -> None:
    """Fold one write (rows into `table`, a cursor moved, at `now`) into the transaction's entry."""
    if now is not None:
        entry["at"] = now.isoformat(timespec="seconds")
    if table is not None:
        entry["rows"][table] = entry["rows"].get(table, 0) + int(rows)
    if cursor is not None:
        entry["cursors"][cursor[0]] = cursor[1]


def journal_path(store_path: Path) -> Path:
    """`STORE.journal` for `STORE.duckdb`."""
    return store_path.with_suffix(".journal")


def wal_path(store_path: Path) -> Path:
    """DuckDB's write-ahead log of a store file."""
    return store_path.with_name(store_path.name + ".wal")


class Journal:
    """The append-only, size-bounded commit journal of one store file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: int | None = None

    def entries(self) -> list[dict[str, Any]]:
        """The journal's entries, oldest first; a line torn by a crash is left out."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("seq"), int):
                entries.append(entry)
        self._lines = len(entries)
        return entries

    def append(self, entry: dict[str, Any]) -> None:
        """Add one entry and fsync; compact to the last KEEP entries when it grows past 2×KEEP."""
        if self._lines is None:
            self.entries()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self._lines = (self._lines or 0) + 1
        if self._lines > 2 * KEEP:
            self.rewrite(self.entries()[-KEEP:])

    def rewrite(self, entries: list[dict[str, Any]]) -> None:
        """Replace the journal with `entries`, atomically."""
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            os.write(fd, "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._lines = len(entries)


def lost_entries(entries: list[dict[str, Any]], store_seq: int) -> list[dict[str, Any]]:
    """Journal entries the store does not hold: newer than its commit sequence number."""
    return [e for e in entries if e["seq"] > store_seq]


def summarize(lost: list[dict[str, Any]]) -> dict[str, Any]:
    """Batches, rows, time span and sources (collectors, import files) of lost entries."""
    sources = _sources(lost)
    times = sorted(e["at"] for e in lost if e.get("at"))
    return {
        "batches": len(lost),
        "rows": sum(sum(e.get("rows", {}).values()) for e in lost),
        "first_at": times[0] if times else None,
        "last_at": times[-1] if times else None,
        "sources": sources,
    }


def _sources(lost: list[dict[str, Any]]) -> list[str]:
    """The collectors and import files that wrote the batches; "(no cursor)" for a batch with none."""
    return sorted(
        {name.removeprefix("import:") for e in lost for name in e.get("cursors", {})}
        | {"(no cursor)" for e in lost if not e.get("cursors")}
    )


def _as_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def reached(current: Any, lost: Any) -> bool:
    """Whether a collector's cursor `current` is at or past the `lost` one (per key)."""
    if current == lost:
        return True
    if isinstance(lost, dict) and isinstance(current, dict):
        return _reached_keys(current, lost)
    if _numeric(lost) and isinstance(current, (int, float)):
        return current >= lost
    if isinstance(lost, str) and isinstance(current, str):
        return _time_reached(current, lost)
    return False


def _reached_keys(current: dict[str, Any], lost: dict[str, Any]) -> bool:
    """Every key of the lost cursor is present in the current one and reached there."""
    return all(k in current and reached(current[k], v) for k, v in lost.items())


def _numeric(lost: Any) -> bool:
    """A number cursor (a flag is not one: True is no position)."""
    return isinstance(lost, (int, float)) and not isinstance(lost, bool)


def _time_reached(current: str, lost: str) -> bool:
    """Two timestamps in the same zone (or both naive), the current at or after the lost."""
    a, b = _as_time(current), _as_time(lost)
    return a is not None and b is not None and a.tzinfo == b.tzinfo and a >= b


def pending_cursors(lost: list[dict[str, Any]], cursors: dict[str, Any]) -> list[str]:
    """Cursor names whose lost range the store's `cursors` have not read again yet."""
    last: dict[str, Any] = {}
    for entry in lost:
        last.update(entry.get("cursors", {}))
    return sorted(
        name for name, position in last.items() if not (name in cursors and reached(cursors[name], position))
    )
