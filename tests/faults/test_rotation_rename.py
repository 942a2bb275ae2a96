"""Rename-and-create rotation, with the collector restarted between every step: each
written line is stored once, whether the glob matches the rotated copies or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rotation import Rotation


@pytest.mark.parametrize("glob", ["app.log", "app.log*"])
def test_rename_and_create_keeps_every_line_once(tmp_path: Path, glob: str) -> None:
    rot = Rotation(tmp_path, glob)
    rot.write(300)
    rot.collect()
    for _ in range(4):
        rot.write(100)  # written after the last read, before the rotation
        rot.rename_create(keep=3)
        rot.write(50)  # the new file
        rot.collect()
        rot.collect()  # nothing new: nothing added
    rot.write(10)
    rot.collect()
    rot.assert_each_line_once()


def test_rotated_copies_in_the_glob_are_followed_not_read_again(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log*")
    rot.write(200)
    rot.collect()
    rot.rename_create()
    rot.write(20)
    assert rot.collect() == 20  # app.log.1 is the file already read, under a new name
    assert rot.cursor_files() == ["app.log", "app.log.1"]
    rot.assert_each_line_once()
