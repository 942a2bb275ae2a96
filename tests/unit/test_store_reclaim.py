"""Retention gives disk space back: the store file shrinks by about the share deleted, keeps
every row it did not delete, and a crash mid-rewrite leaves a complete store."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from console.store import Store, canonical_labels, ingest_samples
from console.store.reclaim import unfinished_path

NOW = datetime(2026, 3, 11)
DAYS = 10
SERIES = 40


def _days_of_samples(days: int = DAYS, series: int = SERIES) -> pa.Table:
    """`series` counters at 1 minute over `days` days ending at NOW."""
    minutes = days * 1440
    start = np.datetime64(NOW - timedelta(days=days), "us")
    ts = start + np.repeat(np.arange(minutes, dtype="int64"), series) * np.timedelta64(60, "s")
    rng = np.random.default_rng(7)
    value = np.cumsum(rng.integers(0, 50, size=minutes * series)).astype("float64")
    labels = [canonical_labels({"pod": f"p{i}"}) for i in range(series)] * minutes
    return pa.table({"name": ["req_total"] * (minutes * series), "labels": labels, "ts": ts, "value": value})


def _kept(store: Store, since: datetime) -> tuple[int, float, int]:
    rows = store.query(
        "SELECT count(*), sum(value), count(DISTINCT series_id) FROM samples WHERE ts >= ?", [since]
    )[1]
    return rows[0]


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as store:
        ingest_samples(store, _days_of_samples())
        store.con.execute("CHECKPOINT")
    return path


def test_retention_shrinks_the_file_by_about_the_deleted_share(filled: Path, tmp_path: Path) -> None:
    reference = tmp_path / "three_days.duckdb"  # a store that only ever held the kept days
    with Store.open(reference) as store:
        ingest_samples(store, _days_of_samples().slice(SERIES * 1440 * 7))
        store.con.execute("CHECKPOINT")
    cutoff = NOW - timedelta(days=3)
    with Store.open(filled) as store:
        before = filled.stat().st_size
        kept = _kept(store, cutoff)
        removed = store.apply_retention(NOW, {"samples": 3})
        after = filled.stat().st_size
        assert removed["samples"] == SERIES * 1440 * 7
        assert _kept(store, cutoff) == kept  # the same open store reads on
    assert after < before * 0.5, (before, after)  # 7 of 10 days went
    # as small as a store that only ever held the kept days, give or take one 256 KiB block
    assert after <= reference.stat().st_size + 262_144, (after, reference.stat().st_size)
    with Store.open(filled) as store:  # and a fresh open reads every kept sample
        assert _kept(store, cutoff) == kept
        assert store.count("samples") == kept[0]


def test_the_rewritten_store_keeps_ids_sequences_and_writes_on(filled: Path) -> None:
    with Store.open(filled) as store:
        ids_before = store.query("SELECT id, key FROM series ORDER BY id")[1]
        seq_before = store.commit_seq()
        store.apply_retention(NOW, {"samples": 2})
        assert store.query("SELECT id, key FROM series ORDER BY id")[1] == ids_before
        assert store.commit_seq() == seq_before
        fresh = pa.table(
            {
                "name": ["new_total"],
                "labels": [canonical_labels({"pod": "q"})],
                "ts": [NOW],
                "value": [1.0],
            }
        )
        assert ingest_samples(store, fresh) == 1  # the reconnected store takes writes
        new_id = store.query("SELECT id FROM series WHERE name = 'new_total'")[1][0][0]
        assert new_id > max(i for i, _ in ids_before)  # the id sequence went on, no reuse
        assert store.commit_seq() == seq_before + 1
    assert oct(filled.stat().st_mode & 0o777) == "0o600"
    with Store.open_read(filled) as store:
        assert store.count("series") == SERIES + 1


def test_small_deletions_only_checkpoint(filled: Path) -> None:
    with Store.open(filled) as store:
        before = store.count("samples")
        from console.store.compact import reclaim_space

        assert reclaim_space(store)["rewritten"] is False  # nothing free: no rewrite
        assert store.count("samples") == before


_CRASH = """
import os, signal, sys
from datetime import datetime
import console.store.compact as compact
from console.store import Store

point = sys.argv[2]
real_replace = os.replace

def crash_before(*args):
    os.kill(os.getpid(), signal.SIGKILL)

def crash_after(*args):
    real_replace(*args)
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before_rename":
    compact._fsync = lambda path: crash_before() if path.name.endswith(".compacting") else None
else:
    compact.os.replace = crash_after
with Store.open(sys.argv[1]) as store:
    store.apply_retention(datetime(2026, 3, 11), {"samples": 3})
"""


@pytest.mark.parametrize("point", ["before_rename", "after_rename"])
def test_kill_9_mid_rewrite_leaves_a_complete_store(filled: Path, point: str) -> None:
    cutoff = NOW - timedelta(days=3)
    with Store.open_read(filled) as store:
        kept = _kept(store, cutoff)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(filled), point], env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr.decode()
    with Store.open(filled) as store:
        assert _kept(store, cutoff) == kept  # every kept sample, and none of the deleted ones
        assert store.count("samples") == kept[0]
        store.apply_retention(NOW, {"samples": 3})  # a later rewrite clears what a crash left
        assert _kept(store, cutoff) == kept
    assert not unfinished_path(filled).exists()
