"""copytruncate rotation, with the collector restarted between every step.

With glob `app.log*` the copy `app.log.1` is the file already read: it carries on from its
offset, so nothing is read twice.  With glob `app.log` the truncate is noticed and the copy
is found next to it by its first bytes: what the old offset had not reached is read from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rotation import Rotation


@pytest.mark.parametrize("glob", ["app.log*", "app.log"])
def test_copytruncate_keeps_every_line_once(tmp_path: Path, glob: str) -> None:
    rot = Rotation(tmp_path, glob)
    rot.write(300)
    rot.collect()
    for cycle in range(4):
        rot.write(100)  # between the last read and the copy
        rot.copytruncate(keep=3)
        rot.write(5 if cycle % 2 else 400)  # shorter than the old offset, or longer: both seen
        rot.collect()
    rot.write(10)
    rot.collect()
    rot.assert_each_line_once()
    assert rot.notes() == ""  # nothing to warn about


@pytest.mark.parametrize("glob", ["app.log*", "app.log"])
def test_a_run_between_the_copy_and_the_truncate(tmp_path: Path, glob: str) -> None:
    rot = Rotation(tmp_path, glob)
    rot.write(100)
    rot.collect()
    rot.write(30)
    rot.shift(keep=3)
    rot.log.with_name("app.log.1").write_bytes(rot.log.read_bytes())  # copied, not truncated
    rot.collect()
    rot.log.write_bytes(b"")  # now truncated
    rot.write(7)
    rot.collect()
    rot.collect()
    rot.assert_each_line_once()


def test_a_truncate_with_no_copy_to_read_from_is_said(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log")
    rot.write(100)
    rot.collect()
    rot.write(30)  # never read: the copy goes to another directory
    (tmp_path / "old").mkdir()  # (logrotate's olddir)
    (tmp_path / "old" / "app.log.1").write_bytes(rot.log.read_bytes())
    rot.log.write_bytes(b"")
    rot.write(5)
    rot.collect()
    stored = rot.stored()
    assert len(stored) == len(set(stored)) == 105
    assert "logs/app.log was truncated (or replaced) and no copy of it was found next to it" in rot.notes()
