"""The last good text of each config file, kept in the store, and what failed to load.

`console.runtime.lastgood` loads each file of a workspace on its own with `load_one`: a file that
fails keeps its last good version in force.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from console.config.yamlmarks import Problem, read_text
from console.core.secrets import mask_urls

if TYPE_CHECKING:
    from console.store import Store

T = TypeVar("T")


# -- the store's record ---------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """A file's last version that loaded."""

    text: str
    sha256: str
    loaded_at: datetime
    kind: str = ""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LastGood:
    """The last good text of each config file, in the store's `config_files` table."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._kept: dict[str, Kept] | None = None

    def _all(self) -> dict[str, Kept]:
        if self._kept is None:
            self._kept = {}
            if self.store is None:  # no store yet: nothing was ever kept
                return self._kept
            tables = self.store.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'config_files'"
            )[1][0][0]
            if tables:  # a snapshot of an older store has none yet
                for path, text, sha, loaded_at, kind in self.store.query(
                    "SELECT path, text, sha256, loaded_at, kind FROM config_files"
                )[1]:
                    self._kept[path] = Kept(text, sha, loaded_at, kind)
        return self._kept

    def get(self, path: str | Path) -> Kept | None:
        return self._all().get(str(path))

    def of_kind(self, kind: str) -> dict[str, Kept]:
        return {path: kept for path, kept in self._all().items() if kept.kind == kind}

    def keep(self, path: str | Path, kind: str, text: str, now: datetime) -> None:
        """Record `text` as the file's last good version (when the store is writable).

        URLs are kept masked (`user:pw@` and `?token=` values as `***`), as is all text in
        the store; `sha256` is the file's own."""
        if self.store is None or self.store.read_only:
            return
        sha = _sha(text)
        known = self.get(path)
        if known is not None and known.sha256 == sha:
            return
        text = mask_urls(text)
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO config_files (path, kind, sha256, text, loaded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [str(path), kind, sha, text, now],
            )
        self._all()[str(path)] = Kept(text, sha, now, kind)


# -- what failed -----------------------------------------------------------------------


@dataclass
class FileProblem:
    """A config file that did not load, and what is in force instead."""

    file: str
    kind: str
    problems: list[Problem]
    last_good_at: datetime | None = None

    @property
    def in_force(self) -> str:
        if self.last_good_at is not None:
            return f"last good version from {self.last_good_at:%Y-%m-%d %H:%M:%S} UTC still in force"
        return "no last good version: nothing from it is in force, its alerts keep their state (stale)"

    def lines(self, root: str | Path | None = None) -> list[str]:
        """One line per problem: `file:line: what — what is in force` (files relative to
        `root` when given)."""
        return [
            f"{problem.relative_to(root)} — {self.in_force}"
            for problem in self.problems or [Problem(self.file, None, "does not load")]
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "problems": [str(p) for p in self.problems],
            "last_good_at": self.last_good_at,
            "in_force": self.in_force,
        }


def load_one(
    kept: LastGood,
    path: Path,
    kind: str,
    parse: Callable[[str], T],
    now: datetime,
    problems: list[FileProblem],
    status: dict[str, str],
) -> T | None:
    """Load `path` with `parse(text)` (which raises Failed); on failure its last good version."""
    try:
        try:
            text = read_text(path)
        except Problem as problem:
            raise Failed([problem]) from None
        value = parse(text)
    except Failed as failed:
        last = kept.get(path)
        fallback = None
        if last is not None:
            try:
                fallback = parse(last.text)
            except Failed:
                last = None  # no longer loads (e.g. an older oncall's format)
        problems.append(FileProblem(str(path), kind, failed.problems, last.loaded_at if last else None))
        status[str(path)] = "last-good" if last else "failed"
        return fallback
    kept.keep(path, kind, text, now)
    status[str(path)] = "current"
    return value


class Failed(Exception):
    """What `parse` raises for a file that does not load."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems
