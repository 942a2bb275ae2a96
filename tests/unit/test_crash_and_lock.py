"""A killed import loses no committed batch; a held store gets a one-line message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from console.store import Store

LINES = 400_000
BATCH = 20_000


def write_big_prom(path: Path) -> None:
    with open(path, "w") as fh:
        fh.write("# TYPE req counter\n")
        for i in range(LINES):
            fh.write(f'req{{shard="{i % 50}"}} {i} {1_700_000_000_000 + (i // 50) * 15_000}\n')


IMPORT_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import datetime
    from console.store.importer import import_file
    from console.store import Store
    store = Store.open(sys.argv[1])
    def done(report):
        print("committed", report.lines, flush=True)
    import_file(store, sys.argv[2], now=datetime(2026, 1, 1), batch_lines=int(sys.argv[3]),
                on_batch=done)
    print("finished", flush=True)
""")


def test_sigkill_mid_import_then_resume(tmp_path: Path) -> None:
    data, db = tmp_path / "big.prom", tmp_path / "s.duckdb"
    write_big_prom(data)
    proc = subprocess.Popen(
        [sys.executable, "-c", IMPORT_SCRIPT, str(db), str(data), str(BATCH)],
        stdout=subprocess.PIPE,
        text=True,
    )
    committed = []
    while len(committed) < 3:
        line = proc.stdout.readline()
        assert line.startswith("committed"), f"import ended early: {line!r}"
        committed.append(int(line.split()[1]))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Store.open(db) as store:
        cursor = store.get_cursor(f"import:{data.resolve()}")
        done_lines = cursor["line"]
        assert done_lines >= committed[-1] and done_lines < LINES + 1, "killed before the end"
        # every committed batch is there exactly once: one sample per sample line so far
        assert store.count("samples") == done_lines - 1
        dupes = store.query(
            "SELECT count(*) FROM (SELECT series_id, ts FROM samples GROUP BY ALL HAVING count(*) > 1)"
        )[1][0][0]
        assert dupes == 0

    result = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, str(db), str(data), str(BATCH)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip().endswith("finished"), result.stderr
    with Store.open(db) as store:
        assert store.count("samples") == LINES
        assert store.count("series") == 50


HOLD_SCRIPT = textwrap.dedent("""
    import sys, time
    from console.store import Store
    from datetime import datetime
    from console.store.importer import import_file
    store = Store.open(sys.argv[1])
    import_file(store, sys.argv[2], now=datetime(2026, 1, 1))
    print("holding", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def held_workspace(tmp_path: Path):
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    (tmp_path / "m.prom").write_text("up 1 1700000000000\nup 0 1700000060000\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(tmp_path / "s.duckdb"), str(tmp_path / "m.prom")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    yield tmp_path, holder.pid
    holder.kill()
    holder.wait()


def test_second_process_writing_gets_one_line_naming_the_pid(held_workspace, oncall) -> None:
    root, pid = held_workspace
    result = oncall("import", "m.prom", cwd=root)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"is held by PID {pid}" in lines[0]


def test_second_process_reading_opens_a_read_only_snapshot(held_workspace, oncall) -> None:
    root, pid = held_workspace
    result = oncall("query", "SELECT count(*) AS n FROM samples", "--format", "csv", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", "2"]  # what the holder committed is visible
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"oncall: store {(root / 's.duckdb').resolve()} is held by PID {pid}")
    assert line.endswith("reading a read-only snapshot")
