"""Gzipped rotations, with the collector restarted between every step: skipped by default
and said so in the source's notes; with `read_gzip: true` each read once, by the fingerprint
of its decompressed head, carrying on from where its plain file was left."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from console.cli.main import main
from tests.rotation import Rotation


def test_gzipped_rotations_are_skipped_by_default_and_said(tmp_path: Path, capsys, monkeypatch) -> None:
    rot = Rotation(tmp_path, "app.log*")
    rot.write(200)
    rot.collect()
    for _ in range(3):  # compress, delaycompress: app.log.1 plain, then .gz
        rot.write(30)
        rot.rename_create(keep=4, gz_from=2)
        rot.write(10)
        rot.collect()
    rot.assert_each_line_once()  # every line was read while its file was plain
    (tmp_path / "oncall.yaml").write_text(
        "store: store.duckdb\nsources:\n  - {name: app, kind: logfile, path: 'logs/app.log*'}\n"
    )
    monkeypatch.setenv("ONCALL_NOW", "2026-11-26T12:00:00Z")
    assert main(["-w", str(tmp_path), "collect", "--status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)[0]
    assert status["health"] == "healthy"
    assert status["notes"] == (
        "2 compressed file(s) left unread (logs/app.log.2.gz, "
        "logs/app.log.3.gz): read_gzip: true reads .gz files"
    )


def test_history_compressed_before_the_first_run_is_read_once_on_request(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log*", read_gzip=True)
    rot.write(300)
    rot.rename_create(gz_from=1)  # app.log.1.gz, never seen plain
    rot.write(300)
    rot.rename_create(gz_from=1)  # app.log.2.gz, app.log.1.gz
    rot.write(20)
    assert rot.collect() == 620
    assert rot.collect() == 0  # a restarted collector does not read them again
    rot.shift(keep=5)  # renamed: the same files
    assert rot.collect() == 0
    rot.assert_each_line_once()
    assert rot.notes() == ""


@pytest.mark.parametrize("glob", ["app.log*", "app.log"])
def test_the_unread_tail_of_a_file_compressed_away_is_read_from_the_gz(tmp_path: Path, glob: str) -> None:
    rot = Rotation(tmp_path, glob, read_gzip=True)
    rot.write(200)
    rot.collect()
    for cycle in range(3):
        rot.write(50)  # only in the .gz once rotated
        if cycle % 2:
            rot.copytruncate(keep=4, gz_from=1)
        else:
            rot.rename_create(keep=4, gz_from=1)
        rot.write(10)
        rot.collect()
    rot.assert_each_line_once()


def test_without_read_gzip_a_tail_only_in_a_gz_is_said(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log")
    rot.write(200)
    rot.collect()
    rot.write(50)
    rot.rename_create(gz_from=1)
    rot.collect()
    assert len(rot.stored()) == 200
    assert "bytes after" in rot.notes() and "only in app.log.1.gz: read_gzip: true reads them" in rot.notes()


def test_a_broken_gz_is_said_and_the_rest_still_read(tmp_path: Path) -> None:
    rot = Rotation(tmp_path, "app.log*", read_gzip=True)
    rot.write(5)
    (rot.logs / "app.log.3.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with gzip.open(rot.logs / "app.log.4.gz", "wb") as fh:
        fh.write(b"".join(b'{"message": "old %d"}\n' % (i * 7919 % 10007) for i in range(5000)))
    data = (rot.logs / "app.log.4.gz").read_bytes()
    (rot.logs / "app.log.4.gz").write_bytes(data[: len(data) * 3 // 4])  # cut short
    rot.collect()
    notes = rot.notes()
    assert notes.startswith("logs/app.log.3.gz: not readable as gzip")
    assert "logs/app.log.4.gz: gzip data ends early after byte " in notes
    stored = rot.stored()
    assert stored.count("event 4") == 1 and 0 < stored.count("old 0") <= 1
    rot.collect()  # said again while so, not added to
    assert rot.notes() == notes and rot.stored() == stored
