"""The logfile collector: formats, appends, rotation, truncation, partial and giant lines."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors.logfile import LogfileCollector, LogfileOptions
from console.store import Store

NOW = datetime(2026, 11, 26, 12, 0)


def record(i: int, **extra: object) -> str:
    return (
        json.dumps(
            {
                "ts": f"2026-11-26T10:00:{i % 60:02d}Z",
                "level": "INFO",
                "service": "api",
                "message": f"event {i}",
                "n": i,
                **extra,
            }
        )
        + "\n"
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "store.duckdb") as opened:
        yield opened


def collector(tmp_path: Path, **options: object) -> LogfileCollector:
    opts = LogfileOptions(**{"path": "logs/*.log", **options})
    return LogfileCollector("app", opts, base_dir=str(tmp_path))


def messages(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT message FROM logs ORDER BY origin, line_offset")[1]]


def test_json_lines_are_parsed_into_fields(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1, model="m1") + '{"ts": 1795687200.5, "level": "warn", "msg": "x"}\n')
    assert collector(tmp_path).collect(store, NOW).rows == 2
    rows = store.query(
        "SELECT ts, service, level, message, attributes, parse_error FROM logs ORDER BY line_offset"
    )[1]
    assert rows[0] == (
        datetime(2026, 11, 26, 10, 0, 1),
        "api",
        "info",
        "event 1",
        '{"n":1,"model":"m1"}',
        None,
    )
    # Epoch seconds are understood; unknown fields stay in attributes.
    assert rows[1][0] == datetime(2026, 11, 26, 10, 0, 0, 500000)
    assert json.loads(rows[1][4]) == {"msg": "x"}


def test_unparsable_lines_are_kept_raw_with_the_reason(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1) + "panic: not json at all\n" + '{"ts": "yesterday"}\n' + "[1, 2]\n")
    collector(tmp_path).collect(store, NOW)
    rows = store.query("SELECT raw, parse_error, ts FROM logs ORDER BY line_offset")[1]
    assert [r[1] for r in rows] == [
        None,
        "not valid JSON",
        "timestamp yesterday not understood",
        "JSON but not an object",
    ]
    assert rows[1][0] == "panic: not json at all"
    assert rows[1][2] == NOW  # no usable time: stamped with the collection time


def test_appends_are_followed_and_a_partial_line_waits(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1) + record(2)[:20])
    c = collector(tmp_path)
    assert c.collect(store, NOW).rows == 1
    with open(log, "a") as fh:
        fh.write(record(2)[20:] + record(3))
    assert c.collect(store, NOW).rows == 2
    assert messages(store) == ["event 1", "event 2", "event 3"]


def test_restart_resumes_at_the_saved_offset_without_duplicates(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("".join(record(i) for i in range(5)))
    path = tmp_path / "store.duckdb"
    with Store.open(path) as store:
        collector(tmp_path).collect(store, NOW)
    with open(log, "a") as fh:
        fh.write(record(5))
    with Store.open(path) as store:  # a new process: a fresh collector
        assert collector(tmp_path).collect(store, NOW).rows == 1
        assert collector(tmp_path).collect(store, NOW).rows == 0
        assert messages(store) == [f"event {i}" for i in range(6)]
        assert store.query("SELECT rows_ingested FROM collector_state")[1] == [(6,)]


def test_rotation_by_rename_reads_the_old_tail_and_the_new_file(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1))
    c = collector(tmp_path)
    c.collect(store, NOW)
    with open(log, "a") as fh:  # written just before the rename
        fh.write(record(2))
    os.rename(log, tmp_path / "logs" / "app.log.1")  # outside the glob
    log.write_text(record(3))
    assert c.collect(store, NOW).rows == 2
    assert sorted(messages(store)) == ["event 1", "event 2", "event 3"]
    with open(log, "a") as fh:
        fh.write(record(4))
    assert c.collect(store, NOW).rows == 1


def test_rotated_file_still_matching_the_glob_is_not_read_twice(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1))
    c = collector(tmp_path, path="logs/app*.log")
    c.collect(store, NOW)
    os.rename(log, tmp_path / "logs" / "app-old.log")
    log.write_text(record(2))
    assert c.collect(store, NOW).rows == 1
    assert sorted(messages(store)) == ["event 1", "event 2"]


def test_truncation_starts_over_without_losing_what_was_stored(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1) + record(2))
    c = collector(tmp_path)
    c.collect(store, NOW)
    log.write_text(record(3))  # copytruncate: same inode, shorter
    assert c.collect(store, NOW).rows == 1
    # Truncated and then grown past the old offset: the changed head gives it away.
    log.write_text(record(4) + record(5) + record(6))
    assert c.collect(store, NOW).rows == 3
    assert messages(store) == ["event 1", "event 2", "event 3", "event 4", "event 5", "event 6"]


def test_a_10_mb_line_is_truncated_and_flagged(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    giant = json.dumps({"message": "x" * (10 << 20)})
    log.write_text(record(1) + giant + "\n" + record(2))
    c = collector(tmp_path, chunk_bytes=1 << 20)  # the line is longer than a read chunk
    assert c.collect(store, NOW).rows == 3
    rows = store.query("SELECT message, length(raw), parse_error FROM logs ORDER BY line_offset")[1]
    assert rows[0][0] == "event 1" and rows[2][0] == "event 2"
    assert rows[1][1] == 64 << 10
    assert rows[1][2] == f"line of {len(giant)} bytes truncated to {64 << 10}"


def test_a_long_line_inside_a_chunk_is_truncated_too(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("y" * 5000 + "\n" + record(1))
    collector(tmp_path, max_line_bytes=1000).collect(store, NOW)
    rows = store.query("SELECT length(raw), parse_error FROM logs ORDER BY line_offset")[1]
    assert rows[0] == (1000, "line of 5000 bytes truncated to 1000")
    assert rows[1][1] is None


def test_logfmt_with_quoted_values(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(
        'ts=2026-11-26T10:00:00Z level=error msg="upstream timeout" service=api latency_ms=120\n\n   \n'
    )
    collector(tmp_path, format="logfmt", message_field="msg").collect(store, NOW)
    rows = store.query("SELECT ts, level, message, service, attributes, parse_error FROM logs")[1]
    assert rows[0][:4] == (datetime(2026, 11, 26, 10), "error", "upstream timeout", "api")
    assert json.loads(rows[0][4]) == {"latency_ms": "120"}
    assert rows[1][5] == "no key=value pairs (not logfmt)"  # a line of blanks, kept raw


def test_regex_with_named_groups(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("2026-11-26 10:00:00 ERROR [api] boom\nsomething else\n")
    pattern = r"^(?P<ts>\S+ \S+) (?P<level>\w+) \[(?P<service>[^\]]+)\] (?P<message>.*)$"
    collector(tmp_path, format="regex", pattern=pattern).collect(store, NOW)
    rows = store.query("SELECT ts, level, service, message, raw, parse_error FROM logs ORDER BY line_offset")[
        1
    ]
    assert rows[0][:4] == (datetime(2026, 11, 26, 10), "error", "api", "boom")
    assert rows[1][4:] == ("something else", "does not match the pattern")


def test_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="named groups"):
        LogfileOptions(path="x", format="regex", pattern="[a-z]+")
    with pytest.raises(ValidationError, match="needs a pattern"):
        LogfileOptions(path="x", format="regex")
    with pytest.raises(ValidationError, match="Extra inputs"):
        LogfileOptions(path="x", follow=True)


def test_invalid_utf8_is_replaced_not_dropped(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_bytes(record(1).encode() + b'{"message": "caf\xe9"}\n' + record(2).encode())
    assert collector(tmp_path).collect(store, NOW).rows == 3
    assert messages(store) == ["event 1", "caf\ufffd", "event 2"]


def test_a_rotated_file_gives_up_its_unfinished_last_line(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text(record(1) + record(2).rstrip("\n"))
    c = collector(tmp_path)
    assert c.collect(store, NOW).rows == 1  # the unfinished line waits
    os.rename(log, tmp_path / "logs" / "app.log.1")  # the writer moved on: it is final
    log.write_text(record(3))
    assert c.collect(store, NOW).rows == 2
    assert sorted(messages(store)) == ["event 1", "event 2", "event 3"]


def test_a_gzipped_20_mb_line_is_truncated_and_flagged_like_a_plain_one(tmp_path: Path, store: Store) -> None:
    import gzip

    (tmp_path / "logs").mkdir()
    giant = json.dumps({"message": "x" * (20 << 20)})
    with gzip.open(tmp_path / "logs" / "app.log.1.gz", "wt") as fh:
        fh.write(record(1) + giant + "\n" + record(2) + record(3).rstrip("\n"))
    c = collector(tmp_path, path="logs/app.log*", read_gzip=True, chunk_bytes=1 << 20)
    assert c.collect(store, NOW).rows == 4  # a finished rotation: its last line too
    rows = store.query("SELECT message, length(raw), parse_error FROM logs ORDER BY line_offset")[1]
    assert [r[0] for r in rows] == ["event 1", None, "event 2", "event 3"]
    assert rows[1][2] == f"line of {len(giant)} bytes truncated to {64 << 10}"
    assert c.collect(store, NOW).rows == 0


def test_a_cursor_from_before_1_kib_fingerprints_reads_on(tmp_path: Path, store: Store) -> None:
    import hashlib

    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("".join(record(i) for i in range(5)))
    size = log.stat().st_size
    st = log.stat()
    head = hashlib.sha256(log.read_bytes()[:64]).hexdigest()[:16]  # as it was stored
    with store.transaction() as cur:
        store.set_cursor(
            cur,
            "app",
            {
                "next_gen": 1,
                "files": {
                    str(log): {
                        "origin": f"{log}#0",
                        "dev": st.st_dev,
                        "ino": st.st_ino,
                        "offset": size,
                        "head_len": 64,
                        "head": head,
                    }
                },
            },
            0,
            NOW,
        )
    with open(log, "a") as fh:
        fh.write(record(5))
    assert collector(tmp_path).collect(store, NOW).rows == 1
    entry = store.get_cursor("app")["files"][str(log)]
    assert entry["head_len"] == log.stat().st_size and entry["origin"] == f"{log}#0"
