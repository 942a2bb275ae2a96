"""Damaged store files: a lost WAL is noticed, kept aside, reported and read again by import."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_oncall

BASE_LINES = 20_000  # imported by `oncall import` and checkpointed when it exits
MORE_LINES = 100_000  # imported by a process killed -9 afterwards: only in the WAL
BATCH = 20_000

# Imports a file in batches, then waits to be killed -9 (so its WAL is never checkpointed).
KILLED_IMPORT = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from console.store.importer import import_file
    from console.store import Store
    store = Store.open(sys.argv[1])
    import_file(store, sys.argv[2], now=datetime(2026, 11, 20, 12), batch_lines=int(sys.argv[3]))
    print("imported", flush=True)
    time.sleep(600)
""")


def write_prom(path: Path, lines: int, metric: str) -> None:
    with open(path, "w") as fh:
        fh.write(f"# TYPE {metric} counter\n")
        for i in range(lines):
            fh.write(f'{metric}{{shard="{i % 20}"}} {i} {1_700_000_000_000 + (i // 20) * 15_000}\n')


def files(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime: what a read command must leave as it was."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir()) if p.is_file()
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace whose store holds `base.prom` (checkpointed) and, in its WAL only, `more.prom`."""
    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    write_prom(tmp_path / "base.prom", BASE_LINES, "base_total")
    write_prom(tmp_path / "more.prom", MORE_LINES, "more_total")
    done = run_oncall("import", "base.prom", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_IMPORT,
            str(tmp_path / "s.duckdb"),
            str(tmp_path / "more.prom"),
            str(BATCH),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout.readline().strip() == "imported"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "s.duckdb.wal").stat().st_size > 100_000, "the import should be in the WAL"
    return tmp_path


def count(ws: Path, sql: str = "SELECT count(*) FROM samples") -> int:
    result = run_oncall("query", sql, "--format", "json", cwd=ws)
    assert result.returncode == 0, result.stderr
    return next(iter(json.loads(result.stdout)[0].values()))


def reimport_restores_everything(ws: Path) -> None:
    again = run_oncall("import", "base.prom", "more.prom", cwd=ws)
    assert again.returncode == 0, again.stderr
    assert count(ws) == BASE_LINES + MORE_LINES
    assert (
        count(ws, "SELECT count(*) FROM (SELECT series_id, ts FROM samples GROUP BY ALL HAVING count(*) > 1)")
        == 0
    )
    check = run_oncall("check", cwd=ws)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "read again since" in check.stdout


def kept_wal(ws: Path) -> Path:
    kept = sorted(ws.glob("s.wal.damaged-*"))
    assert len(kept) == 1, sorted(p.name for p in ws.iterdir())
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    return kept[0]


def test_a_healthy_wal_after_kill_9_is_no_loss(workspace: Path) -> None:
    assert count(workspace) == BASE_LINES + MORE_LINES
    check = run_oncall("check", cwd=workspace)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "integrity   ok" in check.stdout
    assert stat.S_IMODE((workspace / "s.journal").stat().st_mode) == 0o600


def test_garbage_wal_is_reported_kept_and_read_again(workspace: Path) -> None:
    wal = workspace / "s.duckdb.wal"
    garbage = os.urandom(wal.stat().st_size)
    wal.write_bytes(garbage)
    before = files(workspace)

    query = run_oncall("query", "SELECT count(*) AS n FROM samples", "--format", "json", cwd=workspace)
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) == [{"n": BASE_LINES}]
    assert f"6 batches, {MORE_LINES} rows lost" in query.stderr  # 100,001 lines, 20,000 a batch
    assert "more.prom" in query.stderr
    check = run_oncall("check", "--format", "json", cwd=workspace)
    assert check.returncode == 1
    integrity = json.loads(check.stdout)["integrity"]
    assert integrity["status"] == "lost" and integrity["findings"][0]["rows"] == MORE_LINES
    assert files(workspace) == before, "a read command changed a file"

    imported = run_oncall("import", "more.prom", cwd=workspace)
    assert imported.returncode == 0, imported.stderr
    assert "wal damaged" in imported.stderr and f"{MORE_LINES} rows lost" in imported.stderr
    assert kept_wal(workspace).read_bytes() == garbage
    assert count(workspace) == BASE_LINES + MORE_LINES
    reimport_restores_everything(workspace)


def test_wal_truncated_at_half_loses_only_its_tail(workspace: Path) -> None:
    wal = workspace / "s.duckdb.wal"
    os.truncate(wal, wal.stat().st_size // 2)
    before = files(workspace)
    check = run_oncall("check", cwd=workspace)
    assert check.returncode == 1, check.stdout
    assert "rows lost" in check.stdout and "not read again yet: " in check.stdout
    kept_rows = count(workspace)
    assert BASE_LINES < kept_rows < BASE_LINES + MORE_LINES  # DuckDB replays whole commits
    assert files(workspace) == before, "a read command changed a file"

    imported = run_oncall("import", "more.prom", cwd=workspace)
    assert imported.returncode == 0, imported.stderr
    lost = BASE_LINES + MORE_LINES - kept_rows
    assert f"{lost} rows lost" in imported.stderr
    kept_wal(workspace)
    reimport_restores_everything(workspace)


def test_orphaned_wal_is_never_replaced_by_a_read(workspace: Path) -> None:
    (workspace / "s.duckdb").unlink()
    before = files(workspace)
    query = run_oncall("query", "SELECT count(*) FROM samples", cwd=workspace)
    assert query.returncode == 2
    assert len(query.stderr.strip().splitlines()) == 1, query.stderr
    assert "does not exist" in query.stderr and "s.duckdb.wal" in query.stderr
    check = run_oncall("check", cwd=workspace)
    assert check.returncode == 1 and "does not exist" in check.stdout
    assert files(workspace) == before, "a read command changed a file"

    imported = run_oncall("import", "base.prom", "more.prom", cwd=workspace)
    assert imported.returncode == 0, imported.stderr
    assert "orphaned wal" in imported.stderr
    assert kept_wal(workspace).read_bytes() == before["s.duckdb.wal"][0]
    reimport_restores_everything(workspace)


def test_a_read_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text("store: data/s.duckdb\n")
    for command in (["query", "SELECT 1"], ["slo"], ["alerts"]):
        result = run_oncall(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "does not exist" in result.stderr and "oncall import" in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["oncall.yaml"], command


def test_an_older_schema_is_read_from_a_private_copy(tmp_path: Path) -> None:
    import duckdb

    from console.store.schema import MIGRATIONS

    (tmp_path / "oncall.yaml").write_text("store: s.duckdb\n")
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for version, sql in enumerate(MIGRATIONS[:-1], start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
    con.execute("INSERT INTO changes (ts, kind) VALUES ('2026-11-20 11:00', 'deploy')")
    con.close()
    before = files(tmp_path)
    assert count(tmp_path, "SELECT count(*) FROM changes") == 1
    check = run_oncall("check", "--format", "json", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["integrity"]["status"] == "ok"
    assert files(tmp_path) == before, "a read migrated the store file"


def test_the_journal_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    import pyarrow as pa

    from console.store import Store, ingest_samples, journal

    monkeypatch.setattr(journal, "KEEP", 5)
    with Store.open(tmp_path / "s.duckdb") as store:
        for i in range(23):
            ingest_samples(
                store,
                pa.table(
                    {
                        "name": ["m"],
                        "labels": ["{}"],
                        "value": [1.0],
                        "ts": pa.array([datetime(2026, 11, 20, 12, i)], pa.timestamp("us")),
                    }
                ),
                cursor=("c", {"i": i}),
                now=datetime(2026, 11, 20, 12, i),
            )
    lines = (tmp_path / "s.journal").read_text().splitlines()
    assert 5 <= len(lines) <= 10
    assert json.loads(lines[-1])["cursors"] == {"c": {"i": 22}}
    assert stat.S_IMODE((tmp_path / "s.journal").stat().st_mode) == 0o600
