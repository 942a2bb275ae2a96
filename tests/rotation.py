"""Scripted log rotation as logrotate does it, and a collector restarted between every step.

A `Rotation` writes numbered JSON lines to `logs/app.log`, rotates them the ways logrotate
can (rename and create, copytruncate, compress, delaycompress, a rotate count), and runs
the logfile collector as a fresh instance on a freshly opened store each time, as a
restarted `oncall collect --once` would.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

from collectors.logfile import LogfileCollector, LogfileOptions
from collectors.run import run_once
from console.store import Store
from console.store.notes import notes_text

NOW = datetime(2026, 11, 26, 12, 0)


class Rotation:
    """One log directory, its writer, its rotations and its collector runs."""

    def __init__(self, root: Path, glob: str, **options: object) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.log = self.logs / "app.log"
        self.options = {"path": f"logs/{glob}", **options}
        self.written: list[str] = []

    # -- the application ------------------------------------------------------------

    def write(self, count: int, *, unfinished: bool = False) -> None:
        """Append `count` lines, as an application with O_APPEND does."""
        with open(self.log, "a") as fh:
            for _ in range(count):
                message = f"event {len(self.written)}"
                self.written.append(message)
                fh.write(
                    json.dumps({"ts": "2026-11-26T10:00:00Z", "message": message, "pad": "x" * 40}) + "\n"
                )

    # -- logrotate --------------------------------------------------------------------

    def path(self, n: int, gz: bool = False) -> Path:
        return self.logs / (f"app.log.{n}" + (".gz" if gz else ""))

    def shift(self, keep: int, gz_from: int | None = None) -> None:
        """Move app.log.N to app.log.N+1 (oldest deleted past `keep`), compressed from
        `gz_from` on (delaycompress: the newest copy stays plain)."""
        for n in range(keep, 0, -1):
            for gz in (True, False):
                src = self.path(n, gz)
                if not src.exists():
                    continue
                if n == keep:
                    src.unlink()  # rotate count reached: deleted
                    continue
                dst = self.path(n + 1, gz)
                os.rename(src, dst)
                if gz_from is not None and not gz and n + 1 >= gz_from:
                    compress(dst)

    def rename_create(self, keep: int = 5, gz_from: int | None = None) -> None:
        """logrotate's default: rename app.log to app.log.1, create a new app.log."""
        self.shift(keep, gz_from)
        os.rename(self.log, self.path(1))
        if gz_from == 1:
            compress(self.path(1))
        self.log.touch()

    def copytruncate(self, keep: int = 5, gz_from: int | None = None) -> None:
        """logrotate's copytruncate: copy app.log to app.log.1, then truncate app.log."""
        self.shift(keep, gz_from)
        shutil.copyfile(self.log, self.path(1))
        os.truncate(self.log, 0)
        if gz_from == 1:
            compress(self.path(1))

    # -- the collector ------------------------------------------------------------------

    def collect(self) -> int:
        """One run of a new collector on the store opened again; the rows it added."""
        collector = LogfileCollector("app", LogfileOptions(**self.options), base_dir=str(self.root))
        with Store.open(self.root / "store.duckdb") as store:
            outcome = run_once(store, collector, NOW)
        assert outcome.ok, outcome.error
        return outcome.rows

    def stored(self) -> list[str]:
        with Store.open(self.root / "store.duckdb") as store:
            return [r[0] for r in store.query("SELECT message FROM logs")[1]]

    def notes(self) -> str:
        with Store.open(self.root / "store.duckdb") as store:
            rows = store.query("SELECT notes FROM collector_state WHERE name = 'app'")[1]
        return notes_text(rows[0][0]) if rows else ""

    def cursor_files(self) -> list[str]:
        with Store.open(self.root / "store.duckdb") as store:
            files = (store.get_cursor("app") or {}).get("files", {})
        return sorted(os.path.relpath(p, self.logs) for p in files)

    def assert_each_line_once(self) -> None:
        """The stored rows are the written lines: none lost, none twice."""
        stored = self.stored()
        twice = sorted(m for m, n in Counter(stored).items() if n > 1)
        lost = sorted(set(self.written) - set(stored), key=lambda m: int(m.split()[1]))
        assert not twice and not lost, (
            f"{len(twice)} stored twice (e.g. {twice[:3]}), {len(lost)} lost (e.g. {lost[:3]})"
        )
        assert len(stored) == len(self.written)


def compress(path: Path) -> None:
    """gzip the file as logrotate's compress does: write path.gz, then delete path."""
    with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
