"""Files oncall creates are its user's alone: 0600 files in 0700 directories (docs/files.md).

`restrict_umask()` is the CLI's first act, so whatever creates a file afterwards (DuckDB's
store and WAL, a copy, a log handler) creates it private.  The helpers here do the same for
files created explicitly, whatever the umask, and make private the files of ours an older
oncall left wider, saying so in one line on stderr.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077

_user_umask: int | None = None  # the umask oncall started with, for the commands it runs
_warned_dirs: set[Path] = set()


def restrict_umask() -> None:
    """From now on files are created 0600 and directories 0700."""
    global _user_umask
    previous = os.umask(PRIVATE_UMASK)
    if _user_umask is None:
        _user_umask = previous


def child_umask() -> int:
    """The umask a command oncall runs gets (subprocess's `umask=`): the user's own, not
    oncall's (-1: inherit, when oncall did not change it)."""
    return -1 if _user_umask is None else _user_umask


def say(text: str) -> None:
    from console.core.terminal import escape

    print(f"oncall: {escape(text)}", file=sys.stderr)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """`path` and its missing parents, each created 0700; directories already there are
    left as they are."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(directory, DIR_MODE)
    return path


def write_private(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` to `path` atomically as a new 0600 file (its directory made if missing)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # a .tmp left by a crash may be wider
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def copy_private(
    source: str | os.PathLike[str], target: str | os.PathLike[str], *, fsync: bool = False
) -> Path:
    """Copy the contents of `source` to a new `target`, 0600 whatever `source`'s mode."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
        if fsync:
            dst.flush()
            os.fsync(dst.fileno())
    return Path(target)


def copy_tree_private(source: Path, target: Path) -> None:
    """Copy a directory tree into `target`: files 0600, the directories it makes 0700."""
    private_dir(target)
    for entry in source.iterdir():
        if entry.is_dir():
            copy_tree_private(entry, target / entry.name)
        elif not (target / entry.name).exists():
            copy_private(entry, target / entry.name)


def tighten(paths: Iterable[Path], what: str) -> list[Path]:
    """Make private (0600) each existing regular file of ours among `paths` that others may
    read or write; one note on stderr names them.  Another user's file is left alone."""
    widened: list[str] = []
    changed: list[Path] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or not mode & 0o077:
            continue
        try:
            os.chmod(path, FILE_MODE)
        except OSError as exc:
            say(
                f"warning: {what} {path} has mode {mode:04o} (others may read it) and cannot be "
                f"made private: {exc.strerror}; `chmod 600 {path}`"
            )
            continue
        widened.append(f"{path.name} (was {mode:04o})")
        changed.append(path)
    if widened:
        say(
            f"note: made {what} files private (0600), others could read them: "
            f"{', '.join(widened)} in {changed[0].parent}"
        )
    return changed


def warn_if_shared_dir(directory: Path, what: str) -> None:
    """One warning line (once per directory) when others may replace or remove the files in
    `directory`: it is writable by group or others, or belongs to another user."""
    directory = Path(directory)
    if directory in _warned_dirs:
        return
    try:
        st = os.stat(directory)
    except OSError:
        return  # not there yet: it is created private
    mode = stat.S_IMODE(st.st_mode)
    writable = mode & (0o002 if _own_private_group(st) else 0o022)
    if writable:
        who = {0o020: "group", 0o002: "others"}.get(writable, "group and others")
        why = f"is writable by {who} (mode {mode:04o})"
    elif st.st_uid not in (os.getuid(), 0):
        why = f"belongs to uid {st.st_uid}, not you"
    else:
        return
    _warned_dirs.add(directory)
    say(
        f"warning: the directory {directory} of the {what} {why}: another user can replace or "
        "remove its files; keep it in a directory only you can write"
    )


def _own_private_group(st: os.stat_result) -> bool:
    """Whether the directory's group is its owner's private group (same name, nobody else in
    it), as with a umask of 002 on Debian: group write then lets no one else in."""
    try:
        group, owner = grp.getgrgid(st.st_gid), pwd.getpwuid(st.st_uid)
    except KeyError:
        return False
    return group.gr_name == owner.pw_name and set(group.gr_mem) <= {owner.pw_name}
