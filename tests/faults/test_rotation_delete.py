"""Deleted files, with the collector restarted between every step: a gone file's state is
dropped once what it had was read, and a new file in its place (even on its inode) is read
from its first line."""

from __future__ import annotations

from pathlib import Path

from tests.rotation import Rotation


def test_the_oldest_rotation_deleted_is_forgotten(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log*")
    rot.write(100)
    rot.collect()
    for _ in range(4):
        rot.write(40)
        rot.copytruncate(keep=2)  # app.log.2 is deleted at the next rotation
        rot.write(10)
        rot.collect()
    rot.assert_each_line_once()
    assert rot.cursor_files() == ["app.log", "app.log.1", "app.log.2"]


def test_a_file_deleted_and_created_again_is_read_from_its_start(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log")
    rot.write(100)
    rot.collect()
    for _ in range(3):
        rot.log.unlink()  # its inode is free to be given to the next file
        rot.written.clear()
        rot.write(150)
        rot.collect()
        # Only the lines of the file that exists now, each once: its last run's.
        assert sorted(rot.stored()[-150:]) == sorted(rot.written)
    assert rot.cursor_files() == ["app.log"]


def test_a_rotated_file_deleted_before_its_last_line_was_finished_is_said(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log*")
    rot.write(20)
    with open(rot.log, "a") as fh:
        fh.write('{"message": "cut off')  # the writer died mid-line
    rot.collect()
    rot.rename_create(keep=1)  # app.log.1 deleted at the next rotation
    rot.collect()
    rot.rename_create(keep=1)
    rot.write(3)
    rot.collect()
    rot.assert_each_line_once()
    assert "app.log.1 is gone with bytes 2090-2110 unread" in rot.notes()
