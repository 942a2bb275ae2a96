"""What a store costs on disk: its file and write-ahead log, bytes per sample, rows per table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.store.journal import wal_path
from console.store.reclaim import block_usage

if TYPE_CHECKING:
    from console.store.db import Store


def footprint(store: Store) -> dict[str, Any]:
    """The store's size on disk (file and WAL of the user's file, not of a snapshot), bytes
    per sample, the share of the file's blocks that are free, and the rows of every table."""
    path = store.snapshot_of or store.path
    file_bytes = path.stat().st_size
    wal = wal_path(path)
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    tables = [
        name
        for (name,) in store.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        )[1]
    ]
    # samples live in `sample_rows` behind the view `samples`: listed by the name queries use
    rows = {("samples" if name == "sample_rows" else name): store.count(name) for name in tables}
    total, free = block_usage(store.con)
    samples = rows.get("samples", 0)
    return {
        "bytes": file_bytes + wal_bytes,
        "file_bytes": file_bytes,
        "wal_bytes": wal_bytes,
        "bytes_per_sample": round((file_bytes + wal_bytes) / samples, 2) if samples else None,
        "free_share": round(free / total, 3) if total else 0.0,
        "rows": rows,
    }


def size_text(n: float) -> str:
    """Bytes as a reader says them: 9.19 MB, 512 kB, 800 B (powers of 1000)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def footprint_lines(found: dict[str, Any]) -> list[str]:
    """The footprint as `oncall check` prints it, under the store's line."""
    per_sample = found["bytes_per_sample"]
    size = f"    size        {size_text(found['bytes'])}"
    if found["wal_bytes"]:
        size += f" (WAL {size_text(found['wal_bytes'])})"
    size += f", {per_sample:,.1f} bytes per sample" if per_sample is not None else ", no samples"
    size += f", {found['free_share']:.0%} of the file free"
    kept = sorted(((n, t) for t, n in found["rows"].items() if n), key=lambda item: (-item[0], item[1]))
    empty = len(found["rows"]) - len(kept)
    lines = [size, "    rows"]
    lines += [f"      {table:<22} {n:>12,}" for n, table in kept]
    if empty:
        lines.append(f"      ({empty} empty table{'' if empty == 1 else 's'})")
    return lines
