"""`oncall import` of exposition text in bulk: the same samples and refusals as line by line,
chunks cut at whole lines, closed days stored compacted, repeats never stored twice."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from console.store import Store
from console.store.import_lines import ImportFailed
from console.store.import_text import Chunk, FastParser, text_chunks
from console.store.importer import import_file

NOW = datetime(2023, 11, 16, 12)  # 1700136000: the samples below are of the two days before
TRICKY = """\
# TYPE t gauge
t{a="1"} 1e3 1700000000.0000005
t{a="1"} -0 1700000000.5
t{a="1"} +Inf 1700000001
t{a="1"} NaN 1700000002
t{a="1"} .5 1700000003.25
t{a="1"} -Inf 1700000004.0000015
t{b="x\\"y",a="2"} 9007199254740993 1700000005
t 7 1700000006
"""


def stored(store: Store) -> list[tuple]:
    rows = store.query("""
        SELECT s.name, s.labels, epoch_us(x.ts), x.value FROM samples x
        JOIN series s ON s.id = x.series_id ORDER BY 1, 2, 3""")[1]
    return [(n, labels, ts, repr(v)) for n, labels, ts, v in rows]  # repr: NaN equals NaN, -0.0 is not 0.0


def imported(tmp_path: Path, name: str, text: str, **kwargs) -> tuple[list[tuple], object]:
    path = tmp_path / f"{name}.om"
    path.write_text(text + "# EOF\n")
    with Store.open(tmp_path / f"{name}.duckdb") as store:
        report = import_file(store, path, now=NOW, **kwargs)
        return stored(store), report


def test_bulk_and_line_by_line_store_the_same_numbers(tmp_path: Path) -> None:
    bulk, report = imported(tmp_path, "bulk", TRICKY)
    # one line the bulk reader does not take sends the chunk line by line (DuckDB's casts)
    by_line, by_line_report = imported(tmp_path, "lines", TRICKY + "t{a='1'} 1 1700000009\n")
    assert report.skipped == 0 and by_line_report.skipped == 1
    assert by_line_report.skips == [(10, "malformed labels near \"a='1'\"")]
    assert bulk == by_line
    assert len(bulk) == 8
    assert ("t", '{"a":"1"}', 1700000000000001, "1000.0") in bulk  # .0000005 s rounds away from zero
    assert ("t", '{"a":"1"}', 1700000000500000, "-0.0") in bulk
    assert ("t", '{"a":"2","b":"x\\"y"}', 1700000005000000, "9007199254740992.0") in bulk


def test_a_bad_line_is_named_by_its_line_whatever_the_chunk(tmp_path: Path) -> None:
    lines = ["# TYPE c counter"] + [f'c{{i="{i % 3}"}} {i} {1700000000 + i}' for i in range(20)]
    lines[13] = 'c{i="1"} many 1700000099'
    for batch in (4, 7, 1000):
        samples, report = imported(tmp_path, f"b{batch}", "\n".join(lines) + "\n", batch_lines=batch)
        assert (report.added, report.skipped, report.lines) == (19, 1, 22)
        assert report.skips == [(14, "value is not a number: many")]
        assert len(samples) == 19


def test_closed_days_are_stored_as_compaction_stores_them(tmp_path: Path) -> None:
    midnight = NOW.replace(hour=0)  # the day before it is closed
    today = int((midnight - datetime(1970, 1, 1)).total_seconds())
    text = "".join(
        f'g{{k="{k}"}} {v} {today + d}\n' for k in range(3) for d, v in ((-7200, 5), (-60, 1.5), (60, 2))
    )
    path = tmp_path / "m.om"
    path.write_text(text + "# EOF\n")
    with Store.open(tmp_path / "s.duckdb") as store:
        assert import_file(store, path, now=NOW).added == 9
        rows = store.query(
            "SELECT ts < ? AS closed, value, ivalue FROM sample_rows ORDER BY rowid", [midnight]
        )[1]
        values = store.query("SELECT value FROM samples ORDER BY ts, series_id")[1]
    # a closed day's integral value is a BIGINT (bit-packed); the rest of today as it came
    assert sorted(rows, key=repr) == sorted(
        [(True, None, 5)] * 3 + [(True, 1.5, None)] * 3 + [(False, 2.0, None)] * 3, key=repr
    )
    assert [r[0] for r in rows] == [True] * 6 + [False] * 3  # closed days first, sorted for compression
    assert [v for (v,) in values] == [5.0] * 3 + [1.5] * 3 + [2.0] * 3


def test_repeats_are_stored_once_and_counted_as_added_once(tmp_path: Path, oncall) -> None:
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    first = tmp_path / "a.om"
    first.write_text('r{k="1"} 1 1700000000\nr{k="1"} 2 1700000000\nr{k="2"} 3 1700000000\n# EOF\n')
    second = tmp_path / "b.om"  # overlaps the first file, and the times come out of order
    second.write_text('r{k="2"} 3 1700000000\nr{k="3"} 4 1700000060\nr{k="1"} 5 1700000030\n# EOF\n')
    result = oncall("import", "a.om", "b.om", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["added"] for r in json.loads(result.stdout)] == [2, 2]
    result = oncall("import", "a.om", "b.om", "--format", "json", cwd=tmp_path)
    assert [r["added"] for r in json.loads(result.stdout)] == [0, 0]
    with Store.open(tmp_path / "s.duckdb") as store:
        assert stored(store) == [
            ("r", '{"k":"1"}', 1700000000000000, "1.0"),  # the first of two in one batch
            ("r", '{"k":"1"}', 1700000030000000, "5.0"),
            ("r", '{"k":"2"}', 1700000000000000, "3.0"),
            ("r", '{"k":"3"}', 1700000060000000, "4.0"),
        ]


def test_chunks_are_whole_lines_and_resume_after_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    body = "".join(f"x {i} {i}\r\n" if i % 2 else f"x {i} {i}\n" for i in range(1, 11)) + "x 11 11"
    path.write_bytes(body.encode())
    chunks = list(text_chunks(path, 0, 4))
    assert [(c.first, c.last) for c in chunks] == [(1, 4), (5, 8), (9, 11)]
    assert b"".join(c.data for c in chunks) == body.encode()
    assert [(c.first, c.last) for c in text_chunks(path, 6, 4)] == [(7, 10), (11, 11)]
    assert list(text_chunks(path, 11, 4)) == []
    parsed = FastParser(seconds=False).parse(chunks[0])
    assert parsed is not None and parsed.values.tolist() == [1.0, 2.0, 3.0, 4.0]  # CRLF taken in bulk
    assert FastParser(seconds=False).parse(Chunk(1, 1, b"x 1 1\rx 2 2\n")) is None  # a lone CR: line by line


def test_text_that_is_not_utf8_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    path.write_bytes(b'x 1 1700000000000\nx 2 1700000060000\nx{a="\xff"} 3 1700000120000\n')
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportFailed, match=r"m\.prom:3: cannot read as text lines \(not UTF-8\)"):
            import_file(store, path, now=NOW, batch_lines=2)
        assert store.count("samples") == 2  # what was committed before stays


def test_comment_lines_of_three_words_are_comments(tmp_path: Path) -> None:
    samples, report = imported(tmp_path, "c", "# TYPE x\n# HELP x\nx 1 1700000000\n")
    assert (report.added, report.skipped) == (1, 0)
    assert not math.isnan(float(samples[0][3]))


def test_label_blocks_in_other_orders_are_one_series(tmp_path: Path) -> None:
    samples, report = imported(
        tmp_path,
        "o",
        'o{a="1",b="2"} 1 1700000000\no{b="2",a="1"} 2 1700000060\no{b="2",a="1"} 3 1700000000\n',
    )
    assert (report.added, report.skipped) == (2, 0)
    assert samples == [
        ("o", '{"a":"1","b":"2"}', 1700000000000000, "1.0"),
        ("o", '{"a":"1","b":"2"}', 1700000060000000, "2.0"),
    ]
