"""The store: migrations, idempotent bulk ingest with cursors, retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from console.store import Store, StoreError, canonical_labels, ingest_logs, ingest_samples
from console.store.schema import SCHEMA_VERSION

TABLES = {
    "series",
    "samples",
    "logs",
    "changes",
    "alerts",
    "alert_history",
    "silences",
    "incidents",
    "timeline",
    "audit",
    "playbook_runs",
    "collector_state",
}


def samples(n: int, start: datetime, series: int = 3) -> pa.Table:
    return pa.table(
        {
            "name": ["req_total"] * (n * series),
            "labels": [canonical_labels({"i": i % series}) for i in range(n * series)],
            "ts": [start + timedelta(minutes=i // series) for i in range(n * series)],
            "value": [float(i) for i in range(n * series)],
        }
    )


def test_migrating_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()  # an empty DuckDB file, no tables
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        names = {r[0] for r in store.query("SELECT table_name FROM information_schema.tables")[1]}
        assert names >= TABLES
    with Store.open(path) as store:  # reopening applies nothing twice
        assert store.migrate() == 0
        assert store.query("SELECT count(*) FROM schema_version")[1][0][0] == SCHEMA_VERSION


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, now()::TIMESTAMP)")
    con.close()
    with pytest.raises(StoreError, match="newer than this oncall"):
        Store.open(path)


def test_ingest_is_idempotent_and_interns_series(tmp_path: Path, now: datetime) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        batch = samples(100, now)
        assert ingest_samples(store, batch) == 300
        assert ingest_samples(store, batch) == 0
        assert ingest_samples(store, batch.to_pandas()) == 0
        assert store.count("samples") == 300
        assert store.count("series") == 3
        # overlapping batch: only the new minutes are added
        assert ingest_samples(store, samples(150, now)) == 150
        assert store.count("samples") == 450


def test_label_order_does_not_make_a_new_series() -> None:
    assert canonical_labels({"b": "2", "a": "1"}) == canonical_labels({"a": "1", "b": "2"})


def test_batch_and_cursor_commit_together(tmp_path: Path, now: datetime) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(store, samples(10, now), cursor=("prom", {"until": "t1"}), now=now)
        assert store.get_cursor("prom") == {"until": "t1"}
        bad = samples(10, now + timedelta(hours=1)).set_column(3, "value", pa.array(["not a number"] * 30))
        with pytest.raises(Exception):  # noqa: B017 - any failure; the point is that both roll back
            ingest_samples(store, bad, cursor=("prom", {"until": "t2"}), now=now)
        assert store.get_cursor("prom") == {"until": "t1"}
        assert store.count("samples") == 30
        rows = store.query("SELECT rows_ingested, healthy FROM collector_state WHERE name='prom'")
        assert rows[1] == [(30, True)]


def test_logs_dedupe_on_origin_and_offset(tmp_path: Path, now: datetime) -> None:
    logs = pa.table(
        {
            "ts": [now, now],
            "source": ["f", "f"],
            "service": ["api", "api"],
            "level": ["info", "info"],
            "message": ["same", "same"],
            "attributes": ["{}", "{}"],
            "raw": ["x", "x"],
            "parse_error": [None, None],
            "origin": ["/a.log", "/a.log"],
            "line_offset": [0, 10],
        }
    )
    with Store.open(tmp_path / "s.duckdb") as store:
        assert ingest_logs(store, logs) == 2  # identical lines at two offsets are two lines
        assert ingest_logs(store, logs) == 0
        assert store.count("logs") == 2


def test_retention_drops_old_rows_per_kind(tmp_path: Path, now: datetime) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_samples(store, samples(60 * 24 * 3, now - timedelta(days=3), series=1))
        removed = store.apply_retention(now, {"samples": 1})
        assert removed["samples"] == 60 * 24 * 2
        oldest = store.query("SELECT min(ts) FROM samples")[1][0][0]
        assert oldest >= now - timedelta(days=1)
        with pytest.raises(StoreError, match="unknown retention kind"):
            store.apply_retention(now, {"metrics": 1})
