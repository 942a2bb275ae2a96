"""Which file is which: log file identity, rotation and copies, as the log shippers do it.

A tracked file is an entry in the logfile cursor: where it is (`dev`, `ino`), the `origin`
its rows are stored under, how far it was read (`offset`) and a fingerprint of its first
bytes (`head`, the sha256 of the first `head_len` bytes, up to `HEAD_BYTES`, as Filebeat's
`fingerprint` identity and Fluent Bit do).  Each run `plan_run` matches what the glob finds
against the entries: by inode while the fingerprint still holds; a file whose size fell
below its offset or whose head changed was truncated (copytruncate) and starts again from 0;
a file with an unknown inode but a known fingerprint is a copy (a rotated `app.log.1`) and
carries on from the known offset under the same origin, so rows keyed by (origin, offset)
are never stored twice.  A gone file's entry is dropped once what was left of it was read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Entry = dict[str, Any]

HEAD_BYTES = 1024
# Compressed rotations: never read as text; gzip on request (`read_gzip: true`).
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".z")
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def fingerprint(head: bytes) -> str:
    """The fingerprint of a file's first bytes."""
    return hashlib.sha256(head).hexdigest()[:16]  # as cursors before 1 KiB heads kept it


def read_head(path: str, gzipped: bool = False) -> bytes:
    """Up to HEAD_BYTES of a file's first bytes (decompressed for gzip)."""
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def is_compressed(path: str) -> bool:
    """Whether the file is a compressed rotation (by its name, as logrotate names them)."""
    return path.lower().endswith(COMPRESSED)


def matches(head: bytes, entry: Entry) -> bool:
    """Whether `head` starts with the bytes the entry's fingerprint was taken over."""
    length = int(entry.get("head_len") or 0)
    return 0 < length <= len(head) and fingerprint(head[:length]) == entry.get("head")


def intact(path: str, size: int, entry: Entry) -> bool:
    """The file still holds what the entry read: not shorter, same first bytes."""
    if size < int(entry["offset"]):
        return False
    return not entry.get("head_len") or matches(read_head(path), entry)


def grow_head(entry: Entry, path: str) -> None:
    """Take the fingerprint over more of what was read, up to HEAD_BYTES."""
    length = min(HEAD_BYTES, int(entry["offset"]))
    if length > int(entry.get("head_len") or 0):
        entry["head_len"] = length
        entry["head"] = fingerprint(read_head(path)[:length])


def new_entry(origin: str, st: os.stat_result, **extra: Any) -> Entry:
    return {
        "origin": origin,
        "dev": st.st_dev,
        "ino": st.st_ino,
        "offset": 0,
        "head_len": 0,
        "head": "",
        **extra,
    }


def moved_to(entry: Entry, st: os.stat_result) -> Entry:
    """The same entry, now at the file `st` describes."""
    entry.update(dev=st.st_dev, ino=st.st_ino)
    return entry


@dataclass
class Read:
    """One file to read this run, from its entry's offset; `final` takes an unfinished last
    line too (nobody writes to a rotated copy); `keep` leaves the entry tracked afterwards."""

    path: str
    entry: Entry
    final: bool = False
    gzipped: bool = False
    keep: bool = True


@dataclass
class Plan:
    """What one run reads, the entries it tracks, and what the engineer should be told."""

    tracked: dict[str, Entry] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # compressed files left unread
    standing: list[str] = field(default_factory=list)  # true while the files stay as they are
    events: list[str] = field(default_factory=list)  # happened once, this run


@dataclass
class _Run:
    files: dict[str, Entry]
    present: dict[str, os.stat_result]
    read_gzip: bool
    next_gen: int
    plan: Plan = field(default_factory=Plan)
    orphans: list[tuple[str, Entry, bool]] = field(default_factory=list)  # path, entry, truncated

    def origin(self, path: str) -> str:
        self.next_gen += 1
        return f"{path}#{self.next_gen - 1}"


def scan(paths: Iterable[str]) -> dict[str, os.stat_result]:
    """Regular files among `paths` with their stat; a file gone meanwhile is left out."""
    present = {}
    for path in sorted(paths):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if os.path.isfile(path):
            present[path] = st
    return present


def plan_run(
    files: dict[str, Entry], present: dict[str, os.stat_result], *, read_gzip: bool, next_gen: int
) -> tuple[Plan, int]:
    """Match the files the glob found against the tracked entries; say what to read."""
    run = _Run(files, present, read_gzip, next_gen)
    _attach_by_inode(run)
    _identify_new(run)
    _identify_compressed(run)
    _settle_orphans(run)
    run.plan.reads.extend(
        Read(path, entry) for path, entry in run.plan.tracked.items() if not entry.get("gzip")
    )
    return run.plan, run.next_gen


def _attach_by_inode(run: _Run) -> None:
    """Entries whose inode still holds their bytes keep following it, wherever it moved."""
    by_inode = {(st.st_dev, st.st_ino): path for path, st in run.present.items()}
    tracked = run.plan.tracked
    for old_path, entry in run.files.items():
        where = by_inode.get((entry["dev"], entry["ino"]))
        if entry.get("gzip"):
            _attach_gzip(run, entry, where)
        elif where is not None and where not in tracked:
            if intact(where, run.present[where].st_size, entry):
                tracked[where] = entry
            else:  # truncated or replaced in place; elsewhere: a reused inode
                run.orphans.append((old_path, entry, where == old_path))
        else:
            _follow_out_of_glob(run, old_path, entry)


def _attach_gzip(run: _Run, entry: Entry, where: str | None) -> None:
    """A .gz is read once, maybe renamed since; a gone one is forgotten."""
    if where is not None and where not in run.plan.tracked:
        run.plan.tracked[where] = entry
        if not entry.get("done"):  # it ended early: read on
            run.plan.reads.append(Read(where, entry, final=True, gzipped=True))


def _follow_out_of_glob(run: _Run, old_path: str, entry: Entry) -> None:
    """A file no longer under the glob: read to its end if it moved nearby, else an orphan."""
    moved = find_inode(os.path.dirname(old_path), entry["dev"], entry["ino"])
    if moved is not None and intact(moved, os.stat(moved).st_size, entry):
        run.plan.reads.append(Read(moved, entry, final=True, keep=False))  # out of the glob
    else:
        run.orphans.append((old_path, entry, False))  # gone (deleted, or compressed)


def _best_match(head: bytes, candidates: Iterable[Entry]) -> Entry | None:
    """The entry whose fingerprint this head carries, the longest fingerprint first."""
    found = [e for e in candidates if matches(head, e)]
    return max(found, key=lambda e: int(e["head_len"]), default=None)


def _identify_new(run: _Run) -> None:
    """A file with an unknown inode is a copy of a known one (same first bytes) or new."""
    tracked = run.plan.tracked
    for path, st in run.present.items():
        if path in tracked or is_compressed(path) or st.st_size == 0:
            continue  # an empty file has nothing yet
        tracked[path] = _identify(run, path, st)


def _identify(run: _Run, path: str, st: os.stat_result) -> Entry:
    head = read_head(path)
    orphan = _take_orphan(run, head)
    if orphan is not None:  # the rotated copy of a known file
        return moved_to(orphan, st)
    twin = _best_match(head, list(run.plan.tracked.values()))
    if twin is not None and not twin.get("gzip"):  # a copy of a file still followed
        return {**twin, "dev": st.st_dev, "ino": st.st_ino}
    return new_entry(run.origin(path), st)


def _take_orphan(run: _Run, head: bytes) -> Entry | None:
    """The known file gone from its path whose first bytes `head` carries, no longer an orphan."""
    orphan = _best_match(head, [e for _, e, _ in run.orphans])
    if orphan is not None:
        run.orphans = [o for o in run.orphans if o[1] is not orphan]
    return orphan


def _identify_compressed(run: _Run) -> None:
    """Compressed files in the glob: skipped and said so, or gzip read once by fingerprint."""
    for path, st in run.present.items():
        if not is_compressed(path) or path in run.plan.tracked:
            continue
        if not (run.read_gzip and path.lower().endswith(".gz")):
            run.plan.skipped.append(path)
            continue
        entry = gzip_entry(run, path, st)
        if entry is not None:
            run.plan.tracked[path] = entry
            run.plan.reads.append(Read(path, entry, final=True, gzipped=True))


def gzip_entry(run: _Run, path: str, st: os.stat_result) -> Entry | None:
    """The entry a gzipped file is read under: a known file's (by its decompressed head) or new."""
    try:
        head = read_head(path, gzipped=True)
    except GZIP_ERRORS as exc:
        run.plan.standing.append(f"{path}: not readable as gzip ({exc}); left unread")
        return None
    orphan = _take_orphan(run, head)
    if orphan is not None:  # the file it was compressed from
        return {**orphan, "dev": st.st_dev, "ino": st.st_ino, "gzip": True}
    if _best_match(head, list(run.plan.tracked.values())) is not None:
        return None  # its plain file is still there (being compressed): read that
    return {**new_entry(run.origin(path), st, gzip=True), "head_len": len(head), "head": fingerprint(head)}


def _settle_orphans(run: _Run) -> None:
    """A truncated or gone file: read what it had left from its copy next to it, or say so."""
    taken = set(run.present) | {r.path for r in run.plan.reads}
    for old_path, entry, truncated in run.orphans:
        copy = find_copy(old_path, entry, taken, run.plan.standing)
        if copy is None:
            _say_lost(run, old_path, entry, truncated)
            continue
        path, st, gzipped, unread = copy
        taken.add(path)
        if not unread:
            continue  # read to its end already
        if gzipped and not run.read_gzip:
            run.plan.events.append(
                f"{old_path} is gone; bytes after {entry['offset']} were not read and are only "
                f"in {os.path.basename(path)}: read_gzip: true reads them"
            )
            continue
        run.plan.reads.append(Read(path, moved_to(entry, st), final=True, gzipped=gzipped, keep=False))


def _say_lost(run: _Run, old_path: str, entry: Entry, truncated: bool) -> None:
    """Tell what a truncated or gone file with no copy may have taken with it."""
    if truncated:
        run.plan.events.append(
            f"{old_path} was truncated (or replaced) and no copy of it was found next to "
            f"it: lines written after byte {entry['offset']} before that were not read"
        )
    elif int(entry.get("seen_size", 0)) > int(entry["offset"]):
        run.plan.events.append(
            f"{old_path} is gone with bytes {entry['offset']}-{entry['seen_size']} unread "
            "and no copy of it was found next to it"
        )


def _siblings(old_path: str, taken: set[str]) -> list[str]:
    """Files next to `old_path` that a rotation of it could be named (same stem)."""
    directory, name = os.path.split(old_path)
    stem = name.split(".", 1)[0]
    try:
        with os.scandir(directory or ".") as entries:
            names = sorted(
                e.path for e in entries if e.name.startswith(stem) and e.is_file(follow_symlinks=False)
            )
    except FileNotFoundError:
        return []  # its directory is gone too
    return [p for p in names if p not in taken]


def gzip_size(path: str) -> int:
    """A gzip file's decompressed size modulo 2**32, from its trailer."""
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        return int.from_bytes(fh.read(4), "little")


def find_copy(
    old_path: str, entry: Entry, taken: set[str], problems: list[str]
) -> tuple[str, os.stat_result, bool, bool] | None:
    """A rotated copy of a truncated or gone file next to it (same first bytes): its path,
    stat, whether gzipped and whether it holds more than was read; a candidate that cannot
    be read is named in `problems`."""
    if not entry.get("head_len"):
        return None
    offset = int(entry["offset"])
    for path in _siblings(old_path, taken):
        gzipped = path.lower().endswith(".gz")
        if is_compressed(path) and not gzipped:
            continue
        try:
            found = _copy_of(path, entry, offset, gzipped)
        except GZIP_ERRORS as exc:
            problems.append(f"{path}: cannot be read to tell whether it is a copy of {old_path} ({exc})")
            continue
        if found is not None:
            return found
    return None


def _copy_of(
    path: str, entry: Entry, offset: int, gzipped: bool
) -> tuple[str, os.stat_result, bool, bool] | None:
    """`path` as find_copy describes it when its first bytes are the entry's, else None."""
    st = os.stat(path)
    if not matches(read_head(path, gzipped), entry):
        return None
    unread = (gzip_size(path) != offset % (1 << 32)) if gzipped else st.st_size > offset
    return path, st, gzipped, unread


def find_inode(directory: str, dev: int, ino: int) -> str | None:
    """The file in `directory` with this inode: where a rotated file was renamed to."""
    try:
        with os.scandir(directory or ".") as entries:
            for item in entries:
                if _has_inode(item, dev, ino):
                    return item.path
    except FileNotFoundError:
        return None
    return None


def _has_inode(item: os.DirEntry[str], dev: int, ino: int) -> bool:
    try:
        st = item.stat(follow_symlinks=False)
    except FileNotFoundError:
        return False  # gone meanwhile
    return st.st_ino == ino and st.st_dev == dev and item.is_file(follow_symlinks=False)
